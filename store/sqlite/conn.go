package sqlite

import (
	"context"
	"database/sql"
	"sync"

	"github.com/orgscope/orgscope/store/internal/sqlstore"
)

// Statements are prepared once and kept: on a pool, a *sql.Stmt prepares
// itself on each connection the first time it runs there; in a
// transaction, the writer's statement is reused on the transaction's
// connection, or prepared for the transaction if the writer has none yet
// (preparing on the writer pool would wait for the very connection the
// transaction holds), and kept by the writer once the transaction is over
// (adopt).

// poolConn runs statements on a pool, keeping one *sql.Stmt per query.
type poolConn struct {
	db    *sql.DB
	stmts sync.Map // query -> *sql.Stmt
}

func (c *poolConn) cached(query string) (*sql.Stmt, bool) {
	st, ok := c.stmts.Load(query)
	if !ok {
		return nil, false
	}
	return st.(*sql.Stmt), true
}

func (c *poolConn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := c.cached(query); ok {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := c.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// adopt prepares and keeps the statements a transaction had to prepare for
// itself, so that the next transaction finds them. Failing to is harmless.
func (c *poolConn) adopt(ctx context.Context, queries []string) {
	for _, query := range queries {
		c.stmt(ctx, query)
	}
}

func (c *poolConn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return exec(ctx, c.stmt, query, args)
}

func (c *poolConn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return queryRows(ctx, c.stmt, query, args)
}

func (c *poolConn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return queryRow(ctx, c.stmt, query, args)
}

// txConn runs statements in a transaction of the writer connection.
type txConn struct {
	tx     *sql.Tx
	writer *poolConn
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt // closed by database/sql when tx ends
	fresh  []string             // queries the writer had no statement for
}

func (c *txConn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	var st *sql.Stmt
	if parent, ok := c.writer.cached(query); ok {
		st = c.tx.StmtContext(ctx, parent)
	} else {
		var err error
		if st, err = c.tx.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		c.fresh = append(c.fresh, query)
	}
	if c.stmts == nil {
		c.stmts = map[string]*sql.Stmt{}
	}
	c.stmts[query] = st
	return st, nil
}

func (c *txConn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return exec(ctx, c.stmt, query, args)
}

func (c *txConn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return queryRows(ctx, c.stmt, query, args)
}

func (c *txConn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return queryRow(ctx, c.stmt, query, args)
}

// stmtFunc finds the statement of a query.
type stmtFunc func(ctx context.Context, query string) (*sql.Stmt, error)

func exec(ctx context.Context, stmt stmtFunc, query string, args []any) (int64, error) {
	st, err := stmt(ctx, query)
	if err != nil {
		return 0, err
	}
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func queryRows(ctx context.Context, stmt stmtFunc, query string, args []any) (sqlstore.Rows, error) {
	st, err := stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func queryRow(ctx context.Context, stmt stmtFunc, query string, args []any) sqlstore.Row {
	st, err := stmt(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// sqlRows adapts *sql.Rows, whose Close returns an error that Err reports
// too.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

// errRow is a row whose query could not even be prepared.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
