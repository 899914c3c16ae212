// Package authz is OrgScope's one decision point: whether a principal may
// perform an action (a tool, and the service operation behind it) on an
// organization, with given arguments.
//
// Everything that decides asks an [Authorizer]: the HTTP layer before it
// dispatches a call (and answers 403 insufficient_scope), tools/list when
// it shows a principal the tools it may call, the service layer before it
// runs an operation with its arguments, and the consent page when it caps
// what a person's role may grant. A [Decision] carries the reason, the
// missing scopes and the ids of the policies that decided, which is what
// the audit trail records.
//
// The catalog of actions ([Lookup], [Actions]) says what each needs by
// default: the scopes (under auth.Grants, which owns the hierarchy),
// whether it is for global principals only, and whether it acts on one
// organization. [Rules] decides by the catalog alone; a policy engine is
// another Authorizer with the same signature.
package authz
