package e2e

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/cmd/orgscope/app"
	"github.com/orgscope/orgscope/internal/tokentest"
	"github.com/orgscope/orgscope/store"
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

// TestExternalDelegatedToken: the external provider's tokens that carry
// act (RFC 8693) — an agent acting for the token's subject, a sub-agent
// acting through that agent, an agent that may_act allows — are delegated
// principals, as the embedded issuer's exchanged tokens are: whoami tells
// the actor chain, the current actor first, and a write is audited with it
// and the purpose. They are decided on the token's scopes alone, since only
// the embedded issuer's grants and clients bound a delegation at each call
// (README, Delegation): the agents here are no clients of OrgScope's. An act
// that is not an object or nests deeper than auth.MaxActors, or a may_act
// that does not allow the actor, is refused with 401 invalid_token, logged
// and counted as a refused token, and changes nothing.
func TestExternalDelegatedToken(t *testing.T) {
	logs := &syncBuffer{}
	e := startExternal(t, idpOptions{}, nil, func(c *app.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	s := e.s
	st := s.openStore(t)
	events := func(t *testing.T, f store.AuditFilter) []store.AuditEvent {
		t.Helper()
		evs, _, err := st.ListAuditEvents(t.Context(), "org_acme", f, store.Page{Limit: store.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	// written checks that create_user as token succeeds and is audited
	// with subject, client, actor chain and purpose.
	written := func(t *testing.T, token, email, subject string, chain []string, purpose string) {
		t.Helper()
		if r := s.tool(t, token, "create_user", map[string]any{"email": email}); r.Result.IsError {
			t.Fatalf("create_user: %s", r.text())
		}
		evs := events(t, store.AuditFilter{Action: "tools/call:create_user", ClientID: subject})
		if len(evs) == 0 {
			t.Fatalf("no audit event of %s's create_user", subject)
		}
		if ev := evs[0]; ev.Subject != subject || !slices.Equal(ev.ActorChain, chain) || ev.Purpose != purpose ||
			ev.Decision != "allow" || ev.Outcome != "ok" {
			t.Errorf("the write's audit event: %+v; want subject %s, actor chain %v, purpose %q", ev, subject, chain, purpose)
		}
	}
	actJSON := func(claims map[string]any) string {
		b, _ := json.Marshal(claims["act"])
		return string(b)
	}
	agentAct := `{"client_id":"` + idpAgent + `","sub":"` + idpAgent + `"}`

	t.Run("an agent acting for the subject", func(t *testing.T) {
		token := e.token(t, idpDelegatedID, idpDelegatedSecret, "read:users write:users")
		if _, c := decodeJWT(t, token); c["sub"] != idpDelegatedID || actJSON(c) != agentAct || c["purpose"] != idpDelegatedPurpose {
			t.Fatalf("the provider's token carries no delegation: %v", c)
		}
		var who whoami
		structured(t, s.tool(t, token, "whoami", nil), &who)
		if who.Issuer != e.idp.Issuer || who.Subject != idpDelegatedID || who.ClientID != idpDelegatedID || who.OrgCode != "org_acme" ||
			!slices.Equal(who.ActorChain, []string{idpAgent}) || who.Purpose != idpDelegatedPurpose || who.EffectiveScopes != nil ||
			who.Delegation == nil || who.Delegation.PersonID != idpDelegatedID || len(who.Delegation.Actors) != 1 ||
			who.Delegation.Actors[0].ClientID != idpAgent ||
			who.Delegation.Summary != fmt.Sprintf("agent %s acting for %s, purpose %q", idpAgent, idpDelegatedID, idpDelegatedPurpose) {
			t.Errorf("whoami: %+v %+v", who, who.Delegation)
		}
		written(t, token, "external.hire@acme.example", idpDelegatedID, []string{idpAgent}, idpDelegatedPurpose)
	})

	t.Run("a sub-agent acting through the agent", func(t *testing.T) {
		token := e.token(t, idpChainedID, idpChainedSecret, "read:users write:users")
		want := `{"act":` + agentAct + `,"client_id":"` + idpSubAgent + `","sub":"` + idpSubAgent + `"}`
		if _, c := decodeJWT(t, token); actJSON(c) != want {
			t.Fatalf("the provider's act %s, want %s", actJSON(c), want)
		}
		var who whoami
		structured(t, s.tool(t, token, "whoami", nil), &who)
		chain := []string{idpSubAgent, idpAgent}
		if who.Subject != idpChainedID || !slices.Equal(who.ActorChain, chain) || who.Delegation == nil ||
			who.Delegation.Summary != fmt.Sprintf("agent %s acting for %s, through agent %s", idpSubAgent, idpChainedID, idpAgent) {
			t.Errorf("whoami: %+v %+v", who, who.Delegation)
		}
		written(t, token, "external.chained@acme.example", idpChainedID, chain, "")
	})

	t.Run("an agent that may_act allows", func(t *testing.T) {
		token := e.token(t, idpMayActID, idpMayActSecret, "read:users")
		if _, c := decodeJWT(t, token); actJSON(c) != agentAct || fmt.Sprint(c["may_act"]) != "map[client_id:"+idpAgent+"]" {
			t.Fatalf("the provider's token: %v", c)
		}
		var who whoami
		structured(t, s.tool(t, token, "whoami", nil), &who)
		if who.Subject != idpMayActID || !slices.Equal(who.ActorChain, []string{idpAgent}) {
			t.Errorf("whoami: %+v", who)
		}
	})

	t.Run("decided on the token's scopes", func(t *testing.T) {
		token := e.token(t, idpDelegatedID, idpDelegatedSecret, "read:users")
		list := s.tool(t, token, "list_users", nil)
		if list.Result.IsError || !strings.Contains(list.text(), "@acme.example") || strings.Contains(list.text(), "@beta.example") {
			t.Errorf("list_users: %s", list.text())
		}
		status, ch := challenge(t, s, token, "create_user", map[string]any{"email": "not.hired@acme.example"})
		if status != http.StatusForbidden || ch["error"] != "insufficient_scope" || !sameScopes(ch["scope"], []string{"read:users", "write:users"}) {
			t.Errorf("create_user without write:users: %d %v", status, ch)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		refusedBefore := invalidTokenRefusals(t, s)
		depth := func(act any) int {
			n := 0
			for m, ok := act.(map[string]any); ok; m, ok = m["act"].(map[string]any) {
				n++
			}
			return n
		}
		for _, tc := range []struct {
			name, id, secret string
			carries          func(claims map[string]any) bool // what the provider's token is about
			reason           string                           // in error_description and the log
		}{
			{"may_act names another actor", idpMayNotActID, idpMayNotActSecret,
				func(c map[string]any) bool {
					return actJSON(c) == agentAct && fmt.Sprint(c["may_act"]) == "map[client_id:other-agent]"
				},
				"its may_act claim allows"},
			{"act is not an object", idpBadActID, idpBadActSecret,
				func(c map[string]any) bool { return c["act"] == idpAgent }, "act claim is not valid"},
			{"act nests too deep", idpDeepActID, idpDeepActSecret,
				func(c map[string]any) bool { return depth(c["act"]) == auth.MaxActors+1 }, "act claim is not valid"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				token := e.token(t, tc.id, tc.secret, "read:users write:users")
				if _, c := decodeJWT(t, token); !tc.carries(c) {
					t.Fatalf("the provider's token does not carry the case: %v", c)
				}
				before, audited := snapshot(t, st), len(events(t, store.AuditFilter{}))
				logged := strings.Count(logs.String(), tc.reason)
				resp, body := s.callTool(t, token, "create_user", map[string]any{"email": tc.id + "@acme.example"})
				cs, err := oauthex.ParseWWWAuthenticate(resp.Header.Values("WWW-Authenticate"))
				if err != nil || len(cs) != 1 {
					t.Fatalf("HTTP %d, WWW-Authenticate %q: %v", resp.StatusCode, resp.Header.Values("WWW-Authenticate"), err)
				}
				ch := cs[0].Params
				if resp.StatusCode != http.StatusUnauthorized || ch["error"] != "invalid_token" ||
					!strings.Contains(ch["error_description"], tc.reason) ||
					ch["resource_metadata"] != s.URL+"/.well-known/oauth-protected-resource/mcp" {
					t.Errorf("HTTP %d %v: %s; want 401 invalid_token about %q", resp.StatusCode, ch, body, tc.reason)
				}
				if strings.Contains(ch["error_description"], "agent") || strings.Contains(string(body), token) {
					t.Errorf("the refusal repeats the token: %q %s", ch["error_description"], body)
				}
				if snapshot(t, st) != before || len(events(t, store.AuditFilter{})) != audited {
					t.Error("the refused call changed the database or was audited as a call")
				}
				if !slices.ContainsFunc(strings.Split(logs.String(), "\n"), func(l string) bool {
					return strings.Contains(l, `msg="token refused"`) && strings.Contains(l, tc.reason)
				}) || strings.Count(logs.String(), tc.reason) != logged+1 {
					t.Errorf("the refusal is not logged once as a refused token:\n%s", logs.String())
				}
			})
		}
		if got := invalidTokenRefusals(t, s) - refusedBefore; got != 3 {
			t.Errorf("orgscope_refusals_total{reason=\"invalid_token\"} rose by %v, want 3", got)
		}
	})
}

// TestExternalDelegatedOpaqueToken: act and may_act read from the
// provider's introspection answer are read as from a JWT.
func TestExternalDelegatedOpaqueToken(t *testing.T) {
	e := startExternal(t, idpOptions{Opaque: true}, func(is *auth.Issuer) {
		is.Introspection = &auth.IntrospectionConfig{ClientID: idpIntrospectorID, ClientSecret: idpIntrospectorSecret}
	}, nil)
	s := e.s
	chained := e.token(t, idpChainedID, idpChainedSecret, "read:users")
	if strings.Count(chained, ".") == 2 {
		t.Fatal("the provider issued a JWT in opaque mode")
	}
	var who whoami
	structured(t, s.tool(t, chained, "whoami", nil), &who)
	if who.Subject != idpChainedID || !slices.Equal(who.ActorChain, []string{idpSubAgent, idpAgent}) {
		t.Errorf("whoami of an opaque delegated token: %+v", who)
	}
	status, ch := challenge(t, s, e.token(t, idpMayNotActID, idpMayNotActSecret, "read:users"), "whoami", nil)
	if status != http.StatusUnauthorized || ch["error"] != "invalid_token" || !strings.Contains(ch["error_description"], "may_act") {
		t.Errorf("an opaque token whose may_act does not allow its actor: %d %v", status, ch)
	}
}

// invalidTokenRefusals reads orgscope_refusals_total{reason="invalid_token"}
// from the server's /metrics.
func invalidTokenRefusals(t *testing.T, s *testServer) float64 {
	t.Helper()
	return sumOf(scrapeMetrics(t, s)["orgscope_refusals_total"], map[string]string{"reason": "invalid_token"})
}
