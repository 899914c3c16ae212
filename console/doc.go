// Package console is OrgScope's web console for people, served under
// /console/. For now it is the approval page: where an administrator of an
// organization sees a call an agent made that the access policy lets run
// only with a person's approval — the agent, the person it acts for, the
// tool and its arguments — and approves or denies it.
//
// People sign in through the embedded issuer's own sign-in page: the
// console is a first-party, confidential OAuth client of it (authorization
// code with PKCE), exchanges the code in process, keeps the access token in
// an HttpOnly, SameSite cookie (__Host- prefixed over https), and checks it
// on every request with the resource server's verifier. Forms carry a CSRF
// token bound to a cookie and are refused from other origins; no page may
// be framed. Decisions go through the service, which checks that the
// person is an active administrator of the organization and records them
// in the audit trail. With an external issuer there is no console.
package console
