// Package clientkeys holds the rules for the public keys a client
// registers to authenticate with private_key_jwt (RFC 7523 client
// assertions) instead of a shared secret: which keys a JWKS may hold, where
// a jwks_uri may point, which algorithms an assertion may use, and how an
// assertion is made. The service, which registers keys, and the embedded
// issuer, which checks assertions, share the rules; the command line's demo
// helper and the tests sign with it.
package clientkeys
