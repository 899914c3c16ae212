package sqlite

import (
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/orgscope/orgscope/store"
)

// fail wraps err with the operation's name and, where the cause means one,
// the store error callers branch on: a unique or primary-key violation is
// store.ErrConflict, a foreign-key violation (the org, flag or grant a
// write names does not exist) and a missing row are store.ErrNotFound, and
// a closed store, a lock that outlasted the busy timeout or an unreadable
// file is store.ErrUnavailable. Errors that already carry a store error
// keep it.
func (s *Store) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	if kind := s.classify(err); kind != nil && !errors.Is(err, kind) {
		return fmt.Errorf("sqlite: %s: %w: %w", op, kind, err)
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// classify returns the store error that err means, or nil.
func (s *Store) classify(err error) error {
	for _, known := range []error{store.ErrNotFound, store.ErrConflict, store.ErrInvalidCursor, store.ErrReplayed, store.ErrUnavailable} {
		if errors.Is(err, known) {
			return known
		}
	}
	if s.closed.Load() || errors.Is(err, sql.ErrConnDone) {
		return store.ErrUnavailable
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return nil
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return store.ErrConflict
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return store.ErrNotFound
	}
	return unreachable(e.Code())
}

// unavailableIfUnreachable marks err as store.ErrUnavailable when SQLite
// says the file cannot be used at all (used by Open, before a Store exists).
func unavailableIfUnreachable(err error) error {
	var e *sqlite.Error
	if errors.As(err, &e) && unreachable(e.Code()) != nil {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// unreachable maps the SQLite result codes that mean "the database cannot
// be used right now" to store.ErrUnavailable. Only the primary code (the low
// byte of an extended code) matters here.
func unreachable(code int) error {
	switch code & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN,
		sqlite3.SQLITE_IOERR, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT,
		sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
		return store.ErrUnavailable
	}
	return nil
}

// isBusy reports whether err is SQLite's "database is locked".
func isBusy(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}
