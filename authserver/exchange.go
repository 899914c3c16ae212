package authserver

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/store"
)

// Token exchange (RFC 8693): a client that may act for people trades a
// person's access token — or one already delegated — for a token of its
// own that acts for that person: sub stays the person, act names the
// client with the earlier actors nested inside, the scopes narrow, the
// lifetime shortens, and the grant id stays, so the token dies with the
// grant it descends from.

// Token exchange's grant type and the one token type it trades.
const (
	GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"
)

// DefaultDelegationTTL is the longest a delegated token lives when
// Options.DelegationTTL is zero; it never outlives the token exchanged
// either.
const DefaultDelegationTTL = 15 * time.Minute

// AuditTokenExchange is the audit action of a token exchange.
const AuditTokenExchange = "oauth2/token:token-exchange"

// actClaim is RFC 8693 §4.1's act: the acting client, with the actor it
// acts for nested inside.
type actClaim struct {
	Subject  string    `json:"sub"`
	ClientID string    `json:"client_id,omitempty"`
	Act      *actClaim `json:"act,omitempty"`
}

// chain lists the actors, the current one first.
func (a *actClaim) chain() []string {
	var out []string
	for ; a != nil; a = a.Act {
		out = append(out, a.ClientID)
	}
	return out
}

// exchange is one token exchange as it is decided: who asks, for whom,
// and what it gets; what the audit event records.
type exchange struct {
	client  store.Client
	subject *tokenClaims
	chain   []string // the new token's actors, the requesting client first
	purpose string
}

// tokenExchangeGrant is RFC 8693 §2.
func (s *Server) tokenExchangeGrant(r *http.Request) (*tokenResponse, *oauthError) {
	ctx := r.Context()
	cred, oerr := readClientCredentials(r)
	if oerr != nil {
		return nil, oerr
	}
	if cred.id != "" && cred.secret == "" {
		if c, err := s.interactiveClient(ctx, cred.id); err == nil && c.public() {
			return nil, errUnauthorizedClient("a public client may not exchange tokens: only a delegate machine client may act for people")
		}
	}
	client, oerr := s.authenticateClient(ctx, cred)
	if oerr != nil {
		return nil, oerr
	}
	switch {
	case client.Kind != store.ClientMachine || !client.Delegate:
		return nil, errUnauthorizedClient("this client may not act for people; an administrator allows it with " +
			"orgscope clients update CLIENT_ID --delegate")
	case client.OrgCode == "":
		return nil, errUnauthorizedClient("a global client may not act for people: only a client of the person's organization may")
	}
	x := &exchange{client: client}
	resp, oerr := s.exchangeFor(r, x)
	if oerr != nil {
		s.auditExchange(ctx, x, oerr)
	}
	return resp, oerr
}

// exchangeFor decides and issues the exchange x's client asks for.
func (s *Server) exchangeFor(r *http.Request, x *exchange) (*tokenResponse, *oauthError) {
	ctx, form := r.Context(), r.PostForm
	switch {
	case form.Get("subject_token") == "":
		return nil, errInvalidRequest("subject_token is required: the access token of the person (or agent) to act for")
	case form.Get("subject_token_type") != TokenTypeAccessToken:
		return nil, errInvalidRequest("subject_token_type must be " + TokenTypeAccessToken + ": only this server's access tokens are exchanged")
	case form.Has("actor_token") || form.Has("actor_token_type"):
		return nil, errInvalidRequest("actor_token is not supported: the authenticated client is the actor")
	case form.Has("requested_token_type") && form.Get("requested_token_type") != TokenTypeAccessToken:
		return nil, errInvalidRequest("requested_token_type must be " + TokenTypeAccessToken + ": only access tokens are issued")
	}
	x.purpose = form.Get("purpose")
	if err := auth.CheckPurpose(x.purpose); err != nil {
		return nil, errInvalidRequest("purpose is not valid: one line of text of at most 256 bytes")
	}
	aud, oerr := s.audience(r)
	if oerr != nil {
		return nil, oerr
	}
	sub, oerr := s.subjectToken(ctx, form.Get("subject_token"), aud)
	if oerr != nil {
		return nil, oerr
	}
	if sub.OrgCode != x.client.OrgCode {
		// Recorded without the person: the client's org may not learn
		// another's.
		return nil, errInvalidGrant("the person of subject_token belongs to another organization than this client")
	}
	x.subject = sub
	x.chain = append([]string{x.client.ID}, sub.Act.chain()...)
	if x.purpose == "" {
		x.purpose = sub.Purpose // the intent carries on to a sub-agent
	}
	if len(x.chain) > auth.MaxActors {
		return nil, errInvalidRequest("the subject token is delegated too many times over already")
	}
	standing, err := s.Standing(ctx, sub.GrantID, sub.OrgCode, sub.Subject, sub.Act.chain())
	if err != nil {
		return nil, s.storeFailure(ctx, "subject standing", err)
	}
	if !standing.Active {
		s.log.InfoContext(ctx, "token exchange: subject token no longer stands", "client_id", x.client.ID, "why", standing.Why)
		return nil, errInvalidRequest("subject_token has been revoked (its grant, its person or an agent acting in it is no longer active)")
	}

	// What the new token may carry: the subject token's scopes, the
	// client's allowed ones and the person's role, intersected.
	allowed := auth.Narrow(auth.ParseScopes(sub.Scope), auth.AllScopes)
	allowed = auth.Narrow(x.client.Scopes, allowed)
	for _, b := range standing.Bounds {
		allowed = auth.Narrow(b.Scopes, allowed)
	}
	scopes := allowed
	if form.Has("scope") {
		requested := auth.ParseScopes(form.Get("scope"))
		if wider := auth.Missing(allowed, requested); len(wider) > 0 || len(requested) == 0 {
			return nil, errInvalidScope("the requested scope exceeds what the subject token, this client and the person's role " +
				"all allow (" + strings.Join(allowed, " ") + "); an exchange only narrows")
		}
		scopes = auth.Narrow(allowed, requested)
	}
	if len(scopes) == 0 {
		return nil, errInvalidScope("the subject token, this client and the person's role have no scope in common")
	}

	issued, oerr := s.issueTime(ctx, x.client)
	if oerr != nil {
		return nil, oerr
	}
	ttl := min(s.opts.DelegationTTL, s.opts.TokenTTL, sub.Expiry.Time().Sub(issued).Truncate(time.Second))
	if x.client.TokenTTL > 0 {
		ttl = min(ttl, x.client.TokenTTL)
	}
	if ttl < time.Second {
		return nil, errInvalidRequest("subject_token expires within a second; exchange a fresh one")
	}
	act := &actClaim{Subject: x.client.ID, ClientID: x.client.ID, Act: sub.Act}
	jti := uuid.NewString()
	token, exp, oerr := s.mint(ctx, accessClaims{
		Subject: sub.Subject, ClientID: x.client.ID, OrgCode: sub.OrgCode, Audience: aud, Scopes: scopes,
		GrantType: GrantTypeTokenExchange, GrantID: sub.GrantID, TTL: ttl, IssuedAt: issued,
		TokenID: jti, Act: act, Purpose: x.purpose,
	})
	if oerr != nil {
		return nil, oerr
	}
	d := store.Delegation{TokenID: jti, GrantID: sub.GrantID, OrgCode: sub.OrgCode, UserID: sub.Subject,
		ClientID: x.client.ID, ActorChain: x.chain, SubjectTokenID: sub.ID, Scopes: scopes, Purpose: x.purpose,
		CreatedAt: issued, ExpiresAt: exp}
	err = s.opts.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateDelegation(ctx, d); err != nil {
			return err
		}
		return tx.AppendAuditEvent(ctx, s.exchangeEvent(x, nil))
	})
	if errors.Is(err, store.ErrNotFound) {
		// The grant went between the check and the record.
		return nil, errInvalidRequest("subject_token has been revoked (its grant is gone)")
	}
	if err != nil {
		return nil, s.storeFailure(ctx, "record delegation", err)
	}
	s.touch(ctx, x.client.ID, x.client.LastUsedAt)
	s.log.InfoContext(ctx, "token issued", "grant_type", "token-exchange", "client_id", x.client.ID,
		"org_code", sub.OrgCode, "user_id", sub.Subject, "grant_id", sub.GrantID, "actor_chain", strings.Join(x.chain, " "),
		"scope", strings.Join(scopes, " "), "expires_in", int(ttl/time.Second))
	return &tokenResponse{
		AccessToken:     token,
		IssuedTokenType: TokenTypeAccessToken,
		TokenType:       "Bearer",
		// exp has whole seconds, so it is up to a second short of
		// issued+ttl; less than that means the signing key's retirement
		// shortened it.
		ExpiresIn: int(min(ttl, exp.Sub(issued)+time.Second) / time.Second),
		Scope:     strings.Join(scopes, " "),
	}, nil
}

// subjectToken reads the token to exchange: an access token this server
// signed for aud, unexpired, not revoked, issued after every cutoff of its
// clients, and a person's (it carries a grant and an organization).
// Anything else is invalid_request, as RFC 8693 §2.2.2 requires.
func (s *Server) subjectToken(ctx context.Context, token, aud string) (*tokenClaims, *oauthError) {
	c := s.ownToken(token)
	switch {
	case c == nil:
		return nil, errInvalidRequest("subject_token is not a valid, unexpired access token of this server")
	case !auth.ResourceMatches(c.Audience, aud):
		return nil, errInvalidRequest("subject_token was issued for another resource")
	case c.GrantID == "" || c.OrgCode == "" || c.ID == "" || c.IssuedAt == nil:
		return nil, errInvalidRequest("subject_token is not a person's token: only a token of the sign-in flow, " +
			"or one delegated from it, acts for a person")
	}
	revoked, err := s.opts.Store.IsTokenRevoked(ctx, c.ID)
	if err != nil {
		return nil, s.storeFailure(ctx, "is token revoked", err)
	}
	if revoked {
		return nil, errInvalidRequest("subject_token has been revoked")
	}
	for _, client := range append([]string{c.ClientID}, c.Act.chain()...) {
		cut, err := s.opts.Store.GetClientCutoff(ctx, client)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, s.storeFailure(ctx, "get client cutoff", err)
		case !c.IssuedAt.Time().After(cut.Cutoff):
			return nil, errInvalidRequest("subject_token has been revoked (a client it was issued to was cut off)")
		}
	}
	return c, nil
}

// exchangeEvent is the audit event of an exchange: allowed (the scopes
// issued are in its delegation record), or refused with the error it got.
func (s *Server) exchangeEvent(x *exchange, refusal *oauthError) store.AuditEvent {
	ev := store.AuditEvent{
		ID: store.NewID(store.EventIDPrefix), Time: s.opts.Now().UTC(), OrgCode: x.client.OrgCode,
		ClientID: x.client.ID, ActorChain: x.chain, Action: AuditTokenExchange, Purpose: x.purpose,
		Decision: store.DecisionAllow, Outcome: store.OutcomeOK,
	}
	if x.subject != nil {
		ev.Subject, ev.GrantID, ev.Target = x.subject.Subject, x.subject.GrantID, x.subject.Subject
	}
	if refusal != nil {
		ev.Decision, ev.Outcome, ev.Reason = store.DecisionDeny, store.OutcomeError, refusal.code
	}
	return ev
}

// auditExchange records a refused exchange of an authenticated client
// (one that could not even authenticate is not recorded: it names no
// organization). A failure to record is logged; the refusal stands.
func (s *Server) auditExchange(ctx context.Context, x *exchange, refusal *oauthError) {
	if refusal.status >= 500 {
		return // the database is the trouble; nothing to record it in
	}
	if err := s.opts.Store.AppendAuditEvent(ctx, s.exchangeEvent(x, refusal)); err != nil {
		s.log.WarnContext(ctx, "token exchange refusal not recorded", "client_id", x.client.ID, "err", err)
	}
}
