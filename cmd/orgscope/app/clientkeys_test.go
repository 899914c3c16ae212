package app

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TestKeyClientCommands: a key made as openssl makes it (PKCS #8 PEM)
// gives the JWKS to register; the client created with it has no secret,
// list and show give its auth method and keys, rotate-secret refuses it,
// update changes its keys; the assertion the helper signs verifies with
// the registered key. Bad key sets are refused and create nothing.
func TestKeyClientCommands(t *testing.T) {
	c := newClientsCLI(t)
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	keyFile := filepath.Join(dir, "client.pem")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)

	code, jwks, errOut := run(t, nil, "clients", "assertion", "--key", keyFile, "--jwks")
	if code != 0 || !strings.Contains(jwks, `"kty":"OKP"`) || strings.Contains(jwks, `"d"`) {
		t.Fatalf("clients assertion --jwks: exit %d %s %s", code, jwks, errOut)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(jwks), &set); err != nil || len(set.Keys) != 1 || set.Keys[0].Algorithm != "EdDSA" {
		t.Fatalf("printed JWKS %s: %v", jwks, err)
	}
	kid := set.Keys[0].KeyID
	jwksFile := filepath.Join(dir, "keys.json")
	os.WriteFile(jwksFile, []byte(jwks), 0o600)

	created := jsonOf(t, c.ok("clients", "create", "--name", "Signer", "--org", "org_acme", "--scopes", "read:users", "--jwks-file", jwksFile, "--json"))
	id, _ := created["client_id"].(string)
	if id == "" || created["token_endpoint_auth_method"] != "private_key_jwt" || created["client_secret"] != nil {
		t.Fatalf("clients create --jwks-file --json: %v", created)
	}
	shown := jsonOf(t, c.ok("clients", "show", id, "--json"))
	checkClientJSON(t, "clients show --json", shown)
	if shown["secret_count"] != float64(0) || shown["key_ids"].([]any)[0] != kid {
		t.Errorf("clients show --json: %v", shown)
	}
	if text := c.ok("clients", "show", id); !strings.Contains(text, "private_key_jwt, keys (kid "+kid+")") {
		t.Errorf("clients show:\n%s", text)
	}
	if text := c.ok("clients", "list"); !strings.Contains(text, "AUTH") || !strings.Contains(text, "private_key_jwt") {
		t.Errorf("clients list:\n%s", text)
	}
	c.fails(1, "has no secret to rotate", "clients", "rotate-secret", id)

	// The helper's assertion: signed with the key, for this client and
	// issuer, verified by the key as registered.
	code, assertion, errOut := run(t, nil, "clients", "assertion", "--key", keyFile, "--client-id", id, "--audience", "https://mcp.example.com/")
	if code != 0 {
		t.Fatalf("clients assertion: exit %d %s", code, errOut)
	}
	tok, err := jwt.ParseSigned(strings.TrimSpace(assertion), []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.Claims
	if err := tok.Claims(set.Keys[0].Key, &claims); err != nil {
		t.Fatalf("the registered key does not verify the assertion: %v", err)
	}
	if claims.Issuer != id || claims.Subject != id || len(claims.Audience) != 1 || claims.Audience[0] != "https://mcp.example.com" ||
		claims.ID == "" || tok.Headers[0].KeyID != kid {
		t.Errorf("assertion claims %+v, header %+v", claims, tok.Headers[0])
	}

	updated := jsonOf(t, c.ok("clients", "update", id, "--jwks-uri", "https://agent.example/jwks.json", "--json"))
	if updated["jwks_uri"] != "https://agent.example/jwks.json" || updated["key_ids"] != nil {
		t.Errorf("clients update --jwks-uri: %v", updated)
	}

	// Refusals: nothing is created.
	before := c.ok("clients", "list", "--json")
	withPrivate := filepath.Join(dir, "private.json")
	privJWK, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: priv, KeyID: "p"}}})
	os.WriteFile(withPrivate, privJWK, 0o600)
	c.fails(1, "private key material", "clients", "create", "--name", "x", "--org", "org_acme", "--scopes", "read:users", "--jwks-file", withPrivate)
	c.fails(2, "not both", "clients", "create", "--name", "x", "--org", "org_acme", "--scopes", "read:users", "--jwks-file", jwksFile,
		"--jwks-uri", "https://agent.example/jwks.json")
	c.fails(1, "https", "clients", "create", "--name", "x", "--org", "org_acme", "--scopes", "read:users", "--jwks-uri", "http://agent.example/jwks.json")
	c.fails(1, "no such file", "clients", "create", "--name", "x", "--org", "org_acme", "--scopes", "read:users", "--jwks-file", filepath.Join(dir, "missing.json"))
	secretID, _ := c.create("--name", "With secret", "--org", "org_acme", "--scopes", "read:users")
	c.fails(1, "authenticates with a secret", "clients", "update", secretID, "--jwks-file", jwksFile)
	if after := c.ok("clients", "list", "--json"); len(after) <= len(before) || strings.Count(after, `"client_id"`) != strings.Count(before, `"client_id"`)+1 {
		t.Errorf("refused commands changed the clients:\nbefore %s\nafter %s", before, after)
	}

	code, _, errOut = run(t, nil, "clients", "assertion", "--key", keyFile)
	if code != 2 || !strings.Contains(errOut, "--client-id") {
		t.Errorf("clients assertion without a client: exit %d %s", code, errOut)
	}
	code, _, errOut = run(t, nil, "clients", "assertion", "--key", jwksFile, "--jwks")
	if code != 1 || !strings.Contains(errOut, "not a PEM private key") {
		t.Errorf("clients assertion with a public JWKS as key: exit %d %s", code, errOut)
	}
}
