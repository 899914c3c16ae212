// Package storetest is the conformance suite that every [store.Store]
// backend runs from its own tests, in one line:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openTestStore(t) })
//	}
//
// The suite checks the contract written in store.go's doc comments: exact
// values, error identities (errors.Is), and, after every refused write, that
// nothing changed. Where the contract leaves a choice open the suite pins
// the choice both backends make, so that callers never see a difference:
//
//   - Times come back in UTC, truncated to the microsecond; a zero time (a
//     LastUsedAt, RevokedAt, UsedAt or RotatedAt never set) comes back zero.
//   - Empty lists and maps (scopes, redirect URIs, properties, ...) come back
//     nil: a backend need not keep nil and empty apart.
//   - IDs are per org: the same user ID may exist in two orgs, and a page
//     cursor is valid only for the listing, and org, that produced it.
//   - Delete, update and touch of a record that does not exist (or belongs to
//     another org) return store.ErrNotFound.
//   - AppendAuditEvent fills an empty ID (store.NewID) and a zero Time.
//     Events are ordered by (Time, ID); their lists read back nil when
//     empty, and their JSON still has "actor_chain": [].
//   - Inside InTx, a method that is a transaction of its own (a rotation,
//     a bulk create, ...) stays all-or-nothing when it fails, and the
//     transaction can go on.
package storetest
