// Package testdeps handles the three groups of tests that need more than
// Go — PostgreSQL, Node (the third-party OpenID provider and the TypeScript
// MCP client) and Chromium — so that a plain `go test ./...` runs each
// group when its dependency is there and says so when it is not.
//
// A group runs whenever its dependency is found: PostgreSQL answering at
// ORGSCOPE_TEST_DATABASE_URL or, when that is unset, at 127.0.0.1:5432
// (database test, trust authentication); the npm packages installed under
// e2e/; chromium on the PATH. In CI (CI=true) a missing dependency fails
// the test instead.
//
// Otherwise the test is skipped, and because `go test` shows nothing of a
// passing package in package-list mode (t.Skip's message only appears
// with -v), the skip is also written to the terminal (/dev/tty) once per
// group and test binary, and the run is kept out of the test cache (see
// uncacheable), so that the notice appears on every run and a dependency
// installed later is picked up by the next one.
package testdeps
