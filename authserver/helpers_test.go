package authserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/orgscope/orgscope/authserver"
	"github.com/orgscope/orgscope/internal/credential"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/sqlite"
)

// clock is a settable clock for the issuer's Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// countingStore counts the password lookups the issuer makes.
type countingStore struct {
	store.Store
	credentialLookups atomic.Int64
}

func (s *countingStore) UserCredentials(ctx context.Context, email string) ([]store.UserCredential, error) {
	s.credentialLookups.Add(1)
	return s.Store.UserCredentials(ctx, email)
}

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

const adaPassword = "correct horse battery"

// fixture is an issuer with one organization and one admin, Ada, whose
// password is adaPassword, on a settable clock.
type fixture struct {
	st    *countingStore
	clock *clock
	as    *authserver.Server
	logs  *lockedBuffer
	srv   *httptest.Server // the issuer on loopback, for browsers
}

func newFixture(t *testing.T, edit func(*authserver.Options)) *fixture {
	t.Helper()
	ctx := t.Context()
	f := &fixture{clock: newClock(), logs: &lockedBuffer{}}
	// The store keeps the issuer's time, as it does in a server.
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "as.db"), &sqlite.Options{Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.st = &countingStore{Store: st}
	if _, err := f.st.CreateOrg(ctx, store.Org{Code: "org_acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	u, err := f.st.CreateUser(ctx, store.User{ID: store.NewID(store.UserIDPrefix), OrgCode: "org_acme", Email: "ada@acme.example",
		Status: store.UserActive, Role: store.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := setPassword(ctx, f.st, "org_acme", u.Email, adaPassword, 4); err != nil {
		t.Fatal(err)
	}
	opts := authserver.Options{Issuer: issuer, Resource: resource, Store: f.st, PasswordCost: 4, Now: f.clock.Now,
		Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	if edit != nil {
		edit(&opts)
	}
	if f.as, err = authserver.New(ctx, opts); err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(f.as.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// serve sends one request from a client address and returns the answer.
func (f *fixture) serve(method, target, remoteAddr string, body string, header http.Header) *httptest.ResponseRecorder {
	var req *http.Request
	if body != "" {
		req = httptest.NewRequest(method, target, strings.NewReader(body))
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if remoteAddr != "" {
		req.RemoteAddr = remoteAddr
	}
	rec := httptest.NewRecorder()
	f.as.Handler().ServeHTTP(rec, req)
	return rec
}

var formHeader = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}

// post sends a form and decodes the JSON answer.
func (f *fixture) post(path, remoteAddr string, form url.Values) (*httptest.ResponseRecorder, map[string]any) {
	rec := f.serve(http.MethodPost, path, remoteAddr, form.Encode(), formHeader)
	var body map[string]any
	json.Unmarshal(rec.Body.Bytes(), &body)
	return rec, body
}

// register registers a client through RFC 7591 from remoteAddr.
func (f *fixture) register(t *testing.T, remoteAddr string, metadata map[string]any) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(metadata)
	rec := f.serve(http.MethodPost, authserver.RegisterPath, remoteAddr, string(b), http.Header{"Content-Type": {"application/json"}})
	var body map[string]any
	json.Unmarshal(rec.Body.Bytes(), &body)
	return rec, body
}

const flowRedirect = "http://127.0.0.1:7777/cb"

// registerClient registers a client with flowRedirect and returns its id
// and (for a confidential one) secret.
func (f *fixture) registerClient(t *testing.T, confidential bool) (id, secret string) {
	t.Helper()
	method := "none"
	if confidential {
		method = "client_secret_post"
	}
	rec, body := f.register(t, "198.51.100.1:1", map[string]any{"client_name": "Test agent", "redirect_uris": []string{flowRedirect},
		"token_endpoint_auth_method": method, "grant_types": []string{"authorization_code", "refresh_token"}})
	if rec.Code != http.StatusCreated {
		t.Fatalf("register: %d %v", rec.Code, body)
	}
	secret, _ = body["client_secret"].(string)
	return body["client_id"].(string), secret
}

// authorizeQuery is a valid authorization request for clientID.
func authorizeQuery(clientID, verifier string) url.Values {
	return url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {flowRedirect}, "state": {"s1"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
		"resource": {resource}, "scope": {"read:users"}}
}

// browser is a person's browser talking to the issuer over loopback: it
// keeps cookies and does not follow redirects.
func (f *fixture) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// loginPage opens the authorization endpoint in b and returns the page.
func (f *fixture) loginPage(t *testing.T, b *http.Client, clientID, verifier string) string {
	t.Helper()
	return get(t, b, f.srv.URL+authserver.AuthorizePath+"?"+authorizeQuery(clientID, verifier).Encode())
}

// signIn posts the login form of page with email and password.
func (f *fixture) signIn(t *testing.T, b *http.Client, page, email, password string) (*http.Response, string) {
	t.Helper()
	resp, err := b.PostForm(f.srv.URL+authserver.LoginPath, formOf(t, page, "email", email, "password", password))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp, buf.String()
}

// code runs the whole interactive flow for clientID as Ada and returns the
// code and its verifier.
func (f *fixture) code(t *testing.T, clientID string) (code, verifier string) {
	t.Helper()
	b := f.browser()
	verifier = oauth2.GenerateVerifier()
	_, consent := f.signIn(t, b, f.loginPage(t, b, clientID, verifier), "ada@acme.example", adaPassword)
	resp, err := b.PostForm(f.srv.URL+authserver.ConsentPath, formOf(t, consent, "decision", "approve"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if code = loc.Query().Get("code"); code == "" {
		t.Fatalf("consent: %d %s", resp.StatusCode, loc)
	}
	return code, verifier
}

// machineClient describes a machine client a test provisions.
type machineClient struct {
	Name, OrgCode string
	Scopes        []string
	Properties    map[string]string
}

// createMachineClient stores a client_credentials client, as the service
// does, and returns it with its secret.
func createMachineClient(ctx context.Context, st interface {
	CreateClient(context.Context, store.Client) (store.Client, error)
}, mc machineClient) (store.Client, string, error) {
	secret := credential.NewSecret()
	c, err := st.CreateClient(ctx, store.Client{
		ID: credential.RandomHex(16), Name: mc.Name, Kind: store.ClientMachine, OrgCode: mc.OrgCode,
		Secrets: []store.ClientSecret{{Hash: credential.HashSecret(secret)}}, Scopes: mc.Scopes, GrantTypes: []string{"client_credentials"},
		TokenEndpointAuthMethod: "client_secret_basic", Properties: mc.Properties,
	})
	return c, secret, err
}

// setPassword stores a slow hash of password for the user with email in
// org.
func setPassword(ctx context.Context, st interface {
	UserCredentials(context.Context, string) ([]store.UserCredential, error)
	SetUserPassword(ctx context.Context, orgCode, userID, hash string) error
}, org, email, password string, cost int) (store.User, error) {
	creds, err := st.UserCredentials(ctx, email)
	if err != nil {
		return store.User{}, err
	}
	for _, c := range creds {
		if c.User.OrgCode == org {
			hash, err := credential.HashPassword(password, cost)
			if err != nil {
				return store.User{}, err
			}
			return c.User, st.SetUserPassword(ctx, org, c.User.ID, hash)
		}
	}
	return store.User{}, store.ErrNotFound
}
