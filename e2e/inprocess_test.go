package e2e

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/internal/tokentest"
	"github.com/orgscope/orgscope/mcpserver"
	"github.com/orgscope/orgscope/policy"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/sqlite"
)

// inprocURL is the public URL of the in-process server; no socket listens
// on it.
const inprocURL = "http://127.0.0.1:8080"

// inproc is the assembled mcpserver handler over a real SQLite store, called
// in process (httptest, no sockets), with a test issuer whose tokens the
// server's verifier accepts. It is the fixture of mcpserver's own tests,
// copied: the property and matrix tests make thousands of calls, which a
// server behind a socket would only slow down.
type inproc struct {
	handler http.Handler
	issuer  *tokentest.Issuer
	store   store.Store
	dbPath  string // the SQLite file, when the store is SQLite
}

// newInproc opens a store in a temporary directory (or at dbPath, when
// given) and assembles the server as app.Run does — JWT verification with
// the verified-token cache — but without rate limits (Options.RateLimits
// nil): these tests call far faster than one agent is allowed to.
func newInproc(tb testing.TB, dbPath string) *inproc {
	tb.Helper()
	if dbPath == "" {
		dbPath = filepath.Join(tb.TempDir(), "inproc.db")
	}
	st, err := sqlite.Open(context.Background(), dbPath, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	f := newInprocOn(tb, st)
	f.dbPath = dbPath
	return f
}

// newInprocOn assembles the server over st, deciding with the built-in
// access policy as app.Run does without --policy.
func newInprocOn(tb testing.TB, st store.Store) *inproc {
	tb.Helper()
	engine, err := policy.New(policy.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return newInprocWith(tb, st, engine)
}

// newInprocWith assembles the server over st with the decision point az.
func newInprocWith(tb testing.TB, st store.Store, az authz.Authorizer) *inproc {
	tb.Helper()
	iss := tokentest.NewIssuer(tb, inprocURL)
	jwt, err := auth.NewJWTVerifier(auth.JWTOptions{
		Issuer: inprocURL, Audience: mcpserver.Resource(inprocURL),
		KeySet: &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{iss.PublicKey()}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	svc := service.New(service.Options{Store: st, Authorizer: az})
	tb.Cleanup(svc.Close)
	h, err := mcpserver.New(mcpserver.Options{
		PublicURL: inprocURL, Service: svc, Store: st, Verifier: auth.NewCachingVerifier(jwt, nil),
		AuthorizationServers: []string{inprocURL},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return &inproc{handler: h, issuer: iss, store: st}
}

// inprocMetadataURL is the resource_metadata every challenge must name.
const inprocMetadataURL = inprocURL + "/.well-known/oauth-protected-resource/mcp"

// token signs an access token for org (empty: global) with scopes, whose
// sub and client_id are subject.
func (f *inproc) token(tb testing.TB, org, scopes, subject string) string {
	claims := f.issuer.Claims(mcpserver.Resource(inprocURL), org, scopes)
	claims["sub"], claims["client_id"], claims["jti"] = subject, subject, "jti-"+subject
	return f.issuer.Sign(tb, claims)
}

// post sends one JSON-RPC message to /mcp.
func (f *inproc) post(token string, msg any) *httptest.ResponseRecorder {
	body, _ := json.Marshal(msg)
	req := httptest.NewRequest(http.MethodPost, inprocURL+"/mcp", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

// callTool posts a tools/call.
func (f *inproc) callTool(token, tool string, args any) *httptest.ResponseRecorder {
	params := map[string]any{"name": tool}
	if args != nil {
		params["arguments"] = args
	}
	return f.post(token, map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
}

// inprocResult is a decoded JSON-RPC answer to tools/call.
type inprocResult struct {
	Result *struct {
		IsError           bool            `json:"isError"`
		StructuredContent json.RawMessage `json:"structuredContent"`
		Content           []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
	} `json:"result"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (r inprocResult) text() string {
	if r.Result == nil {
		return ""
	}
	var s string
	for _, c := range r.Result.Content {
		s += c.Text
	}
	return s
}

// decodeInprocResult decodes a 200 answer; a body that is not a JSON-RPC
// response is an error.
func decodeInprocResult(rec *httptest.ResponseRecorder) (inprocResult, error) {
	var r inprocResult
	err := json.Unmarshal(rec.Body.Bytes(), &r)
	return r, err
}

// toolScopes is the scope each tool needs, written down here independently
// of tools.Catalog so that a wrong catalog entry fails the tests that use
// it; globalOnly tools are for global principals only.
var toolScopes = []struct {
	name       string
	scope      string // "" for none
	globalOnly bool
}{
	{"whoami", "", false},
	{"list_users", auth.ScopeReadUsers, false},
	{"get_user", auth.ScopeReadUsers, false},
	{"create_user", auth.ScopeWriteUsers, false},
	{"update_user", auth.ScopeWriteUsers, false},
	{"delete_user", auth.ScopeDeleteUsers, false},
	{"get_organization", auth.ScopeReadOrgs, false},
	{"update_organization", auth.ScopeWriteOrgs, false},
	{"list_organizations", auth.ScopeReadOrgs, true},
	{"create_organization", auth.ScopeWriteOrgs, true},
	{"list_feature_flags", auth.ScopeReadFlags, false},
	{"get_feature_flag", auth.ScopeReadFlags, false},
	{"set_feature_flag", auth.ScopeWriteFlags, false},
	{"reset_feature_flag", auth.ScopeWriteFlags, false},
	{"create_feature_flag", auth.ScopeWriteFlags, true},
	{"delete_feature_flag", auth.ScopeWriteFlags, true},
	{"list_audit_events", auth.ScopeReadAudit, false},
	{"list_clients", auth.ScopeReadClients, false},
	{"create_client", auth.ScopeWriteClients, false},
	{"rotate_client_secret", auth.ScopeWriteClients, false},
	{"disable_client", auth.ScopeWriteClients, false},
	{"list_delegations", auth.ScopeReadGrants, false},
	{"revoke_delegation", auth.ScopeWriteGrants, false},
}

// scopeGrants is the scope hierarchy, restated: a scope grants itself, write:X
// grants read:X, and nothing else grants anything (delete:users only by
// itself).
func scopeGrants(held map[string]bool, needed string) bool {
	switch {
	case needed == "" || held[needed]:
		return true
	case needed == auth.ScopeReadUsers:
		return held[auth.ScopeWriteUsers]
	case needed == auth.ScopeReadOrgs:
		return held[auth.ScopeWriteOrgs]
	case needed == auth.ScopeReadFlags:
		return held[auth.ScopeWriteFlags]
	case needed == auth.ScopeReadClients:
		return held[auth.ScopeWriteClients]
	case needed == auth.ScopeReadGrants:
		return held[auth.ScopeWriteGrants]
	}
	return false
}

// heldScopes lists the scopes of a held set.
func heldScopes(held map[string]bool) []string {
	var out []string
	for s, ok := range held {
		if ok {
			out = append(out, s)
		}
	}
	return out
}

// sameScopes reports whether a space-separated scope parameter names
// exactly the scopes of want, in any order.
func sameScopes(param string, want []string) bool {
	got := strings.Fields(param)
	slices.Sort(got)
	w := slices.Clone(want)
	slices.Sort(w)
	return slices.Equal(got, slices.Compact(w))
}
