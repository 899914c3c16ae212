package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// testLimits are defaultHTTPLimits scaled down so a test can wait them out.
var testLimits = httpLimits{header: 300 * time.Millisecond, read: time.Second, write: 4 * time.Second, idle: time.Second, maxHeaderBytes: 8 << 10, maxStreams: 10}

// serveLimited serves h with limits on a loopback port until the test ends.
func serveLimited(t *testing.T, h http.Handler, l httpLimits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(t.Context(), h, l, slog.New(slog.DiscardHandler))
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestLongAnswers: an answer that takes twice the read limit (and far
// longer than the header limit) arrives whole, its handler's context alive
// all along; so does a large answer.
func TestLongAnswers(t *testing.T) {
	const big = 32 << 20
	slow := 2 * testLimits.read
	mux := http.NewServeMux()
	mux.HandleFunc("POST /slow", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		select {
		case <-time.After(slow):
		case <-r.Context().Done():
			http.Error(w, "context ended: "+context.Cause(r.Context()).Error(), 500)
			return
		}
		w.Write(append([]byte("done: "), body...))
	})
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("x"), big))
	})
	url := serveLimited(t, mux, testLimits)

	resp, err := http.Post(url+"/slow", "application/json", strings.NewReader(`{"jsonrpc":"2.0"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `done: {"jsonrpc":"2.0"}` {
		t.Errorf("slow answer: %d %q", resp.StatusCode, body)
	}

	resp, err = http.Get(url + "/big")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != big {
		t.Errorf("big answer: %d of %d bytes (%v)", n, big, err)
	}
}

// TestSlowClientsDropped: a client that never finishes its headers is
// disconnected after the header limit, one that never finishes its body
// after the read limit; neither is held for the write limit.
func TestSlowClientsDropped(t *testing.T) {
	url := serveLimited(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}), testLimits)
	for _, tc := range []struct {
		name, sent string
		within     time.Duration
	}{
		{"headers", "POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ", testLimits.read},
		{"body", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{", testLimits.write},
	} {
		c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte(tc.sent))
		start := time.Now()
		c.SetReadDeadline(time.Now().Add(tc.within)) // the bound the limit must beat
		_, err = io.Copy(io.Discard, c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("slow %s: still connected after %v", tc.name, time.Since(start))
		}
	}
}

// TestHeaderSizeLimit: oversized headers are refused with 431.
func TestHeaderSizeLimit(t *testing.T) {
	url := serveLimited(t, http.NotFoundHandler(), testLimits)
	req, _ := http.NewRequest("GET", url+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 2*testLimits.maxHeaderBytes))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status %d, want 431", resp.StatusCode)
	}
}

// TestDefaultHTTPLimits: every limit is set, and answers get far more time
// than requests.
func TestDefaultHTTPLimits(t *testing.T) {
	l := defaultHTTPLimits
	srv := newHTTPServer(t.Context(), http.NotFoundHandler(), l, slog.New(slog.DiscardHandler))
	if srv.ReadHeaderTimeout <= 0 || srv.ReadHeaderTimeout >= 10*time.Second || srv.IdleTimeout <= 0 ||
		srv.MaxHeaderBytes <= 0 || srv.HTTP2 == nil || srv.HTTP2.MaxConcurrentStreams <= 0 {
		t.Errorf("limits not all set: %+v", srv)
	}
	if srv.ReadTimeout <= srv.ReadHeaderTimeout || srv.WriteTimeout < 2*srv.ReadTimeout || srv.WriteTimeout < 30*time.Second {
		t.Errorf("ReadTimeout %v, WriteTimeout %v: slow answers would be cut short", srv.ReadTimeout, srv.WriteTimeout)
	}
}
