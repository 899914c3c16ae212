// Package certreload serves a TLS certificate and key from files and picks
// up replaced files without a restart: each handshake stats both files (two
// cheap system calls) and reloads the pair when either changed. A pair that
// does not load — say the certificate was replaced and the key not yet —
// leaves the previous certificate in service until both agree.
package certreload
