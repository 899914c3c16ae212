package authserver_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/orgscope/orgscope/authserver"
)

// TestMetadataDocumentFailuresAreRemembered: a document that cannot be
// fetched or used is not fetched again for a minute, however often it is
// named; a document without client_name is refused.
func TestMetadataDocumentFailuresAreRemembered(t *testing.T) {
	host := newCIMDHost(t)
	host.docs["/nameless.json"] = jsonDoc("max-age=600", map[string]any{"redirect_uris": []string{flowRedirect}, "token_endpoint_auth_method": "none"})
	host.docs["/named.json"] = jsonDoc("max-age=600", map[string]any{"client_name": "Named", "redirect_uris": []string{flowRedirect},
		"token_endpoint_auth_method": "none"})
	f := newFixture(t, func(o *authserver.Options) {
		o.MetadataDocumentClient, o.MetadataDocumentAllowPrivate = host.srv.Client(), true
	})
	h := f.as.Handler()

	rec, _ := authorizePage(t, h, host.srv.URL+"/named.json", flowRedirect)
	if rec.Code != http.StatusOK {
		t.Fatalf("a document with client_name: %d %s", rec.Code, alertOf(rec.Body.String()))
	}
	for _, path := range []string{"/nameless.json", "/missing.json"} {
		before := host.fetches.Load()
		for range 5 {
			rec, _ := authorizePage(t, h, host.srv.URL+path, flowRedirect)
			if rec.Code != http.StatusBadRequest || rec.Header().Get("Location") != "" {
				t.Fatalf("%s: %d %s", path, rec.Code, alertOf(rec.Body.String()))
			}
			if path == "/nameless.json" && !strings.Contains(alertOf(rec.Body.String()), "client_name") {
				t.Errorf("%s: %s", path, alertOf(rec.Body.String()))
			}
		}
		if n := host.fetches.Load() - before; n != 1 {
			t.Errorf("%s fetched %d times for five requests, want 1", path, n)
		}
		f.clock.Advance(61 * time.Second)
		authorizePage(t, h, host.srv.URL+path, flowRedirect)
		if n := host.fetches.Load() - before; n != 2 {
			t.Errorf("%s fetched %d times after its failure expired, want 2", path, n)
		}
	}
}

// slowHost serves valid metadata documents, each answer held back until
// release is called, and counts fetches and the most running at once.
type slowHost struct {
	srv                     *httptest.Server
	inFlight, most, fetches atomic.Int64
	release                 func()
}

func newSlowHost(t *testing.T) *slowHost {
	h := &slowHost{}
	gate := make(chan struct{})
	var once sync.Once
	h.release = func() { once.Do(func() { close(gate) }) }
	h.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.fetches.Add(1)
		n := h.inFlight.Add(1)
		defer h.inFlight.Add(-1)
		for {
			m := h.most.Load()
			if n <= m || h.most.CompareAndSwap(m, n) {
				break
			}
		}
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"client_id":"https://` + r.Host + r.URL.Path + `","client_name":"Slow","redirect_uris":["` +
			flowRedirect + `"],"token_endpoint_auth_method":"none"}`))
	}))
	t.Cleanup(h.srv.Close)
	t.Cleanup(h.release)
	return h
}

// authorizeAll sends n authorization requests at once; once started is
// true (or five seconds passed) and stragglers had a moment to arrive, it
// releases the host's answers and returns the statuses.
func authorizeAll(t *testing.T, host *slowHost, n int, clientID func(i int) string, started func() bool) []int {
	f := newFixture(t, func(o *authserver.Options) {
		o.MetadataDocumentClient, o.MetadataDocumentAllowPrivate = host.srv.Client(), true
	})
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			rec, _ := authorizePage(t, f.as.Handler(), clientID(i), flowRedirect)
			codes[i] = rec.Code
		})
	}
	deadline := time.Now().Add(3 * time.Second)
	for !started() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	host.release()
	wg.Wait()
	return codes
}

// TestMetadataDocumentFetchesAreBounded: however many authorization
// requests name documents at once, at most eight fetches run at a time,
// and requests naming the same document share one fetch.
func TestMetadataDocumentFetchesAreBounded(t *testing.T) {
	t.Run("distinct documents", func(t *testing.T) {
		host := newSlowHost(t)
		codes := authorizeAll(t, host, 20, func(i int) string { return host.srv.URL + "/distinct/" + strconv.Itoa(i) + ".json" },
			func() bool { return host.inFlight.Load() >= 8 })
		if m := host.most.Load(); m > 8 || m == 0 {
			t.Errorf("%d metadata fetches ran at once, want 1 to 8", m)
		}
		for i, c := range codes {
			if c != http.StatusOK {
				t.Errorf("request %d: %d", i, c)
			}
		}
	})
	t.Run("one document", func(t *testing.T) {
		host := newSlowHost(t)
		codes := authorizeAll(t, host, 10, func(int) string { return host.srv.URL + "/shared.json" },
			func() bool { return host.fetches.Load() >= 1 })
		if n := host.fetches.Load(); n != 1 {
			t.Errorf("ten concurrent requests for one document made %d fetches, want 1", n)
		}
		for i, c := range codes {
			if c != http.StatusOK {
				t.Errorf("request %d: %d", i, c)
			}
		}
	})
}

// TestMetadataDocumentCallerGivingUp: a request that ends while the
// document is being fetched gets an answer at once, and the fetch still
// serves the requests that wait for it.
func TestMetadataDocumentCallerGivingUp(t *testing.T) {
	release := make(chan struct{})
	var fetches atomic.Int64
	host := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		<-release
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"client_id":"https://` + r.Host + r.URL.Path + `","client_name":"Slow","redirect_uris":["` + flowRedirect + `"]}`))
	}))
	t.Cleanup(host.Close)
	f := newFixture(t, func(o *authserver.Options) {
		o.MetadataDocumentClient, o.MetadataDocumentAllowPrivate = host.Client(), true
	})
	clientID := host.URL + "/doc.json"
	q := authorizeQuery(clientID, oauth2.GenerateVerifier())
	ctx, cancel := context.WithCancel(t.Context())
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, authserver.AuthorizePath+"?"+q.Encode(), nil)
	done := make(chan int)
	go func() {
		rec := httptest.NewRecorder()
		f.as.Handler().ServeHTTP(rec, req)
		done <- rec.Code
	}()
	for fetches.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	patient := make(chan int)
	go func() {
		rec, _ := authorizePage(t, f.as.Handler(), clientID, flowRedirect)
		patient <- rec.Code
	}()
	cancel()
	select {
	case code := <-done:
		if code == http.StatusOK {
			t.Errorf("a request that gave up was answered 200")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a request that gave up is still waiting for the fetch")
	}
	close(release)
	if code := <-patient; code != http.StatusOK {
		t.Errorf("the request still waiting: %d", code)
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
}
