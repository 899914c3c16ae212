// Package postgres is OrgScope's PostgreSQL storage backend: a pgx
// connection pool (github.com/jackc/pgx/v5/pgxpool) implementing
// [store.Store], for deployments that run several replicas against one
// database. The queries are store/internal/sqlstore's, shared with the
// SQLite backend; this package owns the pool, the schema and PostgreSQL's
// dialect (dialect.go, errors.go).
//
// Every promise of store.Store holds across processes, not only across
// goroutines: uniqueness is enforced by constraints, single-use credentials
// are locked row by row (SELECT ... FOR UPDATE) or consumed in one statement
// (DELETE ... RETURNING), the signing key and the capped registration run
// under transaction-level advisory locks, and the schema (migrations/*.sql,
// embedded in the binary) is brought up to date by [Open] under a PostgreSQL
// advisory lock, so replicas that start together migrate it once.
//
// Conventions of the schema, chosen to read back exactly what the SQLite
// backend does: times are timestamptz, written and read in UTC at
// microsecond precision (NULL for the zero time); lists are text[] and maps
// jsonb, NULL when empty so that they read back nil; flag values are json,
// which keeps the caller's text byte for byte. Keys are text COLLATE "C", so
// they sort bytewise as Go strings do and prefix LIKEs can use their
// indexes. Every tenant table is keyed by org_code first, so each tenant
// query reads one index range of one organization. Listings page by key
// (never OFFSET) with opaque cursors bound to their listing and org.
//
// Errors carry the store errors callers branch on (errors.go says exactly
// which): unique violations are store.ErrConflict, foreign-key violations
// and missing rows store.ErrNotFound, and anything meaning "the database
// cannot be used right now" (no connection, a restart, a statement that
// outlived Options.StatementTimeout, a call that outlived
// Options.QueryTimeout, also on a link that silently drops every packet)
// store.ErrUnavailable. After an outage the store recovers by itself,
// without being reopened: a call that meets a broken connection fails with
// store.ErrUnavailable and resets the pool, and the next call opens a fresh
// connection.
package postgres
