package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orgscope/orgscope/cmd/orgscope/app"
	"github.com/orgscope/orgscope/internal/testdeps"
	"github.com/orgscope/orgscope/mcpserver"
)

// hammer sends whoami calls with each token in turn, alternating between
// the replicas, from four goroutines, for d; it returns how many passed,
// how long it took (first request sent to last answer read), and one
// refused answer's headers.
func hammer(t *testing.T, replicas []*testServer, tokens []string, d time.Duration) (passed map[string]int, elapsed time.Duration, refused http.Header) {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`
	var mu sync.Mutex
	passed = map[string]int{}
	var next atomic.Int64
	var failures atomic.Int64
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				i := int(next.Add(1))
				s, tok := replicas[i%len(replicas)], tokens[(i/len(replicas))%len(tokens)]
				req, _ := http.NewRequest(http.MethodPost, s.Resource, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					failures.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				switch resp.StatusCode {
				case http.StatusOK:
					passed[tok]++
				case http.StatusTooManyRequests:
					if refused == nil {
						refused = resp.Header.Clone()
					}
				default:
					failures.Add(1)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed = time.Since(start)
	if n := failures.Load(); n > 0 {
		t.Errorf("%d calls failed with neither 200 nor 429", n)
	}
	return passed, elapsed, refused
}

// TestRateLimitsAcrossReplicas: with PostgreSQL, the per-principal and
// per-organization limits hold for two replicas together, not for each:
// a principal calling both replicas as fast as it can passes what one
// bucket allows, and two clients of one organization share its limit.
//
// Tolerance: a bucket of rate r and burst b passes at most b + r·T calls
// in T seconds; each replica may also hold one unspent lease (1 token at
// these rates), and T is measured from the first request sent to the last
// answer read, so the bound allows 10% + 2 calls more. Per-replica buckets
// (the limits before they were shared) would pass about twice as many.
func TestRateLimitsAcrossReplicas(t *testing.T) {
	const principalRate, orgRate = 10, 5
	c := startCluster(t, 2, testdeps.RequirePostgres(t), func(cfg *app.Config) {
		cfg.RateLimits = &mcpserver.RateLimits{
			PerPrincipal: principalRate, PrincipalBurst: 2 * principalRate,
			PerOrg: orgRate, OrgBurst: 2 * orgRate,
		}
	})
	a, b := c.via(0), c.via(1)
	bound := func(rate, burst int, elapsed time.Duration) float64 {
		return 1.1*(float64(burst)+float64(rate)*elapsed.Seconds()) + 2
	}

	t.Run("one principal through both replicas", func(t *testing.T) {
		// A global principal belongs to no organization: only its own limit.
		tok := a.token(t, a.Clients["global"])
		passed, elapsed, refused := hammer(t, []*testServer{a, b}, []string{tok}, 2*time.Second)
		n := passed[tok]
		t.Logf("%d calls passed in %v (rate %d/s, burst %d)", n, elapsed.Round(time.Millisecond), principalRate, 2*principalRate)
		if max := bound(principalRate, 2*principalRate, elapsed); float64(n) > max {
			t.Errorf("%d calls passed in %v, more than one shared bucket allows (%.0f)", n, elapsed, max)
		}
		if n < 2*principalRate {
			t.Errorf("only %d calls passed; the first burst (%d) should", n, 2*principalRate)
		}
		if refused == nil || refused.Get("Retry-After") == "" || !strings.HasPrefix(refused.Get("RateLimit"), `"principal";r=`) ||
			!strings.Contains(refused.Get("RateLimit-Policy"), `"principal";q=20;w=2`) {
			t.Errorf("refused answer's fields: %v", refused)
		}
	})

	t.Run("two clients of one organization share its limit", func(t *testing.T) {
		var out strings.Builder
		code := app.Main(t.Context(), []string{"clients", "create", "--database-url", c.dbURL, "--database-schema", c.schema,
			"--name", "second acme agent", "--org", "org_acme", "--scopes", "read:users", "--json"}, &out, io.Discard)
		if code != 0 {
			t.Fatalf("clients create: exit %d", code)
		}
		second := credentials{ID: jsonField(t, out.String(), "client_id"), Secret: jsonField(t, out.String(), "client_secret")}
		first, other := a.token(t, a.Clients["org_acme"]), b.token(t, second)
		passed, elapsed, refused := hammer(t, []*testServer{a, b}, []string{first, other}, 2*time.Second)
		n := passed[first] + passed[other]
		t.Logf("%d calls passed in %v (%d and %d; org rate %d/s, burst %d)", n, elapsed.Round(time.Millisecond),
			passed[first], passed[other], orgRate, 2*orgRate)
		if max := bound(orgRate, 2*orgRate, elapsed); float64(n) > max {
			t.Errorf("two clients of one org passed %d calls in %v, more than the org's bucket allows (%.0f)", n, elapsed, max)
		}
		if passed[first] == 0 || passed[other] == 0 {
			t.Errorf("one client had every call refused: %v", passed)
		}
		if refused == nil || !strings.HasPrefix(refused.Get("RateLimit"), `"organization";r=`) {
			t.Errorf("refused answer's fields: %v", refused)
		}
		// Another organization's client does not notice.
		gamma := a.token(t, a.Clients["org_gamma"])
		for i, s := range []*testServer{a, b, a, b} {
			if resp, _ := s.callTool(t, gamma, "whoami", nil); resp.StatusCode != http.StatusOK {
				t.Errorf("org_gamma call %d: %d", i, resp.StatusCode)
			}
		}
	})
}

// jsonField returns a string member of a JSON object.
func jsonField(t *testing.T, doc, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("%q: %v", doc, err)
	}
	s, _ := m[name].(string)
	if s == "" {
		t.Fatalf("%q has no %s", doc, name)
	}
	return s
}
