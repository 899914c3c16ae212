package storetest

import (
	"testing"

	"github.com/orgscope/orgscope/store"
)

// Run runs every conformance test as a subtest of t; each gets a fresh,
// empty store from newStore, which should arrange to close it (t.Cleanup).
// Subtests run one after another, so newStore may reuse one database.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	for _, group := range [][]test{orgTests, userTests, isolationTests, flagTests, clientTests, assertionTests, keyTests, grantTests, delegationTests, auditTests, approvalTests, consoleTests, txTests, rateTests, miscTests} {
		for _, tc := range group {
			t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
		}
	}
}

// test is one conformance test.
type test struct {
	name string
	run  func(t *testing.T, s store.Store)
}

var miscTests = []test{
	{"Ping", func(t *testing.T, s store.Store) {
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	}},
}
