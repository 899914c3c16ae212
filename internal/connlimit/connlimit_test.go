package connlimit_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orgscope/orgscope/internal/connlimit"
)

// server is an HTTP server on 127.0.0.1 behind connlimit, counting the
// connections it holds (its own view, from ConnState).
type server struct {
	url     string
	refused atomic.Int64

	mu       sync.Mutex
	open     int
	maxOpen  int
	accepted int
}

func startServer(t *testing.T, opts connlimit.Options) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{url: "http://" + ln.Addr().String()}
	opts.Refused = func(string) { s.refused.Add(1) }
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		ReadHeaderTimeout: time.Minute, // slow clients stay as long as the test needs
		ConnState: func(_ net.Conn, st http.ConnState) {
			s.mu.Lock()
			defer s.mu.Unlock()
			switch st {
			case http.StateNew:
				s.open++
				s.accepted++
				s.maxOpen = max(s.maxOpen, s.open)
			case http.StateClosed, http.StateHijacked:
				s.open--
			}
		},
	}
	go srv.Serve(connlimit.Listen(ln, &opts))
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *server) counts() (open, maxOpen, accepted int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open, s.maxOpen, s.accepted
}

// from returns a dialer whose connections come from the loopback address ip
// (on Linux every 127.0.0.0/8 address is the local host; elsewhere the test
// is skipped when ip is not configured).
func from(t *testing.T, ip string) *net.Dialer {
	t.Helper()
	if ln, err := net.Listen("tcp", ip+":0"); err != nil {
		if runtime.GOOS == "linux" {
			t.Fatalf("%s: %v", ip, err)
		}
		t.Skipf("%s is not a local address here (%v); these tests need several loopback addresses", ip, err)
	} else {
		ln.Close()
	}
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
}

// slowClients opens n connections from d that send half a request header
// and then nothing, the way a slowloris client does. It returns those that
// were still open after the header was sent (a refused one may be reset
// before that).
func slowClients(t *testing.T, d *net.Dialer, url string, n int) []net.Conn {
	t.Helper()
	addr := url[len("http://"):]
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range n {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			continue // reset by the server at once
		}
		conns = append(conns, c)
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "))
	}
	return conns
}

// held returns the connections the server still holds: those whose read
// times out rather than failing.
func held(conns []net.Conn) []net.Conn {
	var out []net.Conn
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			out = append(out, c)
		}
	}
	return out
}

// get makes one request over a fresh connection from d.
func get(d *net.Dialer, url string, timeout time.Duration) error {
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || string(body) != "ok" {
		return fmt.Errorf("status %d, body %q, err %v", resp.StatusCode, body, err)
	}
	return nil
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPerAddress: many slow connections from one address get only their
// share; the rest are closed at once, and another address's calls go
// through as usual.
func TestPerAddress(t *testing.T) {
	s := startServer(t, connlimit.Options{Total: 100, PerAddress: 5})
	greedy, other := from(t, "127.0.0.2"), from(t, "127.0.0.1")

	conns := slowClients(t, greedy, s.url, 60)
	waitFor(t, "55 refusals", func() bool { return s.refused.Load() == 55 })
	if open, _, _ := s.counts(); open != 5 {
		t.Errorf("server holds %d connections of the greedy address, want 5", open)
	}
	// The refused ones learn at once: reading fails instead of waiting for
	// an answer.
	kept := held(conns)
	if len(kept) != 5 {
		t.Errorf("%d slow connections are still open, want 5", len(kept))
	}

	for i := range 20 {
		if err := get(other, s.url, 5*time.Second); err != nil {
			t.Fatalf("call %d from another address: %v", i, err)
		}
	}
	if err := get(greedy, s.url, 5*time.Second); err == nil {
		t.Error("a sixth connection from the greedy address was served")
	}

	// Closing one slow connection gives its slot back.
	if len(kept) == 0 {
		t.FailNow()
	}
	kept[0].Close()
	waitFor(t, "the greedy address to be served again", func() bool { return get(greedy, s.url, 5*time.Second) == nil })
}

// TestTotal: the server never holds more than Total connections, whoever
// opens them; beyond it connections wait (in the kernel's backlog) and are
// served once others close.
func TestTotal(t *testing.T) {
	s := startServer(t, connlimit.Options{Total: 8, PerAddress: -1})
	slow, other := from(t, "127.0.0.3"), from(t, "127.0.0.1")

	conns := slowClients(t, slow, s.url, 30)
	waitFor(t, "8 connections held", func() bool { open, _, _ := s.counts(); return open == 8 })

	answered := make(chan error, 1)
	go func() { answered <- get(other, s.url, 30*time.Second) }()
	select {
	case err := <-answered:
		t.Fatalf("a call was answered while the total was in use (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	if _, maxOpen, accepted := s.counts(); maxOpen != 8 || accepted != 8 || s.refused.Load() != 0 {
		t.Errorf("held at most %d, accepted %d, refused %d; want 8, 8, 0", maxOpen, accepted, s.refused.Load())
	}

	for _, c := range conns {
		c.Close()
	}
	select {
	case err := <-answered:
		if err != nil {
			t.Fatalf("the waiting call, once the slow connections closed: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the waiting call was not answered after the slow connections closed")
	}
	if _, maxOpen, _ := s.counts(); maxOpen > 8 {
		t.Errorf("held %d connections at once, want at most 8", maxOpen)
	}
}
