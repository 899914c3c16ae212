//go:build unix

package app

import "syscall"

// descriptorLimit returns the process's limit on open files (Go raises
// the soft limit to the hard one at start), or false when unknown.
func descriptorLimit() (uint64, bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, false
	}
	return uint64(rl.Cur), true
}
