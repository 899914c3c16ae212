package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// migrationFiles holds the schema, one numbered file per step:
// NNNN_name.sql, applied in numeric order.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one step of the schema.
type migration struct {
	version int
	name    string // the file name, for the record and for errors
	sql     string
}

// migrations returns the embedded steps in version order. fs.ReadDir sorts
// by name, and the zero-padded numbers make that the version order.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var steps []migration
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(prefix)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", e.Name())
		}
		if n := len(steps); n > 0 && steps[n-1].version == version {
			return nil, fmt.Errorf("migration %s: version %d used twice", e.Name(), version)
		}
		body, err := fs.ReadFile(migrationFiles, path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		steps = append(steps, migration{version: version, name: e.Name(), sql: string(body)})
	}
	return steps, nil
}

// migrate brings the database up to the newest embedded version. Each step
// runs in its own write transaction together with its schema_migrations
// row, and checks that row first inside the transaction, so two processes
// opening a fresh file at once apply every step exactly once. (db's
// transactions begin IMMEDIATE: they wait for the write lock up front,
// where a deferred one could fail with SQLITE_BUSY upgrading its read lock.)
func migrate(ctx context.Context, db *sql.DB, now time.Time) error {
	const createTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	)`
	err := inTx(ctx, db, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, createTable)
		return err
	})
	if err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	steps, err := migrations()
	if err != nil {
		return err
	}
	for _, m := range steps {
		if err := inTx(ctx, db, func(tx *sql.Tx) error { return apply(ctx, tx, m, now) }); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

// apply runs one step unless it is recorded already.
func apply(ctx context.Context, tx *sql.Tx, m migration, now time.Time) error {
	var done int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&done)
	if err != nil || done > 0 {
		return err
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	const record = `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`
	_, err = tx.ExecContext(ctx, record, m.version, m.name, now.UnixMicro())
	return err
}

// inTx runs fn in a transaction and commits if it returns nil.
func inTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
