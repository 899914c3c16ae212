package authserver_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"

	"github.com/orgscope/orgscope/authserver"
	"github.com/orgscope/orgscope/store"
)

// cimdHost serves Client ID Metadata Documents over TLS and counts fetches.
type cimdHost struct {
	srv     *httptest.Server
	fetches atomic.Int64
	docs    map[string]func(self string) (status int, header http.Header, body string)
}

func newCIMDHost(t *testing.T) *cimdHost {
	h := &cimdHost{docs: map[string]func(string) (int, http.Header, string){}}
	h.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.fetches.Add(1)
		doc, ok := h.docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		status, header, body := doc(h.srv.URL + r.URL.Path)
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func jsonDoc(cc string, doc map[string]any) func(string) (int, http.Header, string) {
	return func(self string) (int, http.Header, string) {
		if _, ok := doc["client_id"]; !ok {
			doc["client_id"] = self
		}
		b, _ := json.Marshal(doc)
		h := http.Header{"Content-Type": {"application/json"}}
		if cc != "" {
			h.Set("Cache-Control", cc)
		}
		return http.StatusOK, h, string(b)
	}
}

// authorizePage opens the authorization endpoint for clientID in a browser
// of the test's own and returns the answer.
func authorizePage(t *testing.T, as http.Handler, clientID, redirect string) (*httptest.ResponseRecorder, string) {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect}, "state": {"s1"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
		"resource": {resource}, "scope": {"read:users"}}
	rec := httptest.NewRecorder()
	as.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, authserver.AuthorizePath+"?"+q.Encode(), nil))
	return rec, verifier
}

func TestMetadataDocumentClients(t *testing.T) {
	ctx := t.Context()
	st := newStore(t)
	if _, err := st.CreateOrg(ctx, store.Org{Code: "org_acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	u, err := st.CreateUser(ctx, store.User{ID: store.NewID(store.UserIDPrefix), OrgCode: "org_acme", Email: "ada@acme.example",
		Status: store.UserActive, Role: store.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := setPassword(ctx, st, "org_acme", u.Email, "correct horse battery", 4); err != nil {
		t.Fatal(err)
	}
	host := newCIMDHost(t)
	const redirect = "http://127.0.0.1:7777/cb"
	host.docs["/good.json"] = jsonDoc("max-age=60", map[string]any{"client_name": "Doc Agent", "redirect_uris": []string{redirect},
		"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code", "refresh_token"}})
	host.docs["/liar.json"] = jsonDoc("", map[string]any{"client_id": "https://someone-else.example/client.json",
		"redirect_uris": []string{redirect}})
	host.docs["/secret.json"] = jsonDoc("", map[string]any{"redirect_uris": []string{redirect}, "token_endpoint_auth_method": "private_key_jwt"})
	host.docs["/shared-secret.json"] = jsonDoc("", map[string]any{"client_name": "S", "redirect_uris": []string{redirect},
		"token_endpoint_auth_method": "client_secret_basic"})
	host.docs["/private-jwks.json"] = jsonDoc("", map[string]any{"client_name": "P", "redirect_uris": []string{redirect},
		"token_endpoint_auth_method": "private_key_jwt", "jwks": map[string]any{"keys": []any{map[string]any{
			"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}}}})
	host.docs["/both-keys.json"] = jsonDoc("", map[string]any{"client_name": "B", "redirect_uris": []string{redirect},
		"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://keys.example/jwks.json",
		"jwks": map[string]any{"keys": []any{}}})
	host.docs["/http-jwks.json"] = jsonDoc("", map[string]any{"client_name": "H", "redirect_uris": []string{redirect},
		"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://keys.example/jwks.json"})
	host.docs["/cc.json"] = jsonDoc("", map[string]any{"redirect_uris": []string{redirect}, "grant_types": []string{"client_credentials"}})
	host.docs["/evil-redirect.json"] = jsonDoc("", map[string]any{"redirect_uris": []string{"http://evil.example/cb"}})
	host.docs["/huge.json"] = func(string) (int, http.Header, string) {
		return 200, http.Header{"Content-Type": {"application/json"}}, `{"x":"` + strings.Repeat("a", 70<<10) + `"}`
	}
	host.docs["/elsewhere.json"] = func(string) (int, http.Header, string) {
		return http.StatusFound, http.Header{"Location": {"https://127.0.0.2:1/doc.json"}}, ""
	}

	as, err := authserver.New(ctx, authserver.Options{Issuer: issuer, Resource: resource, Store: st, PasswordCost: 4,
		MetadataDocumentClient: host.srv.Client(), MetadataDocumentAllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	h := as.Handler()

	t.Run("a document client signs a user in and redeems its code", func(t *testing.T) {
		clientID := host.srv.URL + "/good.json"
		rec, verifier := authorizePage(t, h, clientID, redirect)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "Doc Agent") {
			t.Fatalf("authorize: %d %s", rec.Code, rec.Body)
		}
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		srv := httptest.NewServer(h)
		defer srv.Close()
		q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect}, "state": {"s1"},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}, "resource": {resource}}
		page := get(t, client, srv.URL+authserver.AuthorizePath+"?"+q.Encode())
		consent := postForm(t, client, srv.URL+authserver.LoginPath, formOf(t, page, "email", u.Email, "password", "correct horse battery"))
		if !strings.Contains(consent, host.srv.Listener.Addr().String()) {
			t.Errorf("the consent page does not name the document's host")
		}
		resp, err := client.PostForm(srv.URL+authserver.ConsentPath, formOf(t, consent, "decision", "approve"))
		if err != nil {
			t.Fatal(err)
		}
		loc, _ := url.Parse(resp.Header.Get("Location"))
		code := loc.Query().Get("code")
		if resp.StatusCode != http.StatusSeeOther || code == "" {
			t.Fatalf("consent: %d %s", resp.StatusCode, loc)
		}
		tok, err := http.PostForm(srv.URL+authserver.TokenPath, url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"client_id": {clientID}, "redirect_uri": {redirect}, "code_verifier": {verifier}})
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		json.NewDecoder(tok.Body).Decode(&body)
		if tok.StatusCode != 200 || body["access_token"] == nil || body["refresh_token"] == nil {
			t.Errorf("token: %d %v", tok.StatusCode, body)
		}
		// Cached per Cache-Control: the flow above fetched the document once.
		if n := host.fetches.Load(); n != 1 {
			t.Errorf("the document was fetched %d times, want 1 (max-age=60)", n)
		}
	})

	for _, tc := range []struct {
		path, want string
	}{
		{"/liar.json", "names client_id"},
		{"/secret.json", "gives no jwks_uri or jwks"},
		{"/shared-secret.json", "other than none and private_key_jwt"},
		{"/private-jwks.json", "holds private key material"},
		{"/both-keys.json", "give one"},
		{"/http-jwks.json", "must be an https URL"},
		{"/cc.json", "grant type other than"},
		{"/evil-redirect.json", "loopback"},
		{"/huge.json", "larger than"},
		{"/elsewhere.json", "could not be fetched"},
		{"/missing.json", "HTTP 404"},
	} {
		t.Run("refused "+tc.path, func(t *testing.T) {
			rec, _ := authorizePage(t, h, host.srv.URL+tc.path, redirect)
			if rec.Code != http.StatusBadRequest || rec.Header().Get("Location") != "" || !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("%d %q: %s", rec.Code, rec.Header().Get("Location"), alertOf(rec.Body.String()))
			}
		})
	}

	t.Run("without the development flag, loopback is refused", func(t *testing.T) {
		strict, err := authserver.New(ctx, authserver.Options{Issuer: issuer, Resource: resource, Store: st,
			MetadataDocumentClient: host.srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		before := host.fetches.Load()
		rec, _ := authorizePage(t, strict.Handler(), host.srv.URL+"/good.json", redirect)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "private") || host.fetches.Load() != before {
			t.Errorf("%d fetched=%d: %s", rec.Code, host.fetches.Load()-before, alertOf(rec.Body.String()))
		}
	})
}

var alertRE = regexp.MustCompile(`role="alert">([^<]*)<`)

func alertOf(body string) string {
	if m := alertRE.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return body
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="(\w+)" value="([^"]*)">`)

// formOf returns the hidden fields of the page's form plus extra pairs.
func formOf(t *testing.T, page string, extra ...string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		v.Set(m[1], m[2])
	}
	if v.Get("request") == "" {
		t.Fatalf("no form on the page: %s", alertOf(page))
	}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

func get(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func postForm(t *testing.T, c *http.Client, u string, v url.Values) string {
	t.Helper()
	resp, err := c.PostForm(u, v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
