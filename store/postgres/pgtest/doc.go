// Package pgtest gives tests a PostgreSQL store of their own: [URL] finds
// the test database (or skips the test when there is none to use), and
// [Open] opens a [postgres.Store] in a fresh schema that is dropped when
// the test ends, so that tests and concurrent test runs never see each
// other's rows. [NewProxy] puts a network between a test and the database
// that can fail on demand. Any package's tests may use it:
//
//	func TestSomething(t *testing.T) {
//		s := pgtest.Open(t) // skipped unless a database is configured
//		...
//	}
//
// The database is named by ORGSCOPE_TEST_DATABASE_URL. Without it, tests
// are skipped, except in CI (CI=true), where the URL defaults to the
// service container's, postgres://postgres@127.0.0.1:5432/test, and a
// database that cannot be reached fails the test instead of skipping it.
package pgtest
