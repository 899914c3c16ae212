package mcpserver_test

import (
	"context"
	"crypto"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/mcpserver"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
)

// rateLimitItem matches one item of the RateLimit field
// (draft-ietf-httpapi-ratelimit-headers): "name";r=N;t=N.
var rateLimitItem = regexp.MustCompile(`^"(principal|organization)";r=(\d+);t=(\d+)$`)

// TestRateLimitFields: every answer the limiter passes carries the
// policies and what is left of them; a refused one says which policy
// refused, with Retry-After.
func TestRateLimitFields(t *testing.T) {
	f := newFixture(t, fixtureOptions{options: func(o *mcpserver.Options) {
		o.RateLimits = &mcpserver.RateLimits{PerPrincipal: 0.5, PrincipalBurst: 3, PerOrg: 100, OrgBurst: 200}
	}})
	acme := f.token(t, "org_acme", "")
	rec := f.post(acme, whoamiCall)
	if rec.Code != http.StatusOK {
		t.Fatalf("first call: %d", rec.Code)
	}
	if got, want := rec.Header().Get("RateLimit-Policy"), `"principal";q=3;w=6, "organization";q=200;w=2`; got != want {
		t.Errorf("RateLimit-Policy %q, want %q", got, want)
	}
	if got, want := rec.Header().Get("RateLimit"), `"principal";r=2;t=2, "organization";r=199;t=1`; got != want {
		t.Errorf("RateLimit %q, want %q", got, want)
	}
	f.post(acme, whoamiCall)
	f.post(acme, whoamiCall)
	rec = f.post(acme, whoamiCall)
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("fourth call: %d, want 429", rec.Code)
	}
	m := rateLimitItem.FindStringSubmatch(rec.Header().Get("RateLimit"))
	retry, err := strconv.Atoi(rec.Header().Get("Retry-After"))
	if m == nil || m[1] != "principal" || m[2] != "0" || err != nil || retry < 1 || retry > 2 {
		t.Errorf("429: RateLimit %q, Retry-After %q; want the principal policy, r=0, a retry within 2 s",
			rec.Header().Get("RateLimit"), rec.Header().Get("Retry-After"))
	}
	if rec.Header().Get("RateLimit-Policy") == "" {
		t.Error("429 without RateLimit-Policy")
	}
}

// TestOrgRateLimit: the clients of one organization share its limit,
// another organization does not notice, and global principals are limited
// per principal only.
func TestOrgRateLimit(t *testing.T) {
	f := newFixture(t, fixtureOptions{options: func(o *mcpserver.Options) {
		o.RateLimits = &mcpserver.RateLimits{PerPrincipal: 100, PrincipalBurst: 100, PerOrg: 0.001, OrgBurst: 4}
	}})
	first, second := f.token(t, "org_acme", ""), f.token(t, "org_acme", "")
	passed := map[int]int{}
	for i := range 8 {
		tok := first
		if i%2 == 1 {
			tok = second
		}
		passed[f.post(tok, whoamiCall).Code]++
	}
	if passed[http.StatusOK] != 4 || passed[http.StatusTooManyRequests] != 4 {
		t.Errorf("two clients of one org, 8 calls against an org burst of 4: %v", passed)
	}
	rec := f.post(first, whoamiCall)
	if m := rateLimitItem.FindStringSubmatch(rec.Header().Get("RateLimit")); m == nil || m[1] != "organization" {
		t.Errorf("refusal names %q, want the organization policy", rec.Header().Get("RateLimit"))
	}
	if rec := f.post(f.token(t, "org_beta", ""), whoamiCall); rec.Code != http.StatusOK {
		t.Errorf("another org: %d", rec.Code)
	}
	global := f.token(t, "", "read:orgs")
	for i := range 6 {
		if rec := f.post(global, whoamiCall); rec.Code != http.StatusOK {
			t.Errorf("global call %d: %d; a global principal belongs to no org", i, rec.Code)
		}
	}
	scrape := httptest.NewRecorder()
	f.handler.ServeHTTP(scrape, httptest.NewRequest(http.MethodGet, publicURL+"/metrics", nil))
	if want := `orgscope_rate_limited_total{limit="organization"} 5`; !strings.Contains(scrape.Body.String(), want) {
		t.Errorf("metrics lack %s", want)
	}
}

// storeBuckets adapts a store to mcpserver.SharedBuckets, as the command does.
type storeBuckets struct{ st store.Store }

func (b storeBuckets) TakeTokens(ctx context.Context, key string, perSecond float64, burst, need, want int) (mcpserver.BucketTake, error) {
	got, err := b.st.TakeTokens(ctx, key, store.RateLimit{PerSecond: perSecond, Burst: burst}, need, want)
	return mcpserver.BucketTake{Taken: got.Taken, Remaining: got.Remaining, Wait: got.Wait, Full: got.Full}, err
}

// TestSharedRateLimitsAcrossHandlers: two handlers (replicas) over one
// store's shared buckets pass together what one bucket holds.
func TestSharedRateLimitsAcrossHandlers(t *testing.T) {
	var shared storeBuckets
	limits := func(o *mcpserver.Options) {
		o.RateLimits = &mcpserver.RateLimits{PerPrincipal: 0.001, PrincipalBurst: 6, Shared: &shared}
	}
	a := newFixture(t, fixtureOptions{options: limits})
	shared.st = a.store
	b := newFixtureOn(t, a, fixtureOptions{options: limits})
	tok := a.token(t, "org_acme", "")
	passed := 0
	for i := range 12 {
		h := a
		if i%2 == 1 {
			h = b
		}
		if rec := h.post(tok, whoamiCall); rec.Code == http.StatusOK {
			passed++
		} else if rec.Code != http.StatusTooManyRequests {
			t.Fatalf("call %d: %d", i, rec.Code)
		}
	}
	if passed != 6 {
		t.Errorf("two replicas passed %d calls of one principal with a shared burst of 6 (%v to refill one)", passed, 1000*time.Second)
	}
}

// newFixtureOn assembles a second handler over a's store, trusting a's
// issuer: another replica.
func newFixtureOn(tb testing.TB, a *fixture, fo fixtureOptions) *fixture {
	tb.Helper()
	jwt, err := auth.NewJWTVerifier(auth.JWTOptions{
		Issuer: publicURL, Audience: mcpserver.Resource(publicURL),
		KeySet: &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{a.issuer.PublicKey()}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	svc := service.New(service.Options{Store: a.store})
	tb.Cleanup(svc.Close)
	opts := mcpserver.Options{
		PublicURL: publicURL, Service: svc, Store: a.store, Verifier: jwt, AuthorizationServers: []string{publicURL},
	}
	if fo.options != nil {
		fo.options(&opts)
	}
	h, err := mcpserver.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return &fixture{handler: h, issuer: a.issuer, store: a.store}
}
