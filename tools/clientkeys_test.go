package tools_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/service"
)

// publicJWKS is a JWKS of one fresh Ed25519 public key with kid, and the
// same key with its private part.
func publicJWKS(t *testing.T, kid string) (public, private map[string]any) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	toMap := func(k jose.JSONWebKey) map[string]any {
		b, _ := json.Marshal(k)
		var m map[string]any
		json.Unmarshal(b, &m)
		return m
	}
	key := jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: "EdDSA", Use: "sig"}
	return map[string]any{"keys": []any{toMap(key.Public())}}, map[string]any{"keys": []any{toMap(key)}}
}

// TestCreateKeyClientTool: create_client with public keys makes a client
// without a secret that authenticates with assertions; keys with private
// parts, symmetric keys, both forms at once or a plain-http URL are
// refused through the same validation as the command line's, recorded, and
// change nothing; rotate_client_secret refuses such a client.
func TestCreateKeyClientTool(t *testing.T) {
	e := newEnv(t)
	p := orgP(acme, auth.ScopeWriteClients, auth.ScopeReadUsers)
	jwks, withPrivate := publicJWKS(t, "agent-key-1")

	out := ok[service.CreateClientOutput](e, p, "create_client", map[string]any{"name": "signer", "scopes": []string{"read:users"}, "jwks": jwks})
	c := out.Client
	if out.ClientSecret != "" || c.AuthMethod != "private_key_jwt" || c.SecretCount != 0 || !slices.Equal(c.KeyIDs, []string{"agent-key-1"}) || c.JWKSURI != "" {
		t.Errorf("created %+v with secret %q", c, out.ClientSecret)
	}
	stored := e.stored(c.ClientID)
	if len(stored.Secrets) != 0 || len(stored.JWKS) == 0 || stored.TokenEndpointAuthMethod != "private_key_jwt" {
		t.Errorf("stored %+v", stored)
	}
	e.lastEvent(acme, p, "create_client", c.ClientID)

	byURI := ok[service.CreateClientOutput](e, p, "create_client", map[string]any{"name": "fetcher", "scopes": []string{"read:users"},
		"jwks_uri": "https://agent.example/.well-known/jwks.json"})
	if byURI.ClientSecret != "" || byURI.Client.JWKSURI != "https://agent.example/.well-known/jwks.json" || byURI.Client.KeyIDs != nil {
		t.Errorf("created %+v", byURI)
	}

	before := e.dump()
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"name": "x", "scopes": []string{"read:users"}, "jwks": withPrivate}, "holds private key material"},
		{map[string]any{"name": "x", "scopes": []string{"read:users"}, "jwks": map[string]any{"keys": []any{map[string]any{"kty": "oct", "k": "c2VjcmV0"}}}}, "symmetric"},
		{map[string]any{"name": "x", "scopes": []string{"read:users"}, "jwks": map[string]any{"keys": []any{}}}, "holds no key"},
		{map[string]any{"name": "x", "scopes": []string{"read:users"}, "jwks": jwks, "jwks_uri": "https://agent.example/jwks"}, "not both"},
		{map[string]any{"name": "x", "scopes": []string{"read:users"}, "jwks_uri": "http://agent.example/jwks"}, "must be an https URL"},
	} {
		e.fails(p, "create_client", tc.args, tc.want)
	}
	e.unchanged(before, "refused key clients")
	if ev := e.events(acme)[0]; ev.Decision != "deny" || ev.Reason != "validation" {
		t.Errorf("newest event %+v, want the last refusal", ev)
	}

	e.fails(p, "rotate_client_secret", map[string]any{"client_id": c.ClientID}, "has no secret to rotate")
	e.unchanged(before, "a refused rotation")
	if ev := e.events(acme)[0]; ev.Decision != "deny" || ev.Action != "tools/call:rotate_client_secret" {
		t.Errorf("newest event %+v, want the rotation refused", ev)
	}

	// The operator changes the keys: from a set to a URI and back; a
	// client with a secret gets none.
	op := service.Caller{Principal: service.Operator("ops"), Via: service.ViaCLI, Command: "clients update"}
	uri := "https://agent.example/keys"
	info, err := e.svc.UpdateClient(t.Context(), op, service.UpdateClientInput{ClientID: c.ClientID, JWKSURI: &uri})
	if err != nil || info.JWKSURI != uri || info.KeyIDs != nil {
		t.Fatalf("update to a URI: %+v %v", info, err)
	}
	next, _ := publicJWKS(t, "agent-key-2")
	raw, _ := json.Marshal(next)
	info, err = e.svc.UpdateClient(t.Context(), op, service.UpdateClientInput{ClientID: c.ClientID, JWKS: raw})
	if err != nil || info.JWKSURI != "" || !slices.Equal(info.KeyIDs, []string{"agent-key-2"}) {
		t.Fatalf("update to a set: %+v %v", info, err)
	}
	secretClient, _ := e.addClient(acme, "read:users")
	before = e.dump()
	if _, err := e.svc.UpdateClient(t.Context(), op, service.UpdateClientInput{ClientID: secretClient.ID, JWKS: raw}); err == nil ||
		!strings.Contains(err.Error(), "authenticates with a secret") {
		t.Errorf("keys for a client with a secret: %v", err)
	}
	e.unchanged(before, "keys refused for a client with a secret")
}
