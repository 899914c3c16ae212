package postgres

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/orgscope/orgscope/store"
)

// Defaults of [Options].
const (
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

// Options configures [Open]. A nil *Options means every default.
type Options struct {
	// Now returns the current time. The store stamps CreatedAt, UpdatedAt,
	// UsedAt, RotatedAt and RevokedAt with it and compares expiry times
	// against it. Nil means time.Now.
	Now func() time.Time
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

// Store is a [store.Store] kept in a PostgreSQL database. Its methods keep
// the promises documented on store.Store; the comments here say only how.
type Store struct {
	pool   *pgxpool.Pool
	now    func() time.Time
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
	s := &Store{pool: pool, now: o.Now}
	if err := pool.Ping(ctx); err != nil {
		err = s.fail("open", fmt.Errorf("%w: %w", store.ErrUnavailable, err))
		pool.Close()
		return nil, err
	}
	if err := migrate(ctx, pool, o.Schema, s.nowUTC()); err != nil {
		err = s.fail("open: migrate", err)
		pool.Close()
		return nil, err
	}
	return s, nil
}

// poolConfig parses url and applies the options on top of it.
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
	if o.MaxConns > 0 {
		cfg.MaxConns = int32(o.MaxConns)
	}
	return cfg, nil
}

// Ping reports whether the database answers, acquiring a connection (and
// opening one if the pool has none) to ask it.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return s.fail("ping", fmt.Errorf("%w: %w", store.ErrUnavailable, err))
	}
	return nil
}

// Close closes the pool, waiting for connections in use to be released.
// Calls after Close fail with store.ErrUnavailable.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.pool.Close()
	return nil
}

// nowUTC is the store's clock in the form times are stored in.
func (s *Store) nowUTC() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// stamp returns t as it will be stored, or the current time when t is zero.
func (s *Store) stamp(t time.Time) time.Time {
	if t.IsZero() {
		return s.nowUTC()
	}
	return normTime(t)
}

// stampCreated sets the timestamps of a record about to be created: a zero
// CreatedAt becomes the current time and a zero UpdatedAt becomes
// CreatedAt, so that a new record reads as never updated.
func (s *Store) stampCreated(created, updated *time.Time) {
	*created = s.stamp(*created)
	if updated.IsZero() {
		*updated = *created
	} else {
		*updated = normTime(*updated)
	}
}

// write runs fn in a READ COMMITTED transaction and commits if fn returns
// nil; on any error nothing fn did is kept. Methods that read before they
// write lock the rows they read (FOR UPDATE), so that concurrent writers,
// in this process or another, queue on the row rather than overwrite each
// other.
func (s *Store) write(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	return s.fail(op, pgx.BeginFunc(ctx, s.pool, fn))
}
