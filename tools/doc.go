// Package tools holds OrgScope's MCP tools: whoami, and the tenant-scoped
// tools for users, organizations, feature flags and the audit log.
//
// Every tool declares the scopes it needs in the [Catalog]; the HTTP layer
// uses the catalog to refuse a call with 403 insufficient_scope before it
// is dispatched and to show each principal only the tools it may call, and
// each handler checks again. The organization a tool acts on comes from the
// verified principal, never from trust in an argument: an org-scoped
// principal acts on its own org (naming another is answered "not found",
// exactly as for an org that does not exist), and only a global principal
// names the org in an org_code argument.
//
// The package knows nothing of HTTP; it reads the principal from the
// go-sdk's req.Extra.TokenInfo.
package tools
