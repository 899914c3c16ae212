// Package archtest holds tests that keep OrgScope's architecture honest:
// which packages may import which, and that every package says what it owns
// in a doc.go. It has no code of its own.
package archtest
