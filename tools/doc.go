// Package tools holds OrgScope's MCP tools: whoami, and the tenant-scoped
// tools for users, organizations, feature flags and the audit log.
//
// A tool is a thin adapter: its schema says what it takes and gives, and
// its handler decodes the arguments once and strictly (no unknown,
// duplicate or case-variant members), calls the service operation of the
// same name, and answers the result or the service's error. Validation,
// the organization acted on, the decision and the audit record are the
// service's, the same for the command line and the console; the tool adds
// nothing of its own but the shape of MCP.
//
// The package knows nothing of HTTP; it reads the principal from the
// go-sdk's req.Extra.TokenInfo and the request's ids from its record.
package tools
