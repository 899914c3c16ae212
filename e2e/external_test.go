package e2e

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/cmd/orgscope/app"
	"github.com/orgscope/orgscope/internal/tokentest"
)

// freeAddr reserves a loopback port for a server that must know its URL
// before it starts (the provider mints tokens for it).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// externalSetup is OrgScope in external-issuer mode in front of a real
// oidc-provider.
type externalSetup struct {
	s   *testServer
	idp *externalIdP
}

func startExternal(t *testing.T, o idpOptions, edit func(*auth.Issuer), cfg func(*app.Config)) externalSetup {
	t.Helper()
	addr := freeAddr(t)
	o.Resource = "http://" + addr + "/mcp"
	idp := startIdP(t, o)
	is := auth.Issuer{URL: idp.Issuer, AllowGlobal: true, RequireATJWT: !o.Opaque, ClockSkewSeconds: -1}
	if edit != nil {
		edit(&is)
	}
	s := startServer(t, serverOptions{addr: addr, config: func(c *app.Config) {
		c.Issuers = []auth.Issuer{is}
		if cfg != nil {
			cfg(c)
		}
	}})
	return externalSetup{s: s, idp: idp}
}

// idpToken gets a client_credentials token from the provider for the
// OrgScope resource.
func (e externalSetup) token(t *testing.T, id, secret, scope string) string {
	t.Helper()
	tok, status, body := e.idp.Token(t, id, secret, url.Values{"resource": {e.s.Resource}, "scope": {scope}})
	if status != http.StatusOK || tok == "" {
		t.Fatalf("provider token for %s: %d %v", id, status, body)
	}
	return tok
}

// challenge returns the status and the parsed Bearer challenge of a call.
func challenge(t *testing.T, s *testServer, token, tool string, args any) (int, map[string]string) {
	t.Helper()
	resp, _ := s.callTool(t, token, tool, args)
	cs, err := oauthex.ParseWWWAuthenticate(resp.Header.Values("WWW-Authenticate"))
	if err != nil || len(cs) == 0 {
		return resp.StatusCode, nil
	}
	return resp.StatusCode, cs[0].Params
}

func TestExternalIssuer(t *testing.T) {
	e := startExternal(t, idpOptions{}, nil, nil)
	s := e.s

	t.Run("discovery points at the external issuer", func(t *testing.T) {
		prm := getJSON[oauthex.ProtectedResourceMetadata](t, s.URL+"/.well-known/oauth-protected-resource/mcp")
		if len(prm.AuthorizationServers) != 1 || prm.AuthorizationServers[0] != e.idp.Issuer || prm.Resource != s.Resource {
			t.Errorf("PRM %+v", prm)
		}
		for _, path := range []string{"/.well-known/oauth-authorization-server", "/oauth2/token"} {
			resp, err := http.Get(s.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s served in external mode: %d", path, resp.StatusCode)
			}
		}
	})

	t.Run("the provider's token maps to the same principal", func(t *testing.T) {
		who := s.tool(t, e.token(t, idpAcmeID, idpAcmeSecret, "read:users write:flags"), "whoami", nil)
		var p map[string]any
		remarshal(t, who.Result.StructuredContent, &p)
		if p["org_code"] != "org_acme" || p["client_id"] != idpAcmeID || p["issuer"] != e.idp.Issuer ||
			fmt.Sprint(p["scopes"]) != "[read:users write:flags]" || p["global"] != false {
			t.Errorf("whoami %v", p)
		}
		list := s.tool(t, e.token(t, idpAcmeID, idpAcmeSecret, "read:users"), "list_users", nil)
		if list.Result.IsError || !strings.Contains(list.text(), "@acme.example") || strings.Contains(list.text(), "@beta.example") {
			t.Errorf("list_users %s", list.text())
		}
		global := s.tool(t, e.token(t, idpGlobalID, idpGlobalSecret, "read:orgs"), "whoami", nil)
		if !strings.Contains(global.text(), `"global":true`) {
			t.Errorf("global token: %s", global.text())
		}
	})

	t.Run("refusals", func(t *testing.T) {
		otherAud, status, body := e.idp.Token(t, idpAcmeID, idpAcmeSecret, url.Values{"resource": {idpOtherResource}, "scope": {"read:users"}})
		if status != 200 {
			t.Fatalf("token for the other resource: %d %v", status, body)
		}
		other := startIdP(t, idpOptions{Resource: s.Resource})
		foreign, _, _ := other.Token(t, idpAcmeID, idpAcmeSecret, url.Values{"resource": {s.Resource}, "scope": {"read:users"}})
		short := e.idp.opts.ShortTTL
		if short == 0 {
			short = 2 * time.Second
		}
		expired := e.token(t, idpShortID, idpShortSecret, "read:users")
		time.Sleep(short + time.Second)

		for _, tc := range []struct {
			name, token, reason string
		}{
			{"wrong audience", otherAud, "audience"},
			{"another issuer", foreign, "issuer"},
			{"expired", expired, "expired"},
		} {
			status, ch := challenge(t, s, tc.token, "whoami", nil)
			if status != 401 || ch["error"] != "invalid_token" || !strings.Contains(ch["error_description"], tc.reason) {
				t.Errorf("%s: %d %v", tc.name, status, ch)
			}
		}
		status, ch := challenge(t, s, e.token(t, idpAcmeID, idpAcmeSecret, "read:users"), "create_user", map[string]any{"email": "x@acme.example"})
		if status != 403 || ch["error"] != "insufficient_scope" || !sameScopes(ch["scope"], []string{"read:users", "write:users"}) {
			t.Errorf("scope missing: %d %v", status, ch)
		}
	})

	t.Run("a burst of unknown kids costs a bounded number of JWKS fetches", func(t *testing.T) {
		// Warm: one good call so the keys are fetched.
		s.tool(t, e.token(t, idpBetaID, idpBetaSecret, "read:users"), "whoami", nil)
		before := e.idp.JWKSFetches(t)
		forger := tokentest.NewIssuer(t, e.idp.Issuer)
		for i := range 50 {
			forger.KID = fmt.Sprintf("random-kid-%d", i)
			tok := forger.Sign(t, forger.Claims(s.Resource, "org_acme", "read:users"))
			if status, _ := challenge(t, s, tok, "whoami", nil); status != 401 {
				t.Fatalf("forged token %d: status %d", i, status)
			}
		}
		if fetches := e.idp.JWKSFetches(t) - before; fetches > 1 {
			t.Errorf("50 unknown kids caused %d JWKS fetches, want at most 1 (cooldown)", fetches)
		}
	})
}

// TestExternalIssuerTenantRequired: without allow_global, a token that
// names no organization is refused.
func TestExternalIssuerTenantRequired(t *testing.T) {
	e := startExternal(t, idpOptions{}, func(is *auth.Issuer) { is.AllowGlobal = false }, nil)
	status, ch := challenge(t, e.s, e.token(t, idpGlobalID, idpGlobalSecret, "read:orgs"), "whoami", nil)
	if status != 401 || !strings.Contains(ch["error_description"], "names no organization") {
		t.Errorf("%d %v", status, ch)
	}
	if status, _ := challenge(t, e.s, e.token(t, idpAcmeID, idpAcmeSecret, "read:users"), "whoami", nil); status != 200 {
		t.Errorf("org-scoped token: %d", status)
	}
}

// TestExternalKeyRotationAndOutage: a key added upstream is picked up, a
// key removed upstream stops verifying after the refresh interval, and
// while the provider is down the cached keys keep working.
func TestExternalKeyRotationAndOutage(t *testing.T) {
	oldKeys := newRSAKeySet(t, "key-old")
	e := startExternal(t, idpOptions{Keys: oldKeys}, nil, func(c *app.Config) {
		c.JWKSRefresh = 2 * time.Second
		c.JWKSCooldown = 500 * time.Millisecond
	})
	s := e.s
	oldToken := e.token(t, idpAcmeID, idpAcmeSecret, "read:users")
	if status, _ := challenge(t, s, oldToken, "whoami", nil); status != 200 {
		t.Fatalf("first token: %d", status)
	}

	// Rotation: publish [new, old], sign with new.
	both := &jose.JSONWebKeySet{Keys: append(newRSAKeySet(t, "key-new").Keys, oldKeys.Keys...)}
	e.idp.Restart(t, both)
	newToken := e.token(t, idpAcmeID, idpAcmeSecret, "read:users")
	if kidOf(t, newToken) != "key-new" {
		t.Fatalf("the provider did not rotate: kid %s", kidOf(t, newToken))
	}
	time.Sleep(600 * time.Millisecond) // past the cooldown of the first fetch
	if status, _ := challenge(t, s, newToken, "whoami", nil); status != 200 {
		t.Errorf("token signed with the new key: %d", status)
	}

	// Outage: tokens minted now but never seen verify from cached keys.
	unseen := e.token(t, idpBetaID, idpBetaSecret, "read:users")
	e.idp.Stop(t)
	if status, _ := challenge(t, s, unseen, "whoami", nil); status != 200 {
		t.Errorf("with the provider down, a token of a cached key: %d", status)
	}
	time.Sleep(2500 * time.Millisecond) // keys are stale now and cannot be refreshed
	if status, _ := challenge(t, s, e.token0(t, unseen), "whoami", nil); status != 200 {
		t.Errorf("with the provider down and stale keys, cached keys must keep serving: %d", status)
	}

	// Removal: publish [new] only; after the refresh interval the old key
	// no longer verifies. (A token of the old key never used before, so
	// the verified-token cache does not answer for it.)
	oldUnseen := signedLike(t, oldKeys, oldToken)
	e.idp.Restart(t, &jose.JSONWebKeySet{Keys: both.Keys[:1]})
	time.Sleep(2500 * time.Millisecond)
	if status, _ := challenge(t, s, oldUnseen, "whoami", nil); status != 401 {
		t.Errorf("a token of the removed key: %d, want 401", status)
	}
}

// token0 returns the token unchanged; it names the step where the same,
// already-verified token is presented again.
func (e externalSetup) token0(t *testing.T, tok string) string { return tok }

// TestExternalIssuerDown: with no key ever fetched and the provider
// unreachable, a token cannot be judged: 503 with Retry-After, not 401.
func TestExternalIssuerDown(t *testing.T) {
	dead := "http://" + freeAddr(t) // nothing listens there
	s := startServer(t, serverOptions{config: func(c *app.Config) {
		c.Issuers = []auth.Issuer{{URL: dead, AllowGlobal: true}}
	}})
	forger := tokentest.NewIssuer(t, dead)
	resp, body := s.callTool(t, forger.Sign(t, forger.Claims(s.Resource, "org_acme", "read:users")), "whoami", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("%d %v %s", resp.StatusCode, resp.Header, body)
	}
}

// TestExternalOpaqueTokens: an issuer configured for introspection; a live
// token is accepted, a revoked one refused.
func TestExternalOpaqueTokens(t *testing.T) {
	e := startExternal(t, idpOptions{Opaque: true}, func(is *auth.Issuer) {
		is.Introspection = &auth.IntrospectionConfig{ClientID: idpIntrospectorID, ClientSecret: idpIntrospectorSecret, MaxCache: "1s"}
	}, nil)
	s := e.s
	live := e.token(t, idpAcmeID, idpAcmeSecret, "read:users")
	if strings.Count(live, ".") == 2 {
		t.Fatalf("the provider issued a JWT in opaque mode")
	}
	who := s.tool(t, live, "whoami", nil)
	if !strings.Contains(who.text(), `"org_code":"org_acme"`) {
		t.Fatalf("whoami with an opaque token: %s", who.text())
	}

	revoked := e.token(t, idpAcmeID, idpAcmeSecret, "read:users")
	e.idp.Revoke(t, revoked)
	if status, ch := challenge(t, s, revoked, "whoami", nil); status != 401 || !strings.Contains(ch["error_description"], "not active") {
		t.Errorf("revoked opaque token: %d %v", status, ch)
	}

	// Revoking a token already seen takes effect within max_cache.
	e.idp.Revoke(t, live)
	time.Sleep(1100 * time.Millisecond)
	if status, _ := challenge(t, s, live, "whoami", nil); status != 401 {
		t.Errorf("a revoked token was still accepted after max_cache: %d", status)
	}
	if status, _ := challenge(t, s, "not-a-token-at-all", "whoami", nil); status != 401 {
		t.Errorf("garbage opaque token: %d", status)
	}
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header.KeyID
}

// signedLike re-signs the claims of token (with a fresh jti) with the
// first private key of keys, so the test holds a token of that key that
// the server has never seen.
func signedLike(t *testing.T, keys *jose.JSONWebKeySet, token string) string {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &claims)
	claims["jti"] = "resigned-" + fmt.Sprint(time.Now().UnixNano())
	k := keys.Keys[0]
	iss := &tokentest.Issuer{Key: k.Key.(*rsa.PrivateKey), KID: k.KeyID}
	return iss.Sign(t, claims)
}
