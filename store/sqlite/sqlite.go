package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/internal/sqlstore"
)

// Defaults of [Options].
const (
	// DefaultBusyTimeout is how long a statement waits for a lock held by
	// another connection or process.
	DefaultBusyTimeout = 5 * time.Second
	// DefaultQueryTimeout is the deadline of every store call.
	DefaultQueryTimeout = sqlstore.DefaultQueryTimeout
)

// Options configures [Open]. A nil *Options means every default.
type Options struct {
	// Now returns the current time. The store stamps CreatedAt, UpdatedAt,
	// UsedAt, RotatedAt and RevokedAt with it and compares expiry times
	// against it. Nil means time.Now.
	Now func() time.Time
	// BusyTimeout is how long a statement waits for a lock before failing
	// with store.ErrUnavailable. Zero means DefaultBusyTimeout.
	BusyTimeout time.Duration
	// Observe, when set, is told of every call: its operation, its outcome
	// (ok, error, unavailable) and how long it took (metrics).
	Observe func(op, outcome string, d time.Duration)
	// QueryTimeout bounds every call (a transaction of InTx as a whole;
	// bulk creates get one more for every 50,000 rows), unless the
	// caller's deadline is earlier; running out of it is
	// store.ErrUnavailable. Zero means DefaultQueryTimeout.
	QueryTimeout time.Duration
	// MaxReadConns caps the pool of read-only connections. Zero means
	// max(4, GOMAXPROCS).
	MaxReadConns int
}

// Store is a [store.Store] kept in one SQLite file. The queries are
// sqlstore's; this package adds the connections, the dialect and the
// schema.
type Store struct {
	*sqlstore.Store
	// writer has exactly one connection: SQLite allows one writer at a
	// time, and queueing writers in database/sql is cheaper than letting
	// them spin on the file lock.
	writer *poolConn
	// reader is a read-only pool; in WAL mode readers never block the
	// writer and see the last committed state.
	reader *poolConn
	closed atomic.Bool
}

var _ store.Store = (*Store)(nil)

// Open opens (creating it if needed, mode 0600) the database file at path
// and applies any migration it lacks. path is a file name; ":memory:" is
// refused because the two pools would each get a database of their own.
func Open(ctx context.Context, path string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = DefaultBusyTimeout
	}
	if o.MaxReadConns <= 0 {
		o.MaxReadConns = max(4, runtime.GOMAXPROCS(0))
	}
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open: %q is not a plain file name", path)
	}
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w: %w", path, store.ErrUnavailable, err)
	}

	busy := fmt.Sprintf("busy_timeout(%d)", o.BusyTimeout.Milliseconds())
	writer, err := sql.Open("sqlite", dsn(path, url.Values{
		"_pragma": {busy, "foreign_keys(1)", "synchronous(NORMAL)"},
		"_txlock": {"immediate"},
	}))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	writer.SetMaxOpenConns(1)
	err = enableWAL(ctx, writer, o.BusyTimeout)
	if err == nil {
		err = migrate(ctx, writer, o.Now().UTC().Truncate(time.Microsecond))
	}
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, unavailableIfUnreachable(err))
	}

	// Readers open after the writer has switched the file to WAL.
	reader, err := sql.Open("sqlite", dsn(path, url.Values{
		"_pragma": {busy, "foreign_keys(1)", "query_only(1)"},
	}))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	reader.SetMaxOpenConns(o.MaxReadConns)
	reader.SetMaxIdleConns(o.MaxReadConns)

	s := &Store{writer: &poolConn{db: writer}, reader: &poolConn{db: reader}}
	s.Store = sqlstore.New(sqlstore.Config{
		Dialect:      dialect{closed: &s.closed},
		Reader:       s.reader,
		Writer:       s.writer,
		InTx:         s.inTx,
		Now:          o.Now,
		QueryTimeout: o.QueryTimeout,
		Observe:      o.Observe,
	})
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return s, nil
}

// createPrivate creates the database file, unless it exists, readable and
// writable by its owner only, whatever the umask: it holds the issuer's
// signing key. SQLite gives the -wal and -shm files it creates beside it
// the database file's mode.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	err = f.Chmod(0o600)
	return errors.Join(err, f.Close())
}

// enableWAL switches the file to WAL mode, which lasts: later connections
// find it set. The switch needs an exclusive lock, and SQLite does not
// apply the busy timeout to it, so when several processes open a fresh file
// at once the losers retry here until the busy timeout has passed.
func enableWAL(ctx context.Context, db *sql.DB, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var mode string
		err := db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode)
		if err == nil && mode != "wal" {
			err = fmt.Errorf("journal_mode is %q, not wal", mode)
		}
		if !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// dsn appends the driver's connection parameters to a plain file name; the
// driver strips them before the name reaches SQLite.
func dsn(path string, params url.Values) string {
	return path + "?" + params.Encode()
}

// Ping reports whether both pools answer a query.
func (s *Store) Ping(ctx context.Context) error {
	return s.Run(ctx, "ping", func(ctx context.Context) error {
		for _, db := range []*sql.DB{s.writer.db, s.reader.db} {
			var one int
			if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
				return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
			}
		}
		return nil
	})
}

// Close closes both pools. Calls after Close fail with store.ErrUnavailable.
func (s *Store) Close() error {
	s.closed.Store(true)
	return errors.Join(s.writer.db.Close(), s.reader.db.Close())
}

// inTx runs fn in a transaction of the writer connection. It begins
// IMMEDIATE (see Open), so it holds the write lock from its first statement
// and reads inside it see the latest state.
func (s *Store) inTx(ctx context.Context, fn func(sqlstore.Conn) error) error {
	tx, err := s.writer.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	c := &txConn{tx: tx, writer: s.writer}
	defer func() {
		if p := recover(); p != nil {
			tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(c); err != nil {
		tx.Rollback()
		return err
	}
	err = tx.Commit()
	s.writer.adopt(ctx, c.fresh)
	return err
}

// PoolStats reports the connections of both pools: in use, idle, and the
// most there may be.
func (s *Store) PoolStats() (inUse, idle, max int) {
	for _, db := range []*sql.DB{s.writer.db, s.reader.db} {
		st := db.Stats()
		inUse, idle, max = inUse+st.InUse, idle+st.Idle, max+st.MaxOpenConnections
	}
	return inUse, idle, max
}
