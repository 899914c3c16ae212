// Package buildinfo says which build of OrgScope is running: its version,
// the commit and time it was built from, and the Go version, read from
// what the Go toolchain records in every binary (runtime/debug.ReadBuildInfo)
// and from a version set at link time.
package buildinfo
