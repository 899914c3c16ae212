package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/orgscope/orgscope/store"
)

// DefaultBusyTimeout is how long a statement waits for a lock held by
// another connection or process when Options.BusyTimeout is zero.
const DefaultBusyTimeout = 5 * time.Second

// Options configures [Open]. A nil *Options means every default.
type Options struct {
	// Now returns the current time. The store stamps CreatedAt, UpdatedAt,
	// UsedAt, RotatedAt and RevokedAt with it and compares expiry times
	// against it. Nil means time.Now.
	Now func() time.Time
	// BusyTimeout is how long a statement waits for a lock before failing
	// with store.ErrUnavailable. Zero means DefaultBusyTimeout.
	BusyTimeout time.Duration
	// MaxReadConns caps the pool of read-only connections. Zero means
	// max(4, GOMAXPROCS).
	MaxReadConns int
}

// Store is a [store.Store] kept in one SQLite file. Its methods keep the
// promises documented on store.Store; the comments here say only how.
type Store struct {
	// writer has exactly one connection: SQLite allows one writer at a
	// time, and queueing writers in database/sql is cheaper than letting
	// them spin on the file lock.
	writer *sql.DB
	// reader is a read-only pool; in WAL mode readers never block the
	// writer and see the last committed state.
	reader *sql.DB
	now    func() time.Time
	closed atomic.Bool
}

var _ store.Store = (*Store)(nil)

// Open opens (creating it if needed) the database file at path and applies
// any migration it lacks. path is a file name; ":memory:" is refused because
// the two pools would each get a database of their own.
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

	s := &Store{now: o.Now}
	busy := fmt.Sprintf("busy_timeout(%d)", o.BusyTimeout.Milliseconds())
	writer, err := sql.Open("sqlite", dsn(path, url.Values{
		"_pragma": {busy, "foreign_keys(1)", "synchronous(NORMAL)"},
		"_txlock": {"immediate"},
	}))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	writer.SetMaxOpenConns(1)
	s.writer = writer
	err = enableWAL(ctx, writer, o.BusyTimeout)
	if err == nil {
		err = migrate(ctx, writer, s.nowUTC())
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
	s.reader = reader
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return s, nil
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
	for _, db := range []*sql.DB{s.writer, s.reader} {
		var one int
		if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			return s.fail("ping", fmt.Errorf("%w: %w", store.ErrUnavailable, err))
		}
	}
	return nil
}

// Close closes both pools. Calls after Close fail with store.ErrUnavailable.
func (s *Store) Close() error {
	s.closed.Store(true)
	return errors.Join(s.writer.Close(), s.reader.Close())
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

// write runs fn in a write transaction and commits if fn returns nil; on
// any error nothing fn did is kept. The transaction begins IMMEDIATE (see
// Open), so it holds the write lock from its first statement and reads
// inside it see the latest state.
func (s *Store) write(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	return s.fail(op, inTx(ctx, s.writer, fn))
}
