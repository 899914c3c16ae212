// Package credential makes and checks OrgScope's secrets: client secrets
// and single-use tokens (256-bit random values, kept as SHA-256 hashes and
// compared in constant time) and people's passwords (bcrypt). The service
// layer, which creates clients and sets passwords, and the embedded issuer,
// which checks them, share it.
package credential
