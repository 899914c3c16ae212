// Package policy is OrgScope's access policy as code: Cedar policies,
// evaluated in process with cedar-go, that an operator keeps in a file
// under version control, tests before deploying, and reloads without a
// restart.
//
// The schema (Schema, namespace OrgScope) describes a request: the acting
// OrgScope::Client (its id the client id), one OrgScope::Action per tool
// (grouped into read, write, delete and admin, and tenant for tools that
// act on one organization), the OrgScope::Org acted on (its id the org
// code) and a context with the tool's arguments, the token's scopes, the
// subject, the actor chain, the purpose, the person an agent acts for and
// the time. The built-in policy (Builtin) reproduces OrgScope's compiled
// rules exactly; operators copy and edit it.
//
// An [Engine] is an authz.Authorizer. It decides tools/list and a request
// before dispatch without the arguments — by cedar-go's partial evaluation
// (x/exp/batch), so a tool is shown when it is possibly allowed — and the
// call once more with them. A forbid's @refusal makes its refusal one of
// OrgScope's own (a 403 naming the missing scopes, for one); any other
// refusal names the policy's @id and @reason. A permit annotated
// @approval("required") lets a call run only with a person's approval.
//
// Reload replaces the whole policy set, atomically; a file that does not
// parse or validate is refused, and the set in force stays. [RunTests]
// checks a file of expected decisions against a set; [Set.Explain] shows
// how one call is decided.
package policy
