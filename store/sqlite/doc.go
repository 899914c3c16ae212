// Package sqlite is OrgScope's default storage backend: one SQLite file,
// opened through the pure-Go modernc.org/sqlite driver, implementing
// [store.Store]. The queries are store/internal/sqlstore's, shared with
// the PostgreSQL backend; this package owns the file, its connections, its
// schema and SQLite's dialect (dialect.go).
//
// The file is created readable and writable by its owner only (it holds the
// issuer's signing keys), and so are the -wal and -shm files beside it.
//
// The file runs in WAL mode with two connection pools: a single writer
// connection whose transactions begin IMMEDIATE (they take the write lock up
// front, so two writers never deadlock upgrading a read lock, and every
// write is serialized, across processes too), and a read-only pool that
// queries beside it. Statements are prepared once and kept (conn.go). The
// schema lives in migrations/*.sql, embedded in the binary and applied in
// order by [Open].
//
// Conventions of the schema: times are INTEGER unix microseconds in UTC (NULL
// for the zero time), lists and maps are TEXT JSON (NULL when empty, so they
// read back as nil), and every tenant table is keyed by org_code first, so
// that each tenant query is an index range of one organization. Listings
// page by key (never OFFSET) with opaque cursors.
package sqlite
