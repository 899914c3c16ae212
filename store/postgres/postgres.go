package postgres

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/internal/sqlstore"
)

// Defaults of [Options].
const (
	// DefaultQueryTimeout is the deadline of every store call.
	DefaultQueryTimeout = sqlstore.DefaultQueryTimeout
	// DefaultStatementTimeout is the server-side limit on one statement.
	DefaultStatementTimeout = 5 * time.Second
	// DefaultConnectTimeout bounds opening one connection (dial, TLS and
	// startup), so that an unreachable database fails fast instead of
	// waiting for the operating system's TCP timeout.
	DefaultConnectTimeout = 5 * time.Second
	// DefaultApplicationName is reported in pg_stat_activity when the URL
	// names no application_name.
	DefaultApplicationName = "orgscope"
)

// keepAlive probes idle connections, so that one whose peer vanished (a
// host gone, a link cut without a reset) is found dead in about 30 s
// rather than at the next call.
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3}

// Options configures [Open]. A nil *Options means every default.
type Options struct {
	// Now returns the current time. The store stamps CreatedAt, UpdatedAt,
	// UsedAt, RotatedAt and RevokedAt with it and compares expiry times
	// against it. Nil means time.Now.
	Now func() time.Time
	// Observe, when set, is told of every call: its operation, its outcome
	// (ok, error, unavailable) and how long it took (metrics).
	Observe func(op, outcome string, d time.Duration)
	// QueryTimeout bounds every call (a transaction of InTx as a whole;
	// bulk creates get one more for every 50,000 rows), unless the
	// caller's deadline is earlier, acquiring or opening a
	// connection included; running out of it is store.ErrUnavailable, even
	// on a connection whose packets are silently dropped. Zero means
	// DefaultQueryTimeout.
	QueryTimeout time.Duration
	// StatementTimeout is set as the statement_timeout parameter of every
	// connection, so the server cancels any one statement that runs longer
	// (the store then returns store.ErrUnavailable). Zero means the URL's
	// statement_timeout if it has one, else DefaultStatementTimeout; a
	// negative value leaves the server's setting. Migrations are exempt.
	StatementTimeout time.Duration
	// ConnectTimeout bounds opening one connection. Zero means the URL's
	// connect_timeout if it has one, else DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// MaxConns caps the pool. Zero means the URL's pool_max_conns if it has
	// one, else pgxpool's default, max(4, number of CPUs).
	MaxConns int
	// Schema, when set, is the schema that holds OrgScope's tables: every
	// connection uses it as its search_path and Open creates it if it is
	// missing. Empty means the URL's search_path (normally "public").
	Schema string
}

// Store is a [store.Store] kept in a PostgreSQL database. The queries are
// sqlstore's; this package adds the pool, the dialect and the schema.
type Store struct {
	*sqlstore.Store
	pool   *pgxpool.Pool
	closed atomic.Bool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string, as pgx accepts) and applies any migration it lacks.
// A database that cannot be reached fails with store.ErrUnavailable after
// at most the connect timeout (or ctx's deadline, if sooner).
func Open(ctx context.Context, url string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	cfg, err := poolConfig(url, o)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	s := newStore(pool, o)
	if err := pool.Ping(ctx); err != nil {
		err = fmt.Errorf("postgres: open: %w: %w", store.ErrUnavailable, err)
		pool.Close()
		return nil, err
	}
	if err := migrate(ctx, pool, o.Schema, o.Now().UTC().Truncate(time.Microsecond)); err != nil {
		if kind := s.dialect().Classify(err); kind != nil {
			err = fmt.Errorf("%w: %w", kind, err)
		}
		pool.Close()
		return nil, fmt.Errorf("postgres: open: migrate: %w", err)
	}
	return s, nil
}

// newStore builds the store on pool.
func newStore(pool *pgxpool.Pool, o Options) *Store {
	s := &Store{pool: pool}
	s.Store = sqlstore.New(sqlstore.Config{
		Dialect:      s.dialect(),
		Reader:       conn{pool},
		Writer:       conn{pool},
		InTx:         s.inTx,
		Now:          o.Now,
		QueryTimeout: o.QueryTimeout,
		Observe:      o.Observe,
	})
	return s
}

func (s *Store) dialect() dialect { return dialect{pool: s.pool, closed: &s.closed} }

// poolConfig parses url and applies the options on top of it.
//
// Every connection is dialed with TCP keep-alive, and reacts to the end of
// a call's context by setting a deadline on its socket at once: the read
// or write in progress fails, pgx closes the connection, and the call
// returns within its deadline even when the network silently drops every
// packet. (pgx then sends the server a cancel request in the background,
// so that a statement still running there stops too; netconn.go bounds
// how long that may take.)
func poolConfig(url string, o Options) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx redacts the password in its parse errors.
		return nil, err
	}
	conn := cfg.ConnConfig
	params := conn.RuntimeParams
	switch {
	case o.StatementTimeout > 0:
		params["statement_timeout"] = strconv.FormatInt(o.StatementTimeout.Milliseconds(), 10)
	case o.StatementTimeout == 0 && params["statement_timeout"] == "":
		params["statement_timeout"] = strconv.FormatInt(DefaultStatementTimeout.Milliseconds(), 10)
	}
	if o.Schema != "" {
		params["search_path"] = pgx.Identifier{o.Schema}.Sanitize()
	}
	if params["application_name"] == "" {
		params["application_name"] = DefaultApplicationName
	}
	switch {
	case o.ConnectTimeout > 0:
		conn.ConnectTimeout = o.ConnectTimeout
	case conn.ConnectTimeout == 0:
		conn.ConnectTimeout = DefaultConnectTimeout
	}
	d := &dialer{net.Dialer{Timeout: conn.ConnectTimeout, KeepAliveConfig: keepAlive}}
	conn.DialFunc = d.DialContext
	conn.AfterNetConnect = afterConnect
	conn.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = int32(o.MaxConns)
	}
	return cfg, nil
}

// Ping reports whether the database answers, acquiring a connection (and
// opening one if the pool has none) to ask it.
func (s *Store) Ping(ctx context.Context) error {
	return s.Run(ctx, "ping", func(ctx context.Context) error {
		if err := s.pool.Ping(ctx); err != nil {
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
		return nil
	})
}

// Close closes the pool, waiting for connections in use to be released.
// Calls after Close fail with store.ErrUnavailable.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.pool.Close()
	return nil
}

// inTx runs fn in a READ COMMITTED transaction. Methods that read before
// they write lock the rows they read (Dialect.RowLock), so that concurrent
// writers, in this process or another, queue on the row rather than
// overwrite each other.
func (s *Store) inTx(ctx context.Context, fn func(sqlstore.Conn) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			tx.Rollback(ctx)
			panic(p)
		}
	}()
	if err := fn(conn{tx}); err != nil {
		tx.Rollback(ctx)
		return err
	}
	return tx.Commit(ctx)
}

// PoolStats reports the pool's connections: in use, idle, and the most
// there may be.
func (s *Store) PoolStats() (inUse, idle, max int) {
	st := s.pool.Stat()
	return int(st.AcquiredConns()), int(st.IdleConns()), int(st.MaxConns())
}
