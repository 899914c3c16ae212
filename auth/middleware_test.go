package auth_test

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	mcpauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/internal/tokentest"
)

const prmURL = "https://orgscope.test/.well-known/oauth-protected-resource/mcp"

// served runs one request through the middleware and reports what the
// protected handler saw (nil if it did not run).
func served(t *testing.T, v auth.Verifier, needed []string, req *http.Request) (*httptest.ResponseRecorder, *mcpauth.TokenInfo) {
	t.Helper()
	var seen *mcpauth.TokenInfo
	ran := false
	h := auth.Middleware(auth.MiddlewareOptions{
		Verifier:            v,
		ResourceMetadataURL: prmURL,
		Scopes:              func(*http.Request) []string { return needed },
		DefaultScopes:       []string{"read:users"},
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran = true
		seen = mcpauth.TokenInfoFromContext(r.Context())
		if auth.PrincipalFromContext(r.Context()) == nil {
			t.Error("no principal in the context")
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if !ran && seen != nil {
		t.Fatal("impossible")
	}
	if rec.Code != http.StatusOK && ran {
		t.Fatalf("handler ran although the answer is %d", rec.Code)
	}
	return rec, seen
}

// challengeOf parses WWW-Authenticate with the go-sdk's parser, as clients do.
func challengeOf(t *testing.T, rec *httptest.ResponseRecorder) map[string]string {
	t.Helper()
	cs, err := oauthex.ParseWWWAuthenticate(rec.Header().Values("WWW-Authenticate"))
	if err != nil || len(cs) != 1 || cs[0].Scheme != "bearer" {
		t.Fatalf("WWW-Authenticate %q: %v %+v", rec.Header().Get("WWW-Authenticate"), err, cs)
	}
	return cs[0].Params
}

func problemOf(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q", ct)
	}
	var p map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if int(p["status"].(float64)) != rec.Code {
		t.Errorf("problem status %v != %d", p["status"], rec.Code)
	}
	return p
}

func request(authz string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader("{}"))
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	return r
}

func TestMiddleware(t *testing.T) {
	iss := tokentest.NewIssuer(t, testIssuer)
	v := newVerifier(t, []crypto.PublicKey{iss.PublicKey()}, nil)
	good := iss.Sign(t, iss.Claims(testResource, "org_acme", "write:users"))

	t.Run("no token", func(t *testing.T) {
		rec, _ := served(t, v, nil, request(""))
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("status %d", rec.Code)
		}
		c := challengeOf(t, rec)
		if c["resource_metadata"] != prmURL || c["scope"] != "read:users" || c["error"] != "" {
			t.Errorf("challenge %v", c)
		}
		problemOf(t, rec)
	})
	t.Run("no token names the operation's scopes", func(t *testing.T) {
		rec, _ := served(t, v, []string{"delete:users"}, request(""))
		if c := challengeOf(t, rec); c["scope"] != "delete:users" {
			t.Errorf("challenge %v", c)
		}
	})
	t.Run("other scheme", func(t *testing.T) {
		rec, _ := served(t, v, nil, request("Basic dXNlcjpwYXNz"))
		if rec.Code != http.StatusUnauthorized || challengeOf(t, rec)["error"] != "" {
			t.Errorf("status %d", rec.Code)
		}
	})
	t.Run("garbage token", func(t *testing.T) {
		rec, _ := served(t, v, nil, request("Bearer garbage"))
		c := challengeOf(t, rec)
		if rec.Code != http.StatusUnauthorized || c["error"] != "invalid_token" || c["error_description"] == "" {
			t.Errorf("status %d challenge %v", rec.Code, c)
		}
		if p := problemOf(t, rec); p["error"] != "invalid_token" {
			t.Errorf("problem %v", p)
		}
	})
	t.Run("wrong audience never echoes the token", func(t *testing.T) {
		bad := iss.Sign(t, iss.Claims("https://other.test/mcp", "org_acme", "write:users"))
		rec, _ := served(t, v, nil, request("Bearer "+bad))
		if rec.Code != http.StatusUnauthorized || !strings.Contains(challengeOf(t, rec)["error_description"], "audience") {
			t.Errorf("status %d", rec.Code)
		}
		if strings.Contains(rec.Body.String(), bad) || strings.Contains(rec.Header().Get("WWW-Authenticate"), bad[:20]) {
			t.Error("the token is echoed")
		}
	})
	t.Run("malformed header", func(t *testing.T) {
		rec, _ := served(t, v, nil, request("Bearer a b"))
		if rec.Code != http.StatusBadRequest || challengeOf(t, rec)["error"] != "invalid_request" {
			t.Errorf("status %d", rec.Code)
		}
	})
	t.Run("token in the query string", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/mcp?access_token="+good, nil)
		rec, _ := served(t, v, nil, r)
		if rec.Code != http.StatusBadRequest || challengeOf(t, rec)["error"] != "invalid_request" {
			t.Errorf("status %d", rec.Code)
		}
	})
	t.Run("accepted", func(t *testing.T) {
		rec, ti := served(t, v, []string{"read:users"}, request("bearer "+good))
		if rec.Code != http.StatusOK || ti == nil {
			t.Fatalf("status %d, token info %v", rec.Code, ti)
		}
		p, err := auth.PrincipalFrom(ti)
		if err != nil || p.OrgCode != "org_acme" {
			t.Fatalf("principal %+v, %v", p, err)
		}
		if ti.UserID == "" || ti.UserID != p.Key() {
			t.Errorf("UserID %q: sessions would not be bound", ti.UserID)
		}
	})
	t.Run("verification unavailable", func(t *testing.T) {
		rec, _ := served(t, unavailable{}, nil, request("Bearer "+good))
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Errorf("status %d Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
		}
		problemOf(t, rec)
	})
}

type unavailable struct{}

func (unavailable) Verify(context.Context, string) (*auth.Principal, error) {
	return nil, errors.Join(auth.ErrUnavailable, errors.New("jwks: connection refused"))
}

// FuzzMiddlewareHeader: whatever the Authorization header, the answer is
// 200, 400 or 401, never a panic or a 5xx, and the handler runs only for a
// verified token.
func FuzzMiddlewareHeader(f *testing.F) {
	for _, s := range []string{"Bearer x", "bearer  a.b.c", "Bearer ==", "Basic x", "Bearer a=b", "Bearer \x00", ""} {
		f.Add(s)
	}
	iss := tokentest.NewIssuer(f, testIssuer)
	v := newVerifier(&testing.T{}, []crypto.PublicKey{iss.PublicKey()}, nil)
	h := auth.Middleware(auth.MiddlewareOptions{Verifier: v, ResourceMetadataURL: prmURL})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) }))
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
		r.Header["Authorization"] = []string{header}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusBadRequest && rec.Code != http.StatusUnauthorized {
			t.Fatalf("header %q: status %d", header, rec.Code)
		}
	})
}

func TestInsufficientScope(t *testing.T) {
	rec := httptest.NewRecorder()
	auth.InsufficientScope(rec, prmURL, []string{"read:users", "delete:users"}, "This operation needs scope read:users delete:users.")
	c := challengeOf(t, rec)
	if rec.Code != http.StatusForbidden || c["error"] != "insufficient_scope" ||
		c["scope"] != "read:users delete:users" || c["resource_metadata"] != prmURL {
		t.Errorf("status %d challenge %v", rec.Code, c)
	}
	if p := problemOf(t, rec); p["scope"] != "read:users delete:users" || p["error"] != "insufficient_scope" {
		t.Errorf("problem %v", p)
	}
}
