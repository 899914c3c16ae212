package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/orgscope/orgscope/store/internal/sqlstore"
)

// migrationFiles holds the schema, one numbered file per step:
// NNNN_name.sql, applied in numeric order.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations returns the embedded steps in version order.
func migrations() ([]sqlstore.Migration, error) {
	return sqlstore.Migrations(migrationFiles, "migrations")
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
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}

// apply runs one step unless it is recorded already.
func apply(ctx context.Context, tx *sql.Tx, m sqlstore.Migration, now time.Time) error {
	var done int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&done)
	if err != nil || done > 0 {
		return err
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	const record = `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`
	_, err = tx.ExecContext(ctx, record, m.Version, m.Name, now.UnixMicro())
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
