package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"sync"
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/postgres"
	"github.com/orgscope/orgscope/store/postgres/pgtest"
)

// TestSilentNetwork puts the store behind a proxy that starts swallowing
// every packet (connections stay open, nothing arrives, nothing is
// refused): each kind of call returns store.ErrUnavailable within the
// query timeout plus a margin; once the network is back the same store
// serves calls again, and every write it acknowledged is stored.
func TestSilentNetwork(t *testing.T) {
	url, schema := pgtest.URL(t), pgtest.Schema(t)
	direct := openIn(t, schema, nil) // migrates, and checks the outcome later
	proxy := pgtest.NewProxy(t, hostOf(t, url))
	const timeout = time.Second
	const margin = 3 * time.Second // generous: the bound is the point, not its tightness
	s, err := open(t, proxy.Via(url), schema, &postgres.Options{QueryTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	if _, err := s.CreateOrg(ctx, store.Org{Code: "org_a"}); err != nil {
		t.Fatal(err)
	}
	// Several open connections, all of which will go silent.
	if err := errors.Join(race(6, func(int) error { _, err := s.GetOrg(ctx, "org_a"); return err })...); err != nil {
		t.Fatal(err)
	}

	// Writers keep going through the outage; what they are told succeeded
	// must be there at the end.
	var (
		mu           sync.Mutex
		acknowledged []string
		stop         = make(chan struct{})
		writers      sync.WaitGroup
	)
	for w := range 3 {
		writers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				u := store.User{ID: store.NewID(store.UserIDPrefix), OrgCode: "org_a", Email: fmt.Sprintf("w%d-%d@a.io", w, i),
					Status: store.UserActive, Role: store.RoleMember}
				start := time.Now()
				_, err := s.CreateUser(ctx, u)
				switch {
				case err == nil:
					mu.Lock()
					acknowledged = append(acknowledged, u.ID)
					mu.Unlock()
				case !errors.Is(err, store.ErrUnavailable):
					t.Errorf("writer %d: CreateUser: %v, want success or ErrUnavailable", w, err)
				case time.Since(start) > timeout+margin:
					t.Errorf("writer %d: CreateUser failed after %v", w, time.Since(start))
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	time.Sleep(100 * time.Millisecond)

	proxy.Swallow()
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"GetOrg", func(ctx context.Context) error { _, err := s.GetOrg(ctx, "org_a"); return err }},
		{"CreateUser", func(ctx context.Context) error {
			_, err := s.CreateUser(ctx, store.User{ID: store.NewID(store.UserIDPrefix), OrgCode: "org_a", Email: "x@a.io"})
			return err
		}},
		{"UpdateOrg", func(ctx context.Context) error {
			_, err := s.UpdateOrg(ctx, "org_a", store.OrgUpdate{Name: new("B")})
			return err
		}},
		{"InTx", func(ctx context.Context) error {
			return s.InTx(ctx, func(tx store.Tx) error { _, err := tx.GetOrg(ctx, "org_a"); return err })
		}},
		{"Ping", s.Ping},
	}
	for round := range 2 { // the second round meets fresh connections, dialed into the black hole
		for _, c := range calls {
			start := time.Now()
			err := c.call(ctx)
			elapsed := time.Since(start)
			if !errors.Is(err, store.ErrUnavailable) || elapsed > timeout+margin {
				t.Errorf("round %d: %s on a silent network: %v after %v; want ErrUnavailable within %v", round, c.name, err, elapsed, timeout+margin)
			}
			t.Logf("round %d: %s: ErrUnavailable after %v", round, c.name, elapsed.Round(time.Millisecond))
		}
	}

	proxy.Heal()
	recovered := time.Now()
	for {
		_, err := s.GetOrg(ctx, "org_a")
		if err == nil {
			break
		}
		if time.Since(recovered) > 30*time.Second {
			t.Fatalf("the store did not recover after the network came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("recovered %v after the network came back", time.Since(recovered).Round(time.Millisecond))
	for _, c := range calls {
		if err := c.call(ctx); err != nil {
			t.Errorf("%s after recovery: %v", c.name, err)
		}
	}
	close(stop)
	writers.Wait()

	mu.Lock()
	defer mu.Unlock()
	if len(acknowledged) == 0 {
		t.Fatal("no write was acknowledged")
	}
	for _, id := range acknowledged {
		if _, err := direct.GetUser(ctx, "org_a", id); err != nil {
			t.Errorf("acknowledged user %s: %v", id, err)
		}
	}
	t.Logf("%d acknowledged writes, all stored", len(acknowledged))
}

// hostOf returns the host:port of a postgres:// URL.
func hostOf(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := neturl.Parse(dbURL)
	if err != nil || u.Hostname() == "" {
		t.Fatalf("test database URL %q: want postgres://host:port/...", dbURL)
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	return net.JoinHostPort(u.Hostname(), port)
}
