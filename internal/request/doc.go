// Package request holds the record of one request to OrgScope: made once
// by the HTTP layer when the request arrives, filled in as it travels (the
// JSON-RPC calls it carries, the principal, what each call's decision and
// outcome were), and read by whatever reports on it — the access log, the
// audit trail and the metrics — so that all of them tell the same story.
//
// It is plain data with a context accessor, so that packages below the
// HTTP layer (tools, the service) can read the request id and trace id
// and report outcomes without knowing HTTP.
package request
