// Package tokentest forges JWT access tokens for tests: well-formed ones
// signed by a test key, and the malformed and hostile ones the resource
// server must refuse (alg none, HMAC keyed with the public key, wrong typ,
// tampered signatures) — and machine clients' keys for private_key_jwt.
// It is for tests only.
package tokentest
