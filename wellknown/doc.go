// Package wellknown serves OrgScope's discovery documents: the OAuth 2.0
// Protected Resource Metadata of the MCP endpoint (RFC 9728) and, when
// OrgScope is its own issuer, the Authorization Server Metadata (RFC 8414)
// with its OpenID Connect discovery alias.
//
// The documents are plain values of the go-sdk's oauthex types, built by the
// caller; this package only routes them, with CORS for GET, HEAD and OPTIONS so
// that browser-based MCP clients can read them.
package wellknown
