// Package e2e holds OrgScope's black-box tests: the real server started
// through app.Run (and once as the built binary) on loopback, driven by real
// clients — net/http as curl would, x/oauth2's client credentials, the
// go-sdk's MCP client — with refusals checked for their status, their
// WWW-Authenticate header and for having changed nothing in the database.
package e2e
