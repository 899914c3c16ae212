// Package console is OrgScope's web console, served under /console/: what
// an operator does in an identity provider's dashboard, in OrgScope's own
// pages — organizations, people, machine clients, delegations and grants
// (who acts for whom, and revoking it), feature flags, the audit trail,
// approvals, the access policy and (for the platform) the signing keys.
//
// People sign in through the embedded issuer's own sign-in page: the
// console is a public OAuth client of it (authorization code with PKCE,
// one exact redirect URI), exchanges the code in process, verifies the
// token and revokes it at once — it only proves who signed in. The
// service then opens a session for an administrator of their organization
// or a platform administrator: a random token in an HttpOnly, SameSite
// cookie (__Host- prefixed over https) whose hash the store keeps, which
// ends after a while without use, at an absolute limit, and at sign-out.
// It is no access token: /mcp cannot read it.
//
// Every page and form acts through the service as the signed-in person
// (service.ConsoleCaller): the same validation, decision point and audit
// trail as a tool call or the command line. An organization's
// administrator naming another organization in a URL or a form is told it
// does not exist. Forms carry a token derived from the session and are
// refused from other origins; pages load nothing but the console's own
// stylesheet and script (a CSP without 'unsafe-inline') and cannot be
// framed. With an external issuer there is no console (Off says why).
package console
