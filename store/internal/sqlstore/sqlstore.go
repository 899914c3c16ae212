package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orgscope/orgscope/store"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Conn runs statements on a pool, a connection or a transaction. Queries
// reach it with their placeholders already in the driver's form.
type Conn interface {
	// Exec runs a statement and returns how many rows it changed.
	Exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// QueryRow runs a query expected to return at most one row; no row is
	// reported by Scan, as an error Dialect.Classify calls not found.
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Row is one result row (*sql.Row, pgx.Row).
type Row interface{ Scan(dest ...any) error }

// Rows iterates over a result (pgx.Rows, or an adapter over *sql.Rows).
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Dialect is what differs between the databases: how values are stored and
// scanned, how rows are locked, bulk loading, serialization, and what the
// driver's errors mean.
type Dialect interface {
	// Name prefixes every error ("sqlite", "postgres").
	Name() string
	// NumberedPlaceholders reports whether the driver wants $1, $2, ...
	// rather than ?.
	NumberedPlaceholders() bool

	// Time, List, Map and JSON return the stored form of a value (NULL for
	// the zero time and for empty lists and maps); the *Dest methods return
	// a scan destination that reads it back (NULL as the zero value).
	Time(t time.Time) any
	TimeDest(t *time.Time) any
	List(l []string) any
	ListDest(l *[]string) any
	Map(m map[string]string) any
	MapDest(m *map[string]string) any
	JSON(v json.RawMessage) any
	JSONDest(v *json.RawMessage) any
	// TextDest scans a nullable text column, NULL as "".
	TextDest(s *string) any

	// RowLock returns the clause that makes a SELECT lock the rows it reads
	// until the transaction ends, with the given strength ("UPDATE", "NO
	// KEY UPDATE"), or "" where transactions that write run one at a time
	// anyway.
	RowLock(strength string) string
	// Serialize, called inside a transaction, makes every other transaction
	// that calls it with the same scope wait until this one ends, in any
	// process. (A no-op where write transactions are serialized anyway.)
	Serialize(ctx context.Context, c Conn, scope string) error
	// BulkInsert inserts n rows into table, inside the transaction c; row
	// returns the values of row i, in the order of columns.
	BulkInsert(ctx context.Context, c Conn, table string, columns []string, n int, row func(i int) []any) error
	// Classify returns the store error that err means (store.ErrConflict,
	// store.ErrNotFound, store.ErrUnavailable) or nil. It sees every error
	// a call fails with, and may react to it (PostgreSQL resets its pool
	// when a connection broke).
	Classify(err error) error
}

// DefaultQueryTimeout is the deadline of a store call when
// Config.QueryTimeout is zero.
const DefaultQueryTimeout = 5 * time.Second

// Config is what a backend gives New.
type Config struct {
	Dialect Dialect
	// Reader runs reads outside transactions, Writer single-statement
	// writes. (SQLite: its read-only pool and its one writer connection;
	// PostgreSQL: the pool, twice.)
	Reader, Writer Conn
	// InTx runs fn in a transaction and commits when it returns nil; on an
	// error it rolls back, and on a panic it rolls back and panics again.
	InTx func(ctx context.Context, fn func(c Conn) error) error
	// Now is the clock that stamps records and decides expiry; nil means
	// time.Now. Deadlines always use the real clock.
	Now func() time.Time
	// QueryTimeout bounds every call; zero means DefaultQueryTimeout.
	QueryTimeout time.Duration
	// Observe, when set, is told of every call: its operation, its outcome
	// (ok, error, unavailable) and how long it took.
	Observe func(op, outcome string, d time.Duration)
}

// Store implements every method of store.Store except Ping and Close,
// which the backend adds.
type Store struct {
	Queries
}

// New returns a Store over cfg's connections.
func New(cfg Config) *Store {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = DefaultQueryTimeout
	}
	sh := &shared{d: cfg.Dialect, inTx: cfg.InTx, clock: cfg.Now, timeout: cfg.QueryTimeout, observe: cfg.Observe}
	return &Store{Queries{shared: sh, read: cfg.Reader, write: cfg.Writer}}
}

// shared is what every Queries of one Store has in common.
type shared struct {
	d       Dialect
	inTx    func(ctx context.Context, fn func(c Conn) error) error
	clock   func() time.Time
	timeout time.Duration
	observe func(op, outcome string, d time.Duration)
	bound   sync.Map // query with ? placeholders -> query in the driver's form
}

// Queries runs every store.Tx method on one pair of connections: the
// Store's (reads on the reader, writes on the writer) or a transaction's.
type Queries struct {
	*shared
	read, write Conn
	// tx is set when read and write are one transaction.
	tx *txState
}

// txState is what a transaction's Queries know about it.
type txState struct {
	deadline time.Time // of InTx; zero inside a single call's transaction
	ended    atomic.Bool
}

var _ store.Tx = (*Queries)(nil)

// errTxEnded is returned by calls of a Tx after its InTx has returned.
var errTxEnded = errors.New("store: transaction already ended")

// InTx runs fn in one transaction (see store.Store). The transaction runs
// under one deadline, and every call of tx under the earlier of it and its
// own.
func (s *Store) InTx(ctx context.Context, fn func(tx store.Tx) error) error {
	ctx, cancel := s.deadline(ctx, nil, s.timeout)
	defer cancel()
	var fnErr error
	err := s.inTx(ctx, func(c Conn) error {
		deadline, _ := ctx.Deadline()
		tx := &Queries{shared: s.shared, read: c, write: c, tx: &txState{deadline: deadline}}
		defer tx.tx.ended.Store(true)
		fnErr = fn(tx)
		return fnErr
	})
	if fnErr != nil {
		return fnErr
	}
	return s.fail(ctx, "transaction", err)
}

// atomically runs fn with Queries whose reads and writes are one
// transaction. Outside a transaction it opens one; inside one (InTx) it
// runs fn within a savepoint, so that the call stays all-or-nothing and the
// transaction usable after it fails.
func (q *Queries) atomically(ctx context.Context, fn func(tx *Queries) error) error {
	if q.tx == nil {
		return q.inTx(ctx, func(c Conn) error {
			return fn(&Queries{shared: q.shared, read: c, write: c, tx: &txState{}})
		})
	}
	if _, err := q.write.Exec(ctx, "SAVEPOINT orgscope_call"); err != nil {
		return err
	}
	if err := fn(q); err != nil {
		_, rbErr := q.write.Exec(ctx, "ROLLBACK TO SAVEPOINT orgscope_call")
		if rbErr == nil {
			_, rbErr = q.write.Exec(ctx, "RELEASE SAVEPOINT orgscope_call")
		}
		if rbErr != nil {
			return errors.Join(err, rbErr)
		}
		return err
	}
	_, err := q.write.Exec(ctx, "RELEASE SAVEPOINT orgscope_call")
	return err
}

// deadline bounds one call: timeout from now, or tx's deadline, or the
// caller's, whichever comes first.
func (sh *shared) deadline(ctx context.Context, tx *txState, timeout time.Duration) (context.Context, context.CancelFunc) {
	d := time.Now().Add(timeout)
	if tx != nil && !tx.deadline.IsZero() && tx.deadline.Before(d) {
		d = tx.deadline
	}
	return context.WithDeadline(ctx, d)
}

// run runs one store call: fn under the call's deadline, its error wrapped
// with the operation's name and the store error it means.
func (q *Queries) run(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	return q.runFor(ctx, op, q.timeout, fn)
}

// bulkRowsPerTimeout is how many rows of a bulk create one query timeout
// covers: the deadline of CreateUsers and CreateOrgs grows with the number
// of rows, so that a large load (seeding a million users) is not cut off,
// while a small one is bounded like any other call.
const bulkRowsPerTimeout = 50_000

// runBulk is run for a bulk create of n rows.
func (q *Queries) runBulk(ctx context.Context, op string, n int, fn func(ctx context.Context) error) error {
	return q.runFor(ctx, op, q.timeout*time.Duration(1+n/bulkRowsPerTimeout), fn)
}

// runFor is run with a timeout of its own.
func (q *Queries) runFor(ctx context.Context, op string, timeout time.Duration, fn func(ctx context.Context) error) error {
	if q.tx != nil && q.tx.ended.Load() {
		return fmt.Errorf("%s: %s: %w", q.d.Name(), op, errTxEnded)
	}
	ctx, cancel := q.deadline(ctx, q.tx, timeout)
	defer cancel()
	start := time.Now()
	// A call is a span of the request's trace when the request is traced;
	// otherwise it costs one context lookup.
	var span trace.Span
	if parent := trace.SpanFromContext(ctx); parent.IsRecording() {
		ctx, span = parent.TracerProvider().Tracer("github.com/orgscope/orgscope/store").Start(ctx, "store "+op,
			trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attribute.String("db.system.name", q.d.Name())))
	}
	err := q.fail(ctx, op, fn(ctx))
	outcome := "ok"
	switch {
	case errors.Is(err, store.ErrUnavailable):
		outcome = "unavailable"
	case err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict):
		outcome = "error"
	}
	if span != nil {
		if outcome != "ok" {
			span.SetStatus(codes.Error, outcome)
			span.SetAttributes(attribute.String("error.type", outcome))
		}
		span.End()
	}
	if q.observe != nil {
		q.observe(op, outcome, time.Since(start))
	}
	return err
}

// call is run for a method with a result; on error the result is zero.
func call[T any](q *Queries, ctx context.Context, op string, fn func(ctx context.Context) (T, error)) (T, error) {
	var v T
	err := q.run(ctx, op, func(ctx context.Context) (err error) {
		v, err = fn(ctx)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// page is the result of a listing.
type page[T any] struct {
	items []T
	next  string
}

// list is call for a listing.
func list[T any](q *Queries, ctx context.Context, op string, fn func(ctx context.Context) ([]T, string, error)) ([]T, string, error) {
	p, err := call(q, ctx, op, func(ctx context.Context) (page[T], error) {
		items, next, err := fn(ctx)
		return page[T]{items, next}, err
	})
	return p.items, p.next, err
}

// storeErrors are the errors callers branch on; an error that carries one
// already keeps it.
var storeErrors = []error{store.ErrNotFound, store.ErrConflict, store.ErrInvalidCursor,
	store.ErrReplayed, store.ErrUnavailable, store.ErrLimitReached}

// fail wraps err with the dialect's name, the operation's, and the store
// error it means: one it carries, one the dialect recognises, or
// store.ErrUnavailable when the call ran out of time.
func (sh *shared) fail(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	kind := sh.d.Classify(err)
	for _, known := range storeErrors {
		if errors.Is(err, known) {
			kind = known
			break
		}
	}
	if kind == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		kind = store.ErrUnavailable
	}
	if kind != nil && !errors.Is(err, kind) {
		return fmt.Errorf("%s: %s: %w: %w", sh.d.Name(), op, kind, err)
	}
	return fmt.Errorf("%s: %s: %w", sh.d.Name(), op, err)
}

// bind returns query, written with ? placeholders, in the driver's form.
func (sh *shared) bind(query string) string {
	if !sh.d.NumberedPlaceholders() {
		return query
	}
	if b, ok := sh.bound.Load(query); ok {
		return b.(string)
	}
	b := numberPlaceholders(query)
	sh.bound.Store(query, b)
	return b
}

// numberPlaceholders replaces each ? outside quoted literals and
// identifiers with $1, $2, ...
func numberPlaceholders(query string) string {
	var b strings.Builder
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// exec, queryRow and queryAll run a query written with ? placeholders on c.
func (q *Queries) exec(ctx context.Context, c Conn, query string, args ...any) (int64, error) {
	return c.Exec(ctx, q.bind(query), args...)
}

func (q *Queries) queryRow(ctx context.Context, c Conn, query string, args ...any) Row {
	return c.QueryRow(ctx, q.bind(query), args...)
}

func queryAll[T any](ctx context.Context, q *Queries, c Conn, query string, args []any, scan func(Row) (T, error)) ([]T, error) {
	rows, err := c.Query(ctx, q.bind(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// mustAffect turns an UPDATE or DELETE that matched no row into
// store.ErrNotFound.
func mustAffect(n int64, err error) error {
	if err == nil && n == 0 {
		return store.ErrNotFound
	}
	return err
}

// exists returns store.ErrNotFound unless the EXISTS query is true.
func (q *Queries) exists(ctx context.Context, c Conn, query string, arg any) error {
	var ok bool
	if err := q.queryRow(ctx, c, query, arg).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return store.ErrNotFound
	}
	return nil
}

// nowUTC is the store's clock in the form times are stored in.
func (sh *shared) nowUTC() time.Time { return sh.clock().UTC().Truncate(time.Microsecond) }

// stamp returns t as it will be stored, or the current time when t is zero.
func (sh *shared) stamp(t time.Time) time.Time {
	if t.IsZero() {
		return sh.nowUTC()
	}
	return normTime(t)
}

// stampCreated sets the timestamps of a record about to be created: a zero
// CreatedAt becomes the current time and a zero UpdatedAt becomes
// CreatedAt, so that a new record reads as never updated.
func (sh *shared) stampCreated(created, updated *time.Time) {
	*created = sh.stamp(*created)
	if updated.IsZero() {
		*updated = *created
	} else {
		*updated = normTime(*updated)
	}
}

// normTime is t in stored form (UTC, whole microseconds); zero stays zero.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// expired reports whether a record expiring at exp (zero: never) has
// expired at now.
func expired(exp, now time.Time) bool {
	return !exp.IsZero() && !now.Before(exp)
}

// textValue stores s, with NULL for "" (nullable foreign keys, optional
// secrets).
func textValue(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nilIfEmpty returns l, or nil when it is empty: stored lists do not keep
// the difference.
func nilIfEmpty(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Run runs fn as a store call named op: under the call's deadline, with its
// error classified like every other call's. Backends run Ping with it.
func (s *Store) Run(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	return s.run(ctx, op, fn)
}
