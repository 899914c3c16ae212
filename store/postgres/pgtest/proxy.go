package pgtest

import (
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy forwards TCP connections to a database and fails the way networks
// do, on demand: [Proxy.Cut] closes every connection and refuses new ones
// (a restart, a closed port: the client hears about it at once), and
// [Proxy.Swallow] keeps every connection open, accepts new ones and
// delivers nothing in either direction (a link that silently drops
// packets: the client hears nothing, ever). [Proxy.Restore] and
// [Proxy.Heal] undo them.
type Proxy struct {
	tb     testing.TB
	addr   string
	target string

	swallowing atomic.Bool
	mu         sync.Mutex
	ln         net.Listener
	conns      map[net.Conn]bool
}

// NewProxy starts a proxy to target (host:port) on a loopback port; it
// stops when the test ends.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	p := &Proxy{tb: tb, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	tb.Cleanup(p.Cut)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.addr }

// Via returns the database URL dbURL with its host replaced by the proxy's.
func (p *Proxy) Via(dbURL string) string {
	p.tb.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		p.tb.Fatalf("pgtest: database URL: %v", err)
	}
	u.Host = p.addr
	return u.String()
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", p.target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns[in], p.conns[out] = true, true
			p.mu.Unlock()
			go p.pump(out, in)
			go p.pump(in, out)
		}
	}()
}

// pump copies from src to dst, dropping what it reads while the proxy
// swallows, and closes dst when src ends.
func (p *Proxy) pump(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.swallowing.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Cut closes every connection and the listener: new connections are
// refused until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Restore listens again on the same address after Cut.
func (p *Proxy) Restore() {
	var ln net.Listener
	var err error
	for range 50 { // the port was just released
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.tb.Fatalf("pgtest: proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// Swallow makes every connection, open or new, a black hole: bytes sent
// either way are accepted and dropped.
func (p *Proxy) Swallow() { p.swallowing.Store(true) }

// Heal forwards again after Swallow. What was dropped stays dropped.
func (p *Proxy) Heal() { p.swallowing.Store(false) }
