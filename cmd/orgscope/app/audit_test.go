package app

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/sqlite"
)

// settableClock is a clock a test moves.
type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *settableClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const day = 24 * time.Hour

// appendEvents stores one event per id, at the time given.
func appendEvents(t *testing.T, st store.Store, at map[string]time.Time) {
	t.Helper()
	for id, when := range at {
		ev := store.AuditEvent{ID: id, Time: when.UTC(), OrgCode: "org_x", ClientID: "agent", Subject: "agent",
			Action: "tools/call:list_users", Decision: "allow", Outcome: "ok"}
		if err := st.InTx(t.Context(), func(tx store.Tx) error { return tx.AppendAuditEvent(t.Context(), ev) }); err != nil {
			t.Fatal(err)
		}
	}
}

// storedEvents returns the ids of every event of org_x.
func storedEvents(t *testing.T, st store.Store) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for page := (store.Page{Limit: store.MaxPageSize}); ; {
		evs, next, err := st.ListAuditEvents(t.Context(), "org_x", store.AuditFilter{}, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			out[ev.ID] = true
		}
		if page.Cursor = next; next == "" {
			return out
		}
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAuditJanitorSweeps: the janitor removes the events older than the
// retention on the server's clock, keeps the newer ones, sweeps again at
// every interval (an event that ages past the retention goes at a later
// sweep), and stops with its context.
func TestAuditJanitorSweeps(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "o.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := service.New(service.Options{Store: st})
	defer svc.Close()
	clock := &settableClock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	now := clock.Now()
	appendEvents(t, st, map[string]time.Time{
		"ev_ancient":    now.Add(-500 * day),
		"ev_just_past":  now.Add(-400*day - time.Minute),
		"ev_near_limit": now.Add(-399 * day),
		"ev_recent":     now.Add(-time.Hour),
	})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		auditJanitor(ctx, svc, 400*day, 20*time.Millisecond, clock.Now, slog.New(slog.DiscardHandler))
		close(done)
	}()
	waitFor(t, "events past the retention removed", func() bool {
		got := storedEvents(t, st)
		return !got["ev_ancient"] && !got["ev_just_past"]
	})
	if got := storedEvents(t, st); !got["ev_near_limit"] || !got["ev_recent"] {
		t.Errorf("events within the retention removed: %v", got)
	}

	clock.Advance(2 * day) // ev_near_limit is now 401 days old
	waitFor(t, "an event that aged past the retention removed at a later sweep", func() bool {
		return !storedEvents(t, st)["ev_near_limit"]
	})
	if got := storedEvents(t, st); !got["ev_recent"] || len(got) != 1 {
		t.Errorf("after the second sweep: %v, want only ev_recent", got)
	}

	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the janitor did not stop with its context")
	}
}

// TestAuditRetentionByDefault: a server started with the defaults keeps
// 400 days of audit events: at start, on its clock, it removes older ones.
func TestAuditRetentionByDefault(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	st, err := sqlite.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := &settableClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} // not the wall clock
	now := clock.Now()
	appendEvents(t, st, map[string]time.Time{
		"ev_401_days": now.Add(-401 * day),
		"ev_399_days": now.Add(-399 * day),
	})
	st.Close()

	cfg := DefaultConfig()
	cfg.DBPath, cfg.Now = path, clock.Now
	if cfg.AuditRetention != 400*day {
		t.Fatalf("the default retention is %v, want 400 days", cfg.AuditRetention)
	}
	startRun(t, cfg)

	st, err = sqlite.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	waitFor(t, "the 401-day-old event removed", func() bool { return !storedEvents(t, st)["ev_401_days"] })
	if !storedEvents(t, st)["ev_399_days"] {
		t.Error("the 399-day-old event was removed")
	}
}

// TestAuditExportSince: `orgscope audit export --since T --format jsonl`
// writes the events at or after T, and only those, one JSON object a line
// with the contract's fields.
func TestAuditExportSince(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	st, err := sqlite.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	appendEvents(t, st, map[string]time.Time{
		"ev_october":   since.Add(-time.Microsecond),
		"ev_at_since":  since,
		"ev_november":  since.Add(14 * day),
		"ev_yesterday": time.Now().Add(-day),
	})
	st.Close()

	code, out, errOut := run(t, nil, "audit", "export", "--db", path, "--since", "2026-11-01T00:00:00Z", "--format", "jsonl")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		for _, field := range []string{"id", "time", "org_code", "client_id", "subject", "actor_chain", "action", "decision", "outcome"} {
			if _, ok := ev[field]; !ok {
				t.Errorf("line %q has no %s", sc.Text(), field)
			}
		}
		when, err := time.Parse(time.RFC3339Nano, ev["time"].(string))
		if err != nil || when.Before(since) {
			t.Errorf("exported an event of %v, before --since", ev["time"])
		}
		got[ev["id"].(string)] = true
	}
	want := map[string]bool{"ev_at_since": true, "ev_november": true, "ev_yesterday": true}
	for id := range want {
		if !got[id] {
			t.Errorf("%s not exported: %s", id, out)
		}
	}
	if got["ev_october"] || len(got) != len(want) {
		t.Errorf("exported %v, want %v", got, want)
	}
}
