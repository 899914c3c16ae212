package authserver_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orgscope/orgscope/authserver"
	"github.com/orgscope/orgscope/internal/credential"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/sqlite"
)

// touchCountingStore counts the writes of a client's last use.
type touchCountingStore struct {
	store.Store
	touches atomic.Int64
}

func (s *touchCountingStore) TouchClient(ctx context.Context, id string, t time.Time) error {
	s.touches.Add(1)
	return s.Store.TouchClient(ctx, id, t)
}

// lifecycle is an issuer whose store and server share one settable clock,
// with one machine client of org_acme.
type lifecycle struct {
	st     *touchCountingStore
	clock  *clock
	as     *authserver.Server
	client store.Client
	secret string
}

func newLifecycle(t *testing.T, serverTTL time.Duration) *lifecycle {
	t.Helper()
	ctx := t.Context()
	l := &lifecycle{clock: newClock()}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "as.db"), &sqlite.Options{Now: l.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l.st = &touchCountingStore{Store: st}
	if _, err := st.CreateOrg(ctx, store.Org{Code: "org_acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	if l.as, err = authserver.New(ctx, authserver.Options{Issuer: issuer, Resource: resource, Store: l.st, TokenTTL: serverTTL, Now: l.clock.Now}); err != nil {
		t.Fatal(err)
	}
	if l.client, l.secret, err = createMachineClient(ctx, st, machineClient{Name: "agent", OrgCode: "org_acme", Scopes: []string{"read:users"}}); err != nil {
		t.Fatal(err)
	}
	return l
}

// token asks for a client_credentials token with secret.
func (l *lifecycle) token(t *testing.T, secret string) (int, map[string]any) {
	t.Helper()
	return issue(t, l.as, l.client.ID, secret, url.Values{})
}

// wantToken requires a token for secret; wantRefused requires
// invalid_client, in the words a wrong secret gets.
func (l *lifecycle) wantToken(t *testing.T, secret, why string) map[string]any {
	t.Helper()
	code, body := l.token(t, secret)
	if code != http.StatusOK || body["access_token"] == nil {
		t.Fatalf("%s: %d %v, want a token", why, code, body)
	}
	return body
}

func (l *lifecycle) wantRefused(t *testing.T, secret, why string) {
	t.Helper()
	code, body := l.token(t, secret)
	_, wrong := l.token(t, "not-the-secret")
	if code != http.StatusUnauthorized || body["error"] != "invalid_client" || body["error_description"] != wrong["error_description"] {
		t.Fatalf("%s: %d %v, want 401 invalid_client as for a wrong secret (%v)", why, code, body, wrong)
	}
}

// TestRotationGrace: during the grace period both secrets get tokens; once
// it ends only the new one does. Without a grace the old one stops at once.
func TestRotationGrace(t *testing.T) {
	l := newLifecycle(t, 10*time.Minute)
	ctx := t.Context()
	second := credential.NewSecret()
	if _, err := l.st.RotateClientSecret(ctx, l.client.ID, store.ClientSecret{Hash: credential.HashSecret(second)},
		l.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	l.wantToken(t, l.secret, "the old secret during the grace")
	l.wantToken(t, second, "the new secret during the grace")

	l.clock.Advance(time.Hour - time.Second)
	l.wantToken(t, l.secret, "the old secret a second before the grace ends")
	l.clock.Advance(time.Second)
	l.wantRefused(t, l.secret, "the old secret when the grace has ended")
	l.wantToken(t, second, "the new secret after the grace")

	third := credential.NewSecret()
	if _, err := l.st.RotateClientSecret(ctx, l.client.ID, store.ClientSecret{Hash: credential.HashSecret(third)}, l.clock.Now()); err != nil {
		t.Fatal(err)
	}
	l.wantRefused(t, second, "the previous secret after a rotation without grace")
	l.wantToken(t, third, "the newest secret")
}

// TestDisabledClient: a disabled client is refused with invalid_client
// even with its right secret, and gets tokens again once enabled; a
// deleted one is refused likewise.
func TestDisabledClient(t *testing.T) {
	l := newLifecycle(t, 10*time.Minute)
	ctx := t.Context()
	l.wantToken(t, l.secret, "an enabled client")
	at := l.clock.Now()
	if _, err := l.st.UpdateClient(ctx, l.client.ID, store.ClientUpdate{DisabledAt: &at}); err != nil {
		t.Fatal(err)
	}
	l.wantRefused(t, l.secret, "a disabled client")
	// Nor may it revoke or introspect: it does not authenticate at all.
	for _, path := range []string{authserver.RevokePath, authserver.IntrospectPath} {
		req := url.Values{"token": {"x"}, "client_id": {l.client.ID}, "client_secret": {l.secret}}
		rec := serveForm(l.as, path, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%s by a disabled client: %d %s", path, rec.Code, rec.Body)
		}
	}
	if _, err := l.st.UpdateClient(ctx, l.client.ID, store.ClientUpdate{DisabledAt: &time.Time{}}); err != nil {
		t.Fatal(err)
	}
	l.wantToken(t, l.secret, "an enabled client again")
	if err := l.st.DeleteClient(ctx, l.client.ID); err != nil {
		t.Fatal(err)
	}
	l.wantRefused(t, l.secret, "a deleted client")
}

// TestClientTokenLifetime: a client's own lifetime is honoured in
// expires_in and exp, within the server's, which caps it and applies to
// clients without one.
func TestClientTokenLifetime(t *testing.T) {
	l := newLifecycle(t, 10*time.Minute)
	ctx := t.Context()
	for _, tc := range []struct {
		clientTTL, want time.Duration
	}{
		{5 * time.Minute, 5 * time.Minute},
		{90 * time.Second, 90 * time.Second},
		{time.Hour, 10 * time.Minute}, // capped
		{0, 10 * time.Minute},         // the server's
	} {
		if _, err := l.st.UpdateClient(ctx, l.client.ID, store.ClientUpdate{TokenTTL: &tc.clientTTL}); err != nil {
			t.Fatal(err)
		}
		body := l.wantToken(t, l.secret, "token")
		_, claims := decode(t, body["access_token"].(string))
		exp, iat := claims["exp"].(float64), claims["iat"].(float64)
		if body["expires_in"] != tc.want.Seconds() || exp-iat != tc.want.Seconds() || int64(iat) != l.clock.Now().Unix() {
			t.Errorf("client lifetime %v: expires_in %v, exp-iat %v; want %v", tc.clientTTL, body["expires_in"], exp-iat, tc.want.Seconds())
		}
	}
}

// TestLastUseRecordedOncePerInterval: many tokens in a minute cost one
// write of the client's last use.
func TestLastUseRecordedOncePerInterval(t *testing.T) {
	l := newLifecycle(t, 10*time.Minute)
	ctx := t.Context()
	for range 5 {
		l.wantToken(t, l.secret, "token")
		l.clock.Advance(time.Second)
	}
	if n := l.st.touches.Load(); n != 1 {
		t.Errorf("%d writes of the last use for 5 tokens in 5 seconds, want 1", n)
	}
	c, err := l.st.GetClient(ctx, l.client.ID)
	if err != nil || !c.LastUsedAt.Equal(l.clock.Now().Add(-5*time.Second)) {
		t.Fatalf("last use %v (%v), want the first token's time", c.LastUsedAt, err)
	}
	l.clock.Advance(store.TouchInterval)
	l.wantToken(t, l.secret, "token a minute later")
	c, err = l.st.GetClient(ctx, l.client.ID)
	if err != nil || !c.LastUsedAt.Equal(l.clock.Now()) || l.st.touches.Load() != 2 {
		t.Fatalf("last use %v (%v) after %d writes, want now after 2", c.LastUsedAt, err, l.st.touches.Load())
	}
}

// TestIntrospectionOfACutOffToken: a token issued before its client's
// cutoff is inactive; one issued after it is active.
func TestIntrospectionOfACutOffToken(t *testing.T) {
	l := newLifecycle(t, 10*time.Minute)
	ctx := t.Context()
	before := l.wantToken(t, l.secret, "token")["access_token"].(string)
	if _, err := l.st.CutOffClient(ctx, l.client.ID, l.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	l.clock.Advance(time.Second)
	after := l.wantToken(t, l.secret, "token after the cutoff")["access_token"].(string)
	for token, want := range map[string]bool{before: false, after: true} {
		rec := serveForm(l.as, authserver.IntrospectPath, url.Values{"token": {token}, "client_id": {l.client.ID}, "client_secret": {l.secret}})
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), map[bool]string{true: `"active":true`, false: `{"active":false}`}[want]) {
			t.Errorf("introspection (active %v wanted): %d %s", want, rec.Code, rec.Body)
		}
	}
}

// serveForm posts a form to the issuer and returns the answer.
func serveForm(as *authserver.Server, path string, form url.Values) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	as.Handler().ServeHTTP(rec, req)
	return rec
}

// TestTokenAfterACutoffInTheSameSecond: a client enabled again within the
// second of its cutoff gets no token of that second, which the resource
// servers (comparing whole-second iat with the cutoff) would refuse: the
// token endpoint waits for the next second, and if its clock still says
// otherwise, answers a retry. After it, the token is dated now.
func TestTokenAfterACutoffInTheSameSecond(t *testing.T) {
	l := newLifecycle(t, 10*time.Minute)
	ctx := t.Context()
	l.clock.Advance(300 * time.Millisecond)
	if _, err := l.st.CutOffClient(ctx, l.client.ID, l.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	l.clock.Advance(200 * time.Millisecond) // still the cutoff's second, and this clock stands still
	req := url.Values{"grant_type": {"client_credentials"}, "client_id": {l.client.ID}, "client_secret": {l.secret}}
	if rec := serveForm(l.as, authserver.TokenPath, req); rec.Code != http.StatusServiceUnavailable ||
		rec.Header().Get("Retry-After") != "1" || !strings.Contains(rec.Body.String(), "temporarily_unavailable") {
		t.Errorf("a token in the cutoff's second: %d %s, want 503 temporarily_unavailable with Retry-After: 1", rec.Code, rec.Body)
	}
	l.clock.Advance(500 * time.Millisecond) // the next second
	_, claims := decode(t, l.wantToken(t, l.secret, "token after the cutoff's second")["access_token"].(string))
	if iat := int64(claims["iat"].(float64)); iat != l.clock.Now().Unix() {
		t.Errorf("iat %d after the cutoff's second, want now %d", iat, l.clock.Now().Unix())
	}
}
