package postgres

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/orgscope/orgscope/store"
)

// Classify returns the store error that err means, or nil:
//
//   - a unique or primary-key violation (SQLSTATE 23505) is
//     store.ErrConflict;
//   - a foreign-key violation (23503: the org, flag or grant a write names
//     does not exist) and a query that found no row are store.ErrNotFound;
//   - whatever says the database cannot be used right now is
//     store.ErrUnavailable (see unavailable), and so is every error after
//     Close.
//
// Anything else (a bug, a constraint the schema should never see broken)
// stays unclassified, and callers answer it as an internal error.
//
// An error showing that a connection broke (see broken) also resets the
// pool: what broke one connection (a restart, a failover, a network cut)
// has most likely broken the idle ones too, and without the reset each
// would fail one more call before the pool dropped it. After the reset the
// next call opens a fresh connection.
func (d dialect) Classify(err error) error {
	if d.closed.Load() {
		return store.ErrUnavailable
	}
	if broken(err) && d.pool != nil {
		d.pool.Reset()
	}
	if unavailable(err) {
		return store.ErrUnavailable
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	switch sqlState(err) {
	case "23505": // unique_violation
		return store.ErrConflict
	case "23503": // foreign_key_violation
		return store.ErrNotFound
	}
	return nil
}

// unavailable reports whether err means that the database cannot be used
// right now, so that a caller should answer 503 and retry later:
//
//   - no connection: a failed connect (refused, unreachable, DNS, TLS, bad
//     credentials, no such database, too many clients: the database is
//     unusable either way, and the message says which), or a connection
//     that broke (see broken);
//   - insufficient resources (SQLSTATE class 53: too many connections, disk
//     full, out of memory);
//   - a timeout: the server's statement_timeout (57014, query_canceled;
//     see Options.StatementTimeout), a lock that outlasted lock_timeout
//     (55P03), or a context deadline reached while connecting or waiting
//     for the server. A statement that runs out of time is taken for an
//     overloaded database rather than a bad request: every query of the
//     store reads a bounded index range.
//
// A context cancelled by the caller is not unavailability: the caller has
// gone, and the error stays unclassified.
func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || isConnectError(err) || broken(err) {
		return true
	}
	state := sqlState(err)
	switch {
	case state == "57014", state == "55P03", len(state) == 5 && state[:2] == "53":
		return true
	}
	return false
}

// broken reports whether err shows an established connection broken: the
// server shutting down or restarting, or the backend terminated by an
// administrator (SQLSTATE 57P01, 57P02, 57P03), a connection exception
// (class 08), a network error on the socket, an unexpected EOF, or a
// connection pgx has already closed.
func broken(err error) bool {
	// A context error is a net.Error too, but it ends one call, and says
	// nothing of the other connections.
	if isConnectError(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	state := sqlState(err)
	return state == "57P01" || state == "57P02" || state == "57P03" || len(state) == 5 && state[:2] == "08"
}

// isConnectError reports whether err is a failure to open a connection
// (there was none to break).
func isConnectError(err error) bool {
	var connectErr *pgconn.ConnectError
	return errors.As(err, &connectErr)
}

// sqlState is the SQLSTATE of a server error, "" for other errors.
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}
