package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orgscope/orgscope/cmd/orgscope/app"
	"github.com/orgscope/orgscope/mcpserver"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/postgres"
	"github.com/orgscope/orgscope/store/postgres/pgtest"
)

// TestDatabaseSilentNetwork: the network to PostgreSQL starts dropping every
// packet (nothing is refused, nothing arrives; see TestDatabaseOutage for a
// database that goes away loudly). With a short store timeout, a tool call
// that needs the database answers 503 with Retry-After within that timeout
// plus a small margin — not after a second deadline spent on its audit
// event or on the rate limits kept in the database — and so does /readyz,
// while /healthz answers 200. When the network comes back the same server
// works again, every write it acknowledged is stored, and the audit events
// of the calls answered 503 are written.
func TestDatabaseSilentNetwork(t *testing.T) {
	dbURL := pgtest.URL(t)
	real, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	host := real.Host
	if real.Port() == "" {
		host = net.JoinHostPort(real.Hostname(), "5432")
	}
	proxy := pgtest.NewProxy(t, host)
	schema := pgtest.Schema(t)
	const storeTimeout = time.Second
	// The bound is one store deadline; the margin covers scheduling on a
	// loaded machine, and is well short of a second deadline.
	const margin = 500 * time.Millisecond
	s := startServer(t, serverOptions{config: func(c *app.Config) {
		c.DatabaseURL, c.DatabaseSchema, c.StoreTimeout = proxy.Via(dbURL), schema, storeTimeout
		// The limits in the database, as a deployment on PostgreSQL has
		// them, high enough for the writers below.
		c.RateLimits = &mcpserver.RateLimits{PerPrincipal: 1000, PrincipalBurst: 2000, PerOrg: 1000, OrgBurst: 2000}
	}})
	token := s.token(t, s.Clients["org_acme"])
	if r := s.tool(t, token, "create_user", map[string]any{"email": "before@acme.example"}); r.Result.IsError {
		t.Fatal(r.text())
	}

	// No request may hang: the client gives up far beyond the bound.
	client := &http.Client{Timeout: storeTimeout + 20*time.Second}
	call := func(tool string, args any, requestID ...string) (status int, retryAfter, contentType string, body []byte, err error) {
		payload, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call",
			"params": map[string]any{"name": tool, "arguments": args}})
		req, _ := http.NewRequest(http.MethodPost, s.Resource, bytes.NewReader(payload))
		for _, id := range requestID {
			req.Header.Set("X-Request-Id", id)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", "", nil, err
		}
		defer resp.Body.Close()
		body, _ = io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"), body, nil
	}
	get := func(path string) int {
		resp, err := client.Get(s.URL + path)
		if err != nil {
			t.Errorf("GET %s: %v", path, err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	// Writers keep creating users through the outage.
	var (
		mu           sync.Mutex
		acknowledged []string
		stop         = make(chan struct{})
		writers      sync.WaitGroup
	)
	for w := range 2 {
		writers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				email := fmt.Sprintf("during-%d-%d@acme.example", w, i)
				status, retryAfter, _, body, err := call("create_user", map[string]any{"email": email})
				switch {
				case err != nil:
					t.Errorf("writer %d: %v", w, err)
					return
				case status == http.StatusOK && !strings.Contains(string(body), `"isError":true`):
					mu.Lock()
					acknowledged = append(acknowledged, email)
					mu.Unlock()
				case status == http.StatusServiceUnavailable && retryAfter != "":
				default:
					t.Errorf("writer %d: HTTP %d (Retry-After %q) %s", w, status, retryAfter, body)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	time.Sleep(200 * time.Millisecond)

	proxy.Swallow()
	var slowest time.Duration
	silentCalls := map[string]string{} // request id -> action
	for i := range 4 {
		tool, args := "list_users", any(nil)
		if i%2 == 1 {
			tool, args = "create_user", map[string]any{"email": fmt.Sprintf("silent-%d@acme.example", i)}
		}
		requestID := fmt.Sprintf("silent-call-%d", i)
		start := time.Now()
		status, retryAfter, contentType, body, err := call(tool, args, requestID)
		elapsed := time.Since(start)
		if !strings.Contains(string(body), "rate limits") {
			// It reached the tool, which records it (a call the rate
			// limits stopped never reached a decision).
			silentCalls[requestID] = "tools/call:" + tool
		}
		slowest = max(slowest, elapsed)
		if err != nil || status != http.StatusServiceUnavailable || retryAfter == "" || contentType != "application/problem+json" {
			t.Errorf("%s on a silent network: HTTP %d, Retry-After %q, %s, %v: %s", tool, status, retryAfter, contentType, err, body)
		}
		if elapsed > storeTimeout+margin {
			t.Errorf("%s on a silent network answered after %v, want within %v", tool, elapsed, storeTimeout+margin)
		}
		t.Logf("%s: %d after %v", tool, status, elapsed.Round(time.Millisecond))
	}
	start := time.Now()
	status := get("/readyz")
	readyz := time.Since(start)
	if status != http.StatusServiceUnavailable || readyz > storeTimeout+margin {
		t.Errorf("readyz on a silent network: %d after %v, want 503 within %v", status, readyz, storeTimeout+margin)
	}
	t.Logf("/readyz: %d after %v", status, readyz.Round(time.Millisecond))
	if status := get("/healthz"); status != http.StatusOK {
		t.Errorf("healthz on a silent network: %d", status)
	}

	proxy.Heal()
	healed := time.Now()
	for {
		status, _, _, _, err := call("list_users", nil)
		if err == nil && status == http.StatusOK && get("/readyz") == http.StatusOK {
			break
		}
		if time.Since(healed) > 30*time.Second {
			t.Fatalf("the server did not recover after the network came back: HTTP %d, %v", status, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	recovery := time.Since(healed)
	if r := s.tool(t, token, "create_user", map[string]any{"email": "after@acme.example"}); r.Result.IsError {
		t.Fatalf("create_user after recovery: %s", r.text())
	}
	close(stop)
	writers.Wait()

	direct, err := postgres.Open(t.Context(), dbURL, &postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	stored := map[string]bool{}
	for page := (store.Page{Limit: store.MaxPageSize}); ; {
		users, next, err := direct.ListUsers(t.Context(), "org_acme", store.UserFilter{}, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			stored[u.Email] = true
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	mu.Lock()
	defer mu.Unlock()
	for _, email := range append([]string{"before@acme.example", "after@acme.example"}, acknowledged...) {
		if !stored[email] {
			t.Errorf("%s was acknowledged but is not stored", email)
		}
	}

	// The events of the calls answered 503 were handed over without
	// waiting, and written once the database answered again.
	if len(silentCalls) == 0 {
		t.Error("no call on the silent network reached its tool")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		missing := map[string]string{}
		for id, action := range silentCalls {
			missing[id] = action
		}
		for page := (store.Page{Limit: store.MaxPageSize}); ; {
			evs, next, err := direct.ListAuditEvents(t.Context(), "org_acme", store.AuditFilter{Since: healed.Add(-time.Minute)}, page)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				if action, ok := missing[ev.RequestID]; ok && ev.Action == action && ev.Outcome == "error" && ev.Reason == "unavailable" {
					delete(missing, ev.RequestID)
				}
			}
			if page.Cursor = next; next == "" {
				break
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("audit events of calls answered 503 not written after recovery: %v", missing)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("time to 503 at most %v (store timeout %v); recovered %v after the network came back; %d acknowledged writes, all stored",
		slowest.Round(time.Millisecond), storeTimeout, recovery.Round(time.Millisecond), len(acknowledged))
}
