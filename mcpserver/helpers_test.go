package mcpserver_test

import (
	"context"
	"crypto"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/internal/tokentest"
	"github.com/orgscope/orgscope/mcpserver"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/sqlite"
)

const publicURL = "http://127.0.0.1:8080"

// fixture is an assembled server over a real SQLite store, with a test
// issuer whose tokens its verifier accepts.
type fixture struct {
	handler http.Handler
	issuer  *tokentest.Issuer
	store   store.Store
}

type fixtureOptions struct {
	verifier func(jwt auth.Verifier) auth.Verifier // wraps the JWT verifier; nil: as shipped (cached)
	options  func(*mcpserver.Options)
	// authorizer is the service's decision point; nil: the service's
	// default (authz.Rules).
	authorizer authz.Authorizer
}

func newFixture(tb testing.TB, fo fixtureOptions) *fixture {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "mcp.db"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	for _, code := range []string{"org_acme", "org_beta"} {
		if _, err := st.CreateOrg(ctx, store.Org{Code: code, Name: code}); err != nil {
			tb.Fatal(err)
		}
	}
	iss := tokentest.NewIssuer(tb, publicURL)
	jwt, err := auth.NewJWTVerifier(auth.JWTOptions{
		Issuer: publicURL, Audience: mcpserver.Resource(publicURL),
		KeySet: &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{iss.PublicKey()}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	var v auth.Verifier = auth.NewCachingVerifier(jwt, nil)
	if fo.verifier != nil {
		v = fo.verifier(jwt)
	}
	svc := service.New(service.Options{Store: st, Authorizer: fo.authorizer})
	tb.Cleanup(svc.Close)
	opts := mcpserver.Options{
		PublicURL: publicURL, Service: svc, Store: st, Verifier: v, AuthorizationServers: []string{publicURL},
	}
	if fo.options != nil {
		fo.options(&opts)
	}
	h, err := mcpserver.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return &fixture{handler: h, issuer: iss, store: st}
}

// token signs a valid token for org (empty: global) with scopes.
func (f *fixture) token(tb testing.TB, org, scopes string) string {
	return f.issuer.Sign(tb, f.issuer.Claims(mcpserver.Resource(publicURL), org, scopes))
}

// post sends a JSON-RPC body to /mcp in process.
func (f *fixture) post(token, body string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, publicURL+"/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

// trusting is a verifier that does no cryptography: it hands out one
// principal. It stands for "no authentication" in benchmarks.
type trusting struct{ p *auth.Principal }

func (t trusting) Verify(context.Context, string) (*auth.Principal, error) { return t.p, nil }

func storeFilter() store.UserFilter { return store.UserFilter{} }
func storePage() store.Page         { return store.Page{Limit: 100} }
