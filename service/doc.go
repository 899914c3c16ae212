// Package service is the one way in to what OrgScope keeps, for every way
// a request arrives: MCP tools, the command line and the admin console.
//
// Each operation does the same four things in the same order: it checks
// its input with one set of rules ([Error] with KindInvalid says what is
// wrong, in the same words for every way in); it resolves the organization
// it acts on (an org-scoped principal acts on its own; naming another is
// answered exactly like an organization that does not exist); it asks the
// decision point (package authz) with the principal, the action, the
// organization and the arguments; and it performs the change and records
// its audit event in one transaction, so that a change never exists
// without its record. Reads and refusals are recorded too: every decision
// about a call is in the audit trail, and an answer is given only once its
// record is written — except for a call that failed because the store is
// unavailable: it is answered at once, within the store's deadline, and
// its record is written when the store answers again (or logged as lost,
// with its id, if it does not within 15 minutes).
//
// The audit event carries the canonical JSON's SHA-256 of the arguments,
// never the arguments themselves.
package service
