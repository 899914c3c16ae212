package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/internal/credential"
	"github.com/orgscope/orgscope/store"
)

// The web console's people. A person signs in through the embedded
// issuer; the console hands the service the principal of the token it got
// (Via console), and the service opens a session for them if they are an
// administrator — of their organization, or of the platform. The session
// is a random token the browser keeps in a cookie; the store keeps its
// hash. It is not an access token: the MCP endpoint cannot read it.
//
// On every request the console reads the session again (ConsoleCaller),
// and the service rebuilds the person's principal from the store as it is
// now, so that a person suspended, demoted or deleted loses the console at
// their next click:
//
//   - an organization's administrator acts as an org-scoped principal of
//     their organization with the scopes of the admin role
//     (authz.RoleScopes("admin")), subject the person;
//   - a platform administrator acts as a global principal with every
//     scope, subject the person.
//
// Every operation then goes through the same validation, decision point
// and audit as a tool call or the command line, recorded as
// console:<operation> with the person as subject and the session's id as
// grant_id.

// ConsoleIssuer is the issuer of a console session's principal.
const ConsoleIssuer = "orgscope-console"

// consoleGrantType marks a console session's principal (it is no token's
// grant type).
const consoleGrantType = "console"

// consoleOptions are the limits of a console session.
type consoleOptions struct {
	idle, lifetime time.Duration
}

// Reasons of console refusals, as the audit trail records them.
const (
	reasonNotAnAdministrator = "not_an_administrator"
	reasonNoSession          = "no_session"
)

// ConsolePerson is who a console session is for, as the store has them
// now.
type ConsolePerson struct {
	User store.User
	// SessionID names the session in the audit trail (grant_id).
	SessionID string
	// ExpiresAt is when the session ends however active it is; IdleUntil
	// when it ends unless it is used before; Idle how long it may go
	// unused.
	ExpiresAt, IdleUntil time.Time
	Idle                 time.Duration
}

// ConsoleSession is a session the service opened: Token goes to the
// browser, once; the store keeps its hash.
type ConsoleSession struct {
	Token  string
	Person ConsolePerson
}

// consoleSignInInput names the organization of the person signing in (the
// token's).
type consoleSignInInput struct {
	OrgArg
}

// StartConsoleSession opens a console session for the person whose
// sign-in c carries: the principal of an access token the embedded issuer
// gave the console's client (an org-scoped principal with a grant, acting
// for a person), Via console. Only an active administrator of their
// organization, or a platform administrator, gets one; anyone else is
// refused, saying why. The sign-in, allowed or refused, is in the audit
// trail as console:console_sign_in.
func (s *Service) StartConsoleSession(ctx context.Context, c Caller) (ConsoleSession, error) {
	p := c.Principal
	token := credential.RandomToken(32)
	var in consoleSignInInput
	if p != nil {
		in.OrgCode = p.OrgCode
	}
	op := &operation[consoleSignInInput, ConsoleSession]{
		name:  "console_sign_in",
		org:   orgOf[consoleSignInInput],
		write: true,
		check: func(*consoleSignInInput) error {
			if p.Global() || p.GrantID == "" || p.Subject == "" || p.Subject == p.ClientID {
				return &Error{Kind: KindDenied, Reason: reasonNoSession,
					Message: "a console session starts from a person's sign-in at the embedded issuer, not from a client's token"}
			}
			return nil
		},
		target: func(_ *consoleSignInInput, out *ConsoleSession) string { return out.Person.SessionID },
		do: func(ctx context.Context, q store.Tx, org string, _ *consoleSignInInput) (ConsoleSession, error) {
			u, err := q.GetUser(ctx, org, p.Subject)
			if errors.Is(err, store.ErrNotFound) {
				return ConsoleSession{}, &Error{Kind: KindDenied, Reason: reasonNotAnAdministrator,
					Message: "this person no longer exists in " + org}
			}
			if err != nil {
				return ConsoleSession{}, err
			}
			if err := consoleAdmin(u); err != nil {
				return ConsoleSession{}, err
			}
			now := s.now().UTC()
			sess, err := q.CreateConsoleSession(ctx, store.ConsoleSession{
				TokenHash: credential.HashSecret(token), ID: store.NewID(store.ConsoleSessionIDPrefix),
				OrgCode: org, UserID: u.ID, ClientID: p.ClientID, CreatedAt: now, LastSeenAt: now,
				ExpiresAt: now.Add(s.console.lifetime),
			})
			if err != nil {
				return ConsoleSession{}, err
			}
			return ConsoleSession{Token: token, Person: s.consolePerson(u, sess)}, nil
		},
	}
	return run(ctx, s, c, op, in)
}

// consoleAdmin refuses the console to a person who may not use it: one
// suspended, or neither an administrator of their organization nor of the
// platform.
func consoleAdmin(u store.User) error {
	switch {
	case u.Status != store.UserActive:
		return &Error{Kind: KindDenied, Reason: reasonNotAnAdministrator,
			Message: fmt.Sprintf("the account %s is suspended; an administrator of %s can reactivate it", u.Email, u.OrgCode)}
	case u.Role != store.RoleAdmin && !u.PlatformAdmin:
		return &Error{Kind: KindDenied, Reason: reasonNotAnAdministrator,
			Message: fmt.Sprintf("only an administrator of %s (or of the platform) may use the console; you are signed in "+
				"as %s, a %s: ask an administrator of %s", u.OrgCode, u.Email, u.Role, u.OrgCode)}
	}
	return nil
}

func (s *Service) consolePerson(u store.User, sess store.ConsoleSession) ConsolePerson {
	return ConsolePerson{User: u, SessionID: sess.ID, ExpiresAt: sess.ExpiresAt, IdleUntil: sess.LastSeenAt.Add(s.console.idle),
		Idle: s.console.idle}
}

// errNoConsoleSession is the answer to a console token that names no live
// session.
func errNoConsoleSession(why string) *Error {
	return &Error{Kind: KindNotFound, Reason: reasonNoSession, Message: why}
}

// ConsoleCaller reads the console session token names and returns the
// caller its requests act as, and the person. A token that names no
// session, or one past its idle or absolute limit, is KindNotFound (sign
// in again); a person who may no longer use the console (suspended,
// demoted, deleted) is KindDenied, and their session is ended. Reading a
// session is not audited — it is a sign-in's continuation, like verifying
// a token — but everything done with it is.
func (s *Service) ConsoleCaller(ctx context.Context, token, requestID, traceID string) (Caller, ConsolePerson, error) {
	if token == "" || len(token) > 256 {
		return Caller{}, ConsolePerson{}, errNoConsoleSession("not signed in")
	}
	hash := credential.HashSecret(token)
	sess, err := s.store.GetConsoleSession(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return Caller{}, ConsolePerson{}, errNoConsoleSession("not signed in")
	}
	if err != nil {
		return Caller{}, ConsolePerson{}, s.storeError(ctx, err)
	}
	end := func(e *Error) (Caller, ConsolePerson, error) {
		if _, err := s.store.DeleteConsoleSession(ctx, hash); err != nil {
			s.log.WarnContext(ctx, "console session not removed", "session", sess.ID, "err", err)
		}
		return Caller{}, ConsolePerson{}, e
	}
	now := s.now()
	switch {
	case !now.Before(sess.ExpiresAt):
		return end(errNoConsoleSession("your session ended: sessions last at most " + s.console.lifetime.String()))
	case !now.Before(sess.LastSeenAt.Add(s.console.idle)):
		return end(errNoConsoleSession("your session ended after " + s.console.idle.String() + " without use"))
	}
	u, err := s.store.GetUser(ctx, sess.OrgCode, sess.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return end(errNoConsoleSession("the person this session was for no longer exists"))
	}
	if err != nil {
		return Caller{}, ConsolePerson{}, s.storeError(ctx, err)
	}
	if err := consoleAdmin(u); err != nil {
		e := err.(*Error)
		return end(e)
	}
	if err := s.store.TouchConsoleSession(ctx, hash, now); err != nil {
		s.log.WarnContext(ctx, "console session use not recorded", "session", sess.ID, "err", err)
	} else if now.Sub(sess.LastSeenAt) >= store.TouchInterval {
		sess.LastSeenAt = now
	}
	person := s.consolePerson(u, sess)
	p := &auth.Principal{
		Issuer: ConsoleIssuer, Subject: u.ID, ClientID: sess.ClientID, GrantType: consoleGrantType, GrantID: sess.ID,
		IssuedAt: sess.CreatedAt, Expiry: sess.ExpiresAt, PersonRole: string(u.Role),
	}
	if u.PlatformAdmin {
		// A platform administrator administers every organization: a
		// global principal, for whom the policy's member rule must not
		// read the role they happen to have at home.
		p.Scopes, p.PersonRole = auth.AllScopes, string(store.RoleAdmin)
	} else {
		p.OrgCode, p.Scopes = u.OrgCode, authz.RoleScopes(string(store.RoleAdmin))
	}
	return Caller{Principal: p, Via: ViaConsole, RequestID: requestID, TraceID: traceID}, person, nil
}

// consoleSignOutInput names the organization the session's person belongs
// to, where the sign-out is recorded.
type consoleSignOutInput struct {
	OrgArg
}

// EndConsoleSession signs the person out: the session token names is
// removed, and the sign-out is in the audit trail as
// console:console_sign_out. c is the session's caller (ConsoleCaller).
func (s *Service) EndConsoleSession(ctx context.Context, c Caller, person ConsolePerson, token string) error {
	op := &operation[consoleSignOutInput, struct{}]{
		name:   "console_sign_out",
		org:    orgOf[consoleSignOutInput],
		write:  true,
		target: func(*consoleSignOutInput, *struct{}) string { return person.SessionID },
		do: func(ctx context.Context, q store.Tx, _ string, _ *consoleSignOutInput) (struct{}, error) {
			_, err := q.DeleteConsoleSession(ctx, credential.HashSecret(token))
			return struct{}{}, err
		},
	}
	_, err := run(ctx, s, c, op, consoleSignOutInput{OrgArg{OrgCode: person.User.OrgCode}})
	return err
}
