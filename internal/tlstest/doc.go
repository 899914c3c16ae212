// Package tlstest makes self-signed certificates for tests of the TLS
// listener: a fresh key and certificate for 127.0.0.1, ::1 and localhost,
// written as PEM files, and a client that trusts exactly that certificate.
package tlstest
