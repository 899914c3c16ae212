package postgres

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

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
// runs in its own transaction together with its schema_migrations row, and
// every transaction first takes a transaction-level advisory lock (keyed by
// the schema) and only then checks what is recorded, so that replicas
// opening one database at once apply every step exactly once: the others
// wait on the lock, then find the step recorded. The lock is released with
// the transaction, also when the connection drops.
//
// Migration transactions are exempt from the statement timeout (DDL on a
// large table may take a while); ctx bounds them, the wait for the lock
// included.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string, now time.Time) error {
	steps, err := migrations()
	if err != nil {
		return err
	}
	lock := migrationLock(schema)
	err = locked(ctx, pool, lock, func(tx pgx.Tx) error { return prepare(ctx, tx, schema) })
	if err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range steps {
		if err := locked(ctx, pool, lock, func(tx pgx.Tx) error { return apply(ctx, tx, m, now) }); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}

// migrationLock is the advisory lock key of the schema's migrations: the
// FNV-1a hash of a name that says what it guards, so that it does not
// collide with other applications' keys, and that migrations of different
// schemas in one database do not wait for each other.
func migrationLock(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("orgscope migrations " + schema))
	return int64(h.Sum64())
}

// locked runs fn in a transaction that holds the advisory lock, without a
// statement timeout.
func locked(ctx context.Context, pool *pgxpool.Pool, lock int64, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = 0`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lock); err != nil {
			return err
		}
		return fn(tx)
	})
}

// prepare creates the schema (if one is configured) and the
// schema_migrations table when they are missing. It looks before it creates:
// CREATE ... IF NOT EXISTS checks the CREATE privilege even when there is
// nothing to create, and a role allowed only to use an existing schema must
// still be able to open it.
func prepare(ctx context.Context, tx pgx.Tx, schema string) error {
	if schema != "" {
		var exists bool
		err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&exists)
		if err != nil {
			return err
		}
		if !exists {
			if _, err := tx.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
				return fmt.Errorf("create schema %s: %w", schema, err)
			}
		}
	}
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil || exists {
		return err
	}
	_, err := tx.Exec(ctx, `CREATE TABLE schema_migrations (
		version    integer     NOT NULL PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL
	)`)
	return err
}

// apply runs one step unless it is recorded already. A step's file may
// hold several statements: without arguments, pgx sends it with the simple
// protocol, which runs them all.
func apply(ctx context.Context, tx pgx.Tx, m sqlstore.Migration, now time.Time) error {
	var done bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.Version).Scan(&done)
	if err != nil || done {
		return err
	}
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return err
	}
	const record = `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`
	_, err = tx.Exec(ctx, record, m.Version, m.Name, now)
	return err
}
