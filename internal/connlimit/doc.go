// Package connlimit bounds the connections a server holds open: in total,
// and per client address, so that one address cannot use up the file
// descriptors (or the total) that every other client needs.
//
// The total is golang.org/x/net/netutil's LimitListener, which stops
// accepting at the limit and lets the kernel's backlog hold the rest. The
// per-address part is ours: LimitListener can only wait, and waiting at a
// per-address limit would let one greedy address block Accept, and with it
// every other address. Connections over the per-address limit are accepted
// and closed at once instead.
package connlimit
