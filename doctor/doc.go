// Package doctor checks an MCP server's deployment from outside, the way
// MCP clients will see it: the 401 challenge and its resource_metadata, the
// Protected Resource Metadata (RFC 9728) at both well-known URLs and its
// resource, each authorization server's metadata (RFC 8414, then OpenID
// discovery), its issuer, PKCE and keys, CORS for browser clients, the
// clock, https, and — given a token — a tools/list in both protocol eras.
//
// It knows nothing of OrgScope: it works against any MCP server. Each
// finding is a Check with a status (ok, warn, fail), what was found, and
// what to do about it. It uses the go-sdk's oauthex types and challenge
// parser, and the go-sdk client for tools/list, but fetches the documents
// itself: the SDK's fetch helpers stop at the first problem, and a doctor
// should report every problem, with the document it found.
package doctor
