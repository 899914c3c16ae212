// Package authserver is OrgScope's embedded OAuth 2.1 authorization server:
// the issuer of the access tokens the resource server accepts when no
// external identity provider is configured.
//
// It signs RFC 9068 JWT access tokens (typ at+jwt) with keys kept in the
// store (RS256, ES256 or EdDSA; encrypted with AES-256-GCM under a
// key-encryption key when one is given), publishes the public keys at
// /oauth2/jwks, and issues tokens at /oauth2/token. Keys rotate
// (KeyManager): a new key is published before it signs and an old one
// stays published until its tokens have expired; every server reads the
// keys every second and applies store.KeySchedule, so replicas agree on
// which key signs without talking to each other. Machine clients, provisioned by an
// administrator for one organization or globally, use client_credentials;
// their tokens carry Kinde's claim shapes (org_code, gty, feature_flags,
// application_properties); they authenticate with a secret, or without one by
// signing an assertion with a key they registered (private_key_jwt, RFC
// 7523), which works once across every replica. Every token is
// audience-bound to the one
// resource this server protects: RFC 8707 resource (or Kinde's audience)
// may name it and nothing else.
//
// Everything an anonymous party can call is bounded: requests per client
// address (Options.RateLimit), registrations and unfinished sign-ins per
// address, password guesses per account, and the outbound fetches of
// Client ID Metadata Documents. Errors found before a person signs in are
// shown on OrgScope's own page, never redirected to a self-registered
// client's URI.
//
// Only cmd and tests import this package, so an external issuer replaces it
// without touching the resource server. It imports auth for the scope
// hierarchy and the resource-URI rule, so issuer and resource server cannot
// disagree about either.
package authserver
