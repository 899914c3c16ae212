// Package app is the orgscope command: it parses flags and ORGSCOPE_*
// environment variables into a [Config], and [Run] wires the concrete parts
// together (store backend, embedded issuer or external verifier, MCP
// server) and serves until its context ends. It is the only package that
// sees every concrete implementation; the e2e tests drive the server
// through Run exactly as the binary does.
package app
