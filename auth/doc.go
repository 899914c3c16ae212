// Package auth is OrgScope's resource-server side: it turns a bearer token
// into a verified [Principal] and owns every refusal on the MCP endpoint.
//
// A request travels through it like this:
//
//   - [Middleware] reads the Authorization header. No token is a 401 whose
//     WWW-Authenticate header names the Protected Resource Metadata URL and
//     a scope; a token the [Verifier] rejects is a 401 with
//     error="invalid_token" and a safe description (the detail goes to the
//     log, never the token); an outage of the key source is a 503.
//   - The scopes the operation needs (the caller says which) are checked
//     with [Grants], which owns the scope hierarchy: write:X implies read:X,
//     nothing implies delete:users. A shortfall is a 403 with
//     error="insufficient_scope" naming every scope the operation needs.
//   - The principal is handed to the go-sdk as its TokenInfo, so tools read
//     it with [PrincipalFrom](req.Extra.TokenInfo).
//
// [JWTVerifier] checks JWT access tokens (RFC 9068) with go-oidc: an
// allow-list of asymmetric algorithms, each key pinned to its own
// ([KeyAllows]: a JWK's alg, else its key type), exact issuer, audience
// equal to the canonical resource under [ResourceMatches], exp, nbf and
// iat as JSON numbers within one small clock skew, claims the issuer
// always sets, and typ "at+jwt". [ClaimMapping] maps the claim shapes of
// other issuers onto the same Principal; their organization codes must
// pass [CheckOrgCode], the one rule for organization codes.
// [CachingVerifier] remembers verified tokens until they expire so that a
// busy agent pays for signature checks once. [LiveKeySet] holds the
// embedded issuer's keys, which rotate: it trusts exactly what the issuer
// publishes at each call, and its Guard refuses a remembered token whose
// key was retired since.
//
// The package knows nothing of tools, of the embedded issuer or of storage.
package auth
