// Package sqlstore is the one implementation of [store.Store] over SQL that
// the SQLite and PostgreSQL backends share: every query, every scan, the
// cursors, the transactions each method needs, the deadline of every call
// and the error it reports. A change to what the store does lands here,
// once.
//
// A backend gives it three things (see [Config]):
//
//   - connections ([Conn]): where reads and single-statement writes run
//     outside a transaction, and a way to run a function in a transaction;
//   - a [Dialect]: what truly differs between the databases — the stored
//     forms of times, lists, maps and JSON, row-locking clauses, bulk
//     loading, how transactions of one kind are serialized, and which
//     driver errors mean conflict, not found or unavailable;
//   - a clock and a query timeout.
//
// SQL is written once, with ? placeholders; for drivers that number their
// placeholders ($1, $2, ...) each statement is rewritten once and the
// result kept. Everything else a backend needs — opening and closing its
// pools, migrations, connection settings — stays in the backend.
package sqlstore
