package postgres

import "github.com/jackc/pgx/v5/pgxpool"

// Test-only access for the external tests (package postgres_test), which
// cannot live in this package because they use pgtest, which imports it.

// Pool returns the store's connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }
