package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/orgscope/orgscope/store"
)

// These tests need no database: they run everywhere.

// closedPort returns the address of a local port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentServer accepts connections and never answers, as a host that is up
// while its database hangs would.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return l.Addr().String()
}

func TestOpenUnreachable(t *testing.T) {
	for _, c := range []struct {
		name, addr string
		opts       *Options
	}{
		{"closed port", closedPort(t), nil},
		{"silent server", silentServer(t), &Options{ConnectTimeout: 300 * time.Millisecond}},
	} {
		start := time.Now()
		s, err := Open(t.Context(), "postgres://orgscope@"+c.addr+"/orgscope?sslmode=disable", c.opts)
		elapsed := time.Since(start)
		if err == nil {
			s.Close()
			t.Fatalf("%s: Open succeeded", c.name)
		}
		if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), c.addr) || elapsed > 5*time.Second {
			t.Errorf("%s: Open = %v after %v; want ErrUnavailable naming %s, quickly", c.name, err, elapsed, c.addr)
		}
		t.Logf("%s: %v (%v)", c.name, err, elapsed.Round(time.Millisecond))
	}
}

// TestPingUnreachable builds a store on a pool whose database is gone (Open
// would refuse to return one) and checks that calls fail with
// store.ErrUnavailable instead of hanging.
func TestPingUnreachable(t *testing.T) {
	cfg, err := poolConfig("postgres://orgscope@"+closedPort(t)+"/orgscope?sslmode=disable", Options{})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(pool, Options{})
	defer s.Close()
	if err := s.Ping(t.Context()); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping: %v, want ErrUnavailable", err)
	}
	if _, err := s.GetOrg(t.Context(), "org_a"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("GetOrg: %v, want ErrUnavailable", err)
	}
	if err := s.CreateUsers(t.Context(), []store.User{{ID: "usr_1", OrgCode: "org_a"}}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("CreateUsers: %v, want ErrUnavailable", err)
	}
}

func TestPoolConfig(t *testing.T) {
	for _, c := range []struct {
		name, url       string
		opts            Options
		timeout         string
		connect         time.Duration
		maxConns        int32
		searchPath, app string
	}{
		{"defaults", "postgres://h/db", Options{}, "5000", 5 * time.Second, 0, "", "orgscope"},
		{"url settings", "postgres://h/db?statement_timeout=100&connect_timeout=2&pool_max_conns=7&application_name=x", Options{},
			"100", 2 * time.Second, 7, "", "x"},
		{"options win", "postgres://h/db?statement_timeout=100&connect_timeout=2&pool_max_conns=7",
			Options{StatementTimeout: 1500 * time.Millisecond, ConnectTimeout: time.Second, MaxConns: 3, Schema: `we"ird`},
			"1500", time.Second, 3, `"we""ird"`, "orgscope"},
		{"no timeout", "postgres://h/db", Options{StatementTimeout: -1}, "", 5 * time.Second, 0, "", "orgscope"},
	} {
		cfg, err := poolConfig(c.url, c.opts)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		// A call's end sets a deadline on the socket at once, with no
		// cancel request on the call's path.
		handler := cfg.ConnConfig.BuildContextWatcherHandler(&pgconn.PgConn{})
		if h, ok := handler.(*pgconn.DeadlineContextWatcherHandler); !ok || h.DeadlineDelay != 0 {
			t.Errorf("%s: context watcher %#v, want an immediate deadline", c.name, handler)
		}
		if cfg.ConnConfig.AfterNetConnect == nil {
			t.Errorf("%s: no AfterNetConnect to clear the dialer's deadline", c.name)
		}
		p := cfg.ConnConfig.RuntimeParams
		if p["statement_timeout"] != c.timeout || cfg.ConnConfig.ConnectTimeout != c.connect ||
			(c.maxConns != 0 && cfg.MaxConns != c.maxConns) || p["search_path"] != c.searchPath || p["application_name"] != c.app {
			t.Errorf("%s: statement_timeout %q, connect %v, max %d, search_path %q, app %q; want %q, %v, %d, %q, %q", c.name,
				p["statement_timeout"], cfg.ConnConfig.ConnectTimeout, cfg.MaxConns, p["search_path"], p["application_name"],
				c.timeout, c.connect, c.maxConns, c.searchPath, c.app)
		}
	}
}

func TestClassify(t *testing.T) {
	pgErr := func(code string) error { return &pgconn.PgError{Code: code, Message: "m"} }
	d := dialect{closed: new(atomic.Bool)}
	for _, c := range []struct {
		err  error
		want error
	}{
		{pgErr("23505"), store.ErrConflict},
		{pgErr("23503"), store.ErrNotFound},
		{pgx.ErrNoRows, store.ErrNotFound},
		{pgErr("57P01"), store.ErrUnavailable},
		{pgErr("57P03"), store.ErrUnavailable},
		{pgErr("08006"), store.ErrUnavailable},
		{pgErr("53300"), store.ErrUnavailable},
		{pgErr("57014"), store.ErrUnavailable},
		{pgErr("55P03"), store.ErrUnavailable},
		{&pgconn.ConnectError{}, store.ErrUnavailable},
		{&net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, store.ErrUnavailable},
		{io.ErrUnexpectedEOF, store.ErrUnavailable},
		{pgconn.ErrConnClosed, store.ErrUnavailable},
		{context.DeadlineExceeded, store.ErrUnavailable},
		{context.Canceled, nil},
		{pgErr("23502"), nil}, // not_null_violation: a bug, not the caller's conflict
		{pgErr("42601"), nil}, // syntax_error
	} {
		if got := d.Classify(c.err); got != c.want {
			t.Errorf("classify(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestDialerBoundsClosing checks the bounds netconn.go puts on a silent
// server: a connection pgx never finished opening (a cancel request's)
// stops reading at the connect timeout, and a deadline set further away
// than closeGrace (pgx's 15 s when closing) is brought down to it.
func TestDialerBoundsClosing(t *testing.T) {
	addr := silentServer(t)
	d := &dialer{net.Dialer{Timeout: 300 * time.Millisecond}}
	read := func(c net.Conn) time.Duration {
		start := time.Now()
		_, err := c.Read(make([]byte, 1))
		var netErr net.Error
		if !errors.As(err, &netErr) || !netErr.Timeout() {
			t.Fatalf("Read from a silent server: %v, want a timeout", err)
		}
		return time.Since(start)
	}

	cancelConn, err := d.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cancelConn.Close()
	if elapsed := read(cancelConn); elapsed > 5*time.Second {
		t.Errorf("a connection never opened for queries read for %v, want about the connect timeout", elapsed)
	}

	queryConn, err := d.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer queryConn.Close()
	if _, err := afterConnect(t.Context(), nil, queryConn); err != nil {
		t.Fatal(err)
	}
	if err := queryConn.SetDeadline(time.Now().Add(15 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if elapsed := read(queryConn); elapsed < closeGrace-100*time.Millisecond || elapsed > closeGrace+5*time.Second {
		t.Errorf("with pgx's closing deadline, a read lasted %v, want about %v", elapsed, closeGrace)
	}
}
