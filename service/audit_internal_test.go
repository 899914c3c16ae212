package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/sqlite"
)

// silentStore is a real store that can stop answering: while down, every
// call waits for its context's deadline, or for the store's own deadline
// (wait), and fails as a database that stopped answering does.
type silentStore struct {
	store.Store
	down atomic.Bool
	wait time.Duration
}

func (s *silentStore) silence(ctx context.Context) error {
	if !s.down.Load() {
		return nil
	}
	select {
	case <-ctx.Done():
	case <-time.After(s.wait):
	}
	return fmt.Errorf("%w: context deadline exceeded", store.ErrUnavailable)
}

func (s *silentStore) InTx(ctx context.Context, fn func(tx store.Tx) error) error {
	if err := s.silence(ctx); err != nil {
		return err
	}
	return s.Store.InTx(ctx, fn)
}

func (s *silentStore) ListUsers(ctx context.Context, org string, f store.UserFilter, p store.Page) ([]store.User, string, error) {
	if err := s.silence(ctx); err != nil {
		return nil, "", err
	}
	return s.Store.ListUsers(ctx, org, f, p)
}

// syncLog is a log the test reads while the writer writes it.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newSilentService(t *testing.T) (*silentStore, *Service, *syncLog) {
	t.Helper()
	real, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "audit.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { real.Close() })
	if _, err := real.CreateOrg(t.Context(), store.Org{Code: "org_acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	st := &silentStore{Store: real, wait: time.Second}
	log := &syncLog{}
	svc := New(Options{Store: st, Logger: slog.New(slog.NewTextHandler(log, nil))})
	t.Cleanup(svc.Close)
	return st, svc, log
}

func silentCaller(requestID string) Caller {
	return Caller{Via: ViaMCP, RequestID: requestID, Principal: &auth.Principal{
		Subject: "agent", ClientID: "agent", OrgCode: "org_acme", Scopes: auth.AllScopes}}
}

// TestUnavailableCallIsAnsweredAtOnce: a call the store failed is answered
// after the store's one deadline, not after a second one spent writing its
// audit event; the event is written once the store answers again.
func TestUnavailableCallIsAnsweredAtOnce(t *testing.T) {
	st, svc, _ := newSilentService(t)
	st.down.Store(true)
	start := time.Now()
	_, err := svc.ListUsers(context.Background(), silentCaller("r-silent"), ListUsersInput{})
	elapsed := time.Since(start)
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindUnavailable {
		t.Fatalf("ListUsers on a silent store: %v, want KindUnavailable", err)
	}
	// One deadline is 1 s; writing the event first would take another.
	if elapsed > st.wait+500*time.Millisecond {
		t.Errorf("answered after %v, want within %v", elapsed, st.wait+500*time.Millisecond)
	}
	t.Logf("answered after %v (store deadline %v)", elapsed.Round(time.Millisecond), st.wait)

	st.down.Store(false)
	// A call that succeeds shows the store answers; the held event follows.
	if _, err := svc.ListUsers(t.Context(), silentCaller("r-after"), ListUsersInput{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs, _, err := st.Store.ListAuditEvents(t.Context(), "org_acme", store.AuditFilter{Action: "tools/call:list_users"}, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		var found *store.AuditEvent
		for i := range evs {
			if evs[i].RequestID == "r-silent" {
				found = &evs[i]
			}
		}
		if found != nil {
			if found.Outcome != "error" || found.Reason != "unavailable" || found.Decision != "allow" {
				t.Errorf("held event written as %+v", *found)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the event of the call the store failed was not written after the store came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHeldEventsAreLoggedAsLost: an event held longer than auditHoldFor,
// or one pushed out of a full hold, is logged as lost with its id.
func TestHeldEventsAreLoggedAsLost(t *testing.T) {
	holdFor, retryMin, maxHeld := auditHoldFor, auditRetryMin, maxHeldEvents
	auditHoldFor, auditRetryMin, maxHeldEvents = 50*time.Millisecond, 10*time.Millisecond, 2
	t.Cleanup(func() { auditHoldFor, auditRetryMin, maxHeldEvents = holdFor, retryMin, maxHeld })

	st, svc, log := newSilentService(t)
	st.wait = 20 * time.Millisecond
	st.down.Store(true)
	var ids []string
	for i := range 3 {
		ev := svc.newEvent(silentCaller(fmt.Sprintf("r%d", i)), "list_users")
		ids = append(ids, ev.ID)
		svc.audit.detach(ev)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := log.String()
		if strings.Count(out, "audit event lost") == 3 {
			if !strings.Contains(out, "id="+ids[0]) || !strings.Contains(out, "too many events were waiting") {
				t.Errorf("the first event was not logged as pushed out:\n%s", out)
			}
			for _, id := range ids[1:] {
				if !strings.Contains(out, "id="+id) {
					t.Errorf("event %s not logged as lost:\n%s", id, out)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("want 3 events logged as lost:\n%s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	st.down.Store(false)
	evs, _, err := st.Store.ListAuditEvents(t.Context(), "org_acme", store.AuditFilter{}, store.Page{})
	if err != nil || len(evs) != 0 {
		t.Errorf("events stored after they were logged as lost: %v %v", evs, err)
	}
}
