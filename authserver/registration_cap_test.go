package authserver_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orgscope/orgscope/authserver"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/sqlite"
)

// TestRegistrationCapHolds: 64 concurrent anonymous registrations against a
// cap of 20 make exactly 20 clients (the store counts and inserts as one
// step), and the refusals are RFC 7591 error JSON with Retry-After.
func TestRegistrationCapHolds(t *testing.T) {
	st := newStore(t)
	s, err := authserver.New(t.Context(), authserver.Options{Issuer: issuer, Resource: resource, Store: st,
		MaxRegisteredClients: 20, RegistrationsPerAddress: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	var mu sync.Mutex
	codes := map[int]int{}
	var refusal map[string]any
	var retryAfter string
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			resp, err := http.Post(srv.URL+authserver.RegisterPath, "application/json",
				strings.NewReader(`{"redirect_uris":["http://127.0.0.1:9/cb"],"token_endpoint_auth_method":"none","client_name":"racer"}`))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			codes[resp.StatusCode]++
			if resp.StatusCode == http.StatusTooManyRequests && refusal == nil {
				json.NewDecoder(resp.Body).Decode(&refusal)
				retryAfter = resp.Header.Get("Retry-After")
			}
		})
	}
	wg.Wait()
	if codes[http.StatusCreated] != 20 || codes[http.StatusTooManyRequests] != 44 {
		t.Errorf("answers %v, want 20 created and 44 refused", codes)
	}
	if refusal["error"] != "temporarily_unavailable" || refusal["error_description"] == "" || retryAfter == "" {
		t.Errorf("refusal %v, Retry-After %q", refusal, retryAfter)
	}
	n := 0
	err = st.InTx(t.Context(), func(tx store.Tx) error {
		var err error
		n, err = tx.CountClients(t.Context(), store.ClientRegistered)
		return err
	})
	if err != nil || n != 20 {
		t.Errorf("%d registered clients stored (%v), want 20", n, err)
	}
}

// TestUnusedRegistrationsExpireSoon: a registration that never completed an
// authorization is gone after an hour, so a flood of them frees the cap
// quickly; one that was used stays for the idle period.
func TestUnusedRegistrationsExpireSoon(t *testing.T) {
	ctx := t.Context()
	clk := newClock()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "as.db"), &sqlite.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := authserver.New(ctx, authserver.Options{Issuer: issuer, Resource: resource, Store: st,
		MaxRegisteredClients: 2, RegistrationsPerAddress: -1, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	register := func() int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, authserver.RegisterPath,
			strings.NewReader(`{"redirect_uris":["http://127.0.0.1:9/cb"],"token_endpoint_auth_method":"none","client_name":"app"}`))
		req.Header.Set("Content-Type", "application/json")
		s.Handler().ServeHTTP(rec, req)
		if rec.Code == http.StatusCreated {
			var r struct {
				ClientID string `json:"client_id"`
			}
			json.Unmarshal(rec.Body.Bytes(), &r)
			if r.ClientID == "" {
				t.Fatalf("no client_id: %s", rec.Body)
			}
			ids = append(ids, r.ClientID)
		}
		return rec.Code
	}
	for i, want := range []int{201, 201, 429} {
		if got := register(); got != want {
			t.Fatalf("registration %d: %d, want %d", i, got, want)
		}
	}
	// One of the two completes an authorization (its use is recorded).
	if err := st.TouchClient(ctx, ids[0], clk.Now()); err != nil {
		t.Fatal(err)
	}
	clk.Advance(61 * time.Minute)
	if got := register(); got != 201 {
		t.Fatalf("after an hour, registration: %d, want 201 (the unused one expired)", got)
	}
	if _, err := st.GetClient(ctx, ids[0]); err != nil {
		t.Errorf("the used registration was removed: %v", err)
	}
	if _, err := st.GetClient(ctx, ids[1]); err == nil {
		t.Errorf("the unused registration is still there after an hour")
	}
}
