//go:build !unix

package app

// descriptorLimit is unknown outside Unix.
func descriptorLimit() (uint64, bool) { return 0, false }
