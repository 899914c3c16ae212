// Package mcpserver assembles OrgScope's http.Handler: the MCP endpoint at
// /mcp (the go-sdk's Streamable HTTP handler, stateless with JSON
// responses), the discovery documents, the embedded issuer's endpoints when
// there is one, and /healthz, /readyz and /metrics.
//
// A POST to /mcp passes, in order: request id and access log → panic
// recovery → Host check (DNS rebinding) → CORS and Origin check → body
// limit and inspection (which tool is called, Mcp-Name/body agreement) →
// auth (token → principal, or 401; the tool's scopes, or 403) → the go-sdk,
// whose tools/list shows each principal only the tools it may call.
//
// The package wires its parts together and knows none of the embedded
// issuer's internals: the caller passes the verifier and, optionally, the
// issuer's handler and metadata.
package mcpserver
