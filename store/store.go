package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Errors every backend returns, so that callers can branch with errors.Is.
var (
	// ErrNotFound: the record does not exist, or it belongs to another
	// organization (the two are deliberately indistinguishable).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a uniqueness rule would be broken (an org code, an email
	// within an org, a flag key, a client id). Nothing was written.
	ErrConflict = errors.New("store: conflict")
	// ErrInvalidCursor: a page cursor was not produced by this store for this
	// listing. Nothing was read.
	ErrInvalidCursor = errors.New("store: invalid cursor")
	// ErrReplayed: a single-use credential (authorization code, refresh token,
	// client assertion) was presented a second time. For a code or a refresh
	// token the backend has already revoked the grant it belongs to when it
	// returns this error.
	ErrReplayed = errors.New("store: single-use credential replayed")
	// ErrUnavailable wraps a failure to reach the database (connection
	// refused, pool closed, timeout). Callers answer 503 and retry later.
	ErrUnavailable = errors.New("store: database unavailable")
	// ErrLimitReached: a capped collection (CreateClientWithin) is full.
	// Nothing was written.
	ErrLimitReached = errors.New("store: limit reached")
)

// MaxPageSize is the largest page a listing returns; larger limits are
// clamped to it and a limit of zero or less means DefaultPageSize.
const (
	MaxPageSize     = 100
	DefaultPageSize = 20
)

// Page selects one page of a keyset-paginated listing. Cursor is empty for
// the first page and otherwise the NextCursor of the previous page; it is
// opaque to callers.
type Page struct {
	Cursor string
	Limit  int
}

// Size returns the effective page size: Limit clamped to [1, MaxPageSize],
// DefaultPageSize when Limit is not positive.
func (p Page) Size() int {
	switch {
	case p.Limit <= 0:
		return DefaultPageSize
	case p.Limit > MaxPageSize:
		return MaxPageSize
	}
	return p.Limit
}

// Store is everything OrgScope keeps. Consumers declare the subset they use
// as an interface of their own (tools.Store, authserver.Store), so that, for
// instance, the tools cannot reach the issuer's cross-org login lookup.
//
// Implementations are safe for concurrent use. Every write is atomic: on
// error nothing has changed. Every call runs under a deadline (the
// backend's query timeout, or the caller's deadline if that is earlier),
// and running out of it is ErrUnavailable.
type Store interface {
	Tx

	// InTx runs fn in one transaction: everything fn does through tx commits
	// together when fn returns nil, and nothing does when it returns an error
	// or panics (the panic is re-raised after rollback). Calls of tx are only
	// valid inside fn. Nested InTx is not supported, and neither is writing
	// through the Store itself from fn (on SQLite such a write waits for
	// fn's transaction until its deadline); reads through the Store see
	// the data as it was before the transaction.
	//
	// Reads through tx see fn's own writes. Methods that are atomic on their
	// own (RotateRefreshToken, RedeemAuthCode, EnsureSigningKey, the bulk
	// creates, ...) run in fn's transaction, each still all-or-nothing. The
	// whole transaction runs under one deadline, as a single call does; if
	// a call of tx fails, fn should return an error (PostgreSQL refuses any
	// further statement of a transaction in which one failed). If fn returns
	// an error, InTx returns it unchanged.
	InTx(ctx context.Context, fn func(tx Tx) error) error

	RateStore

	// Ping reports whether the database answers; /readyz uses it.
	Ping(ctx context.Context) error
	// Close releases the database handles.
	Close() error
}

// Tx is every read and write of a Store: what a Store does on its own, and
// what fn does inside Store.InTx.
type Tx interface {
	OrgStore
	UserStore
	FlagStore
	ClientStore
	KeyStore
	GrantStore
	AuditStore
	DenylistStore
	ApprovalStore
	ConsoleSessionStore
}

// OrgStore keeps organizations (tenants).
type OrgStore interface {
	// CreateOrg stores org. CreatedAt/UpdatedAt are set when zero.
	// ErrConflict if the code exists.
	CreateOrg(ctx context.Context, org Org) (Org, error)
	// CreateOrgs stores many organizations in one transaction (seeding).
	CreateOrgs(ctx context.Context, orgs []Org) error
	GetOrg(ctx context.Context, code string) (Org, error)
	// ListOrgs pages through all organizations ordered by code.
	ListOrgs(ctx context.Context, page Page) (orgs []Org, nextCursor string, err error)
	// UpdateOrg applies a partial update. ErrNotFound if the org does not exist.
	UpdateOrg(ctx context.Context, code string, update OrgUpdate) (Org, error)
}

// UserStore keeps the people of each organization.
type UserStore interface {
	// CreateUser stores u (ID, OrgCode and Email set by the caller; Email is
	// stored as given and compared case-insensitively). ErrNotFound if the
	// org does not exist, ErrConflict if the email or ID is taken in the org.
	CreateUser(ctx context.Context, u User) (User, error)
	// CreateUsers stores many users in one transaction (seeding, imports).
	CreateUsers(ctx context.Context, users []User) error
	GetUser(ctx context.Context, orgCode, userID string) (User, error)
	// ListUsers pages through the org's users ordered by ID (IDs are
	// time-ordered, so this is creation order). Records that existed when
	// the first page was read appear exactly once however many users are
	// inserted between pages.
	ListUsers(ctx context.Context, orgCode string, filter UserFilter, page Page) (users []User, nextCursor string, err error)
	// UpdateUser applies a partial update; ErrConflict if the new email is
	// taken in the org.
	UpdateUser(ctx context.Context, orgCode, userID string, update UserUpdate) (User, error)
	// DeleteUser removes the user and their password.
	DeleteUser(ctx context.Context, orgCode, userID string) error

	// SetUserPassword stores a password hash (already slow-hashed by the
	// caller) for the user.
	SetUserPassword(ctx context.Context, orgCode, userID, passwordHash string) error
	// UserCredentials returns the users whose email matches (case-insensitively)
	// across all organizations, with their password hashes ("" when none is
	// set). It exists for the issuer's login page only; tenant-scoped code
	// never sees it.
	UserCredentials(ctx context.Context, email string) ([]UserCredential, error)
}

// FlagStore keeps feature-flag definitions (global) and per-org overrides.
type FlagStore interface {
	// CreateFlag stores a definition. ErrConflict if the key exists.
	CreateFlag(ctx context.Context, def FlagDefinition) (FlagDefinition, error)
	// DeleteFlag removes a definition and every org's override of it.
	DeleteFlag(ctx context.Context, key string) error
	// ListEffectiveFlags pages through all definitions ordered by key, each
	// with the org's override if it has one. ErrNotFound if the org does not exist.
	ListEffectiveFlags(ctx context.Context, orgCode string, page Page) (flags []EffectiveFlag, nextCursor string, err error)
	// GetEffectiveFlag returns one definition with the org's override, if any.
	GetEffectiveFlag(ctx context.Context, orgCode, key string) (EffectiveFlag, error)
	// SetFlagOverride sets (or replaces) the org's value for key. The caller
	// has checked the value against the flag's type. ErrNotFound if the org
	// or the flag does not exist.
	SetFlagOverride(ctx context.Context, orgCode, key string, value json.RawMessage) (FlagOverride, error)
	// DeleteFlagOverride removes the org's override; it reports whether there
	// was one. ErrNotFound if the org or the flag does not exist.
	DeleteFlagOverride(ctx context.Context, orgCode, key string) (deleted bool, err error)
}

// ClientStore keeps OAuth clients: machine clients provisioned by an
// administrator and clients registered through RFC 7591, and their
// secrets (hashes only).
type ClientStore interface {
	// CreateClient stores c and its Secrets (a zero secret CreatedAt
	// becomes the client's). ErrConflict if the ID exists, ErrNotFound if
	// c.OrgCode names an org that does not exist.
	CreateClient(ctx context.Context, c Client) (Client, error)
	// CreateClientWithin stores c like CreateClient if fewer than limit
	// clients of c.Kind exist, and returns ErrLimitReached otherwise. The
	// count and the insert are one atomic step: however many callers race,
	// in one process or several, the cap holds exactly (among callers of
	// CreateClientWithin; CreateClient does not check it).
	CreateClientWithin(ctx context.Context, c Client, limit int) (Client, error)
	// GetClient returns the client with the secrets that have not expired.
	GetClient(ctx context.Context, id string) (Client, error)
	// ListClients pages through the clients filter selects, ordered by ID,
	// each with the secrets that have not expired.
	ListClients(ctx context.Context, filter ClientFilter, page Page) (clients []Client, nextCursor string, err error)
	// UpdateClient applies a partial update and returns the client as it is
	// after. ErrNotFound if the client does not exist.
	UpdateClient(ctx context.Context, id string, update ClientUpdate) (Client, error)
	// DeleteClient removes the client and its secrets. ErrNotFound if it
	// does not exist.
	DeleteClient(ctx context.Context, id string) error
	// RotateClientSecret adds next to the client's secrets (CreatedAt set
	// when zero) and makes every other one expire at previousUntil at the
	// latest (at once when previousUntil is not after now; a secret that
	// expires sooner keeps its expiry), in one atomic step. It returns the
	// client as it is after. ErrNotFound if the client does not exist.
	RotateClientSecret(ctx context.Context, id string, next ClientSecret, previousUntil time.Time) (Client, error)
	// TouchClient records that the client was used at t — unless the use
	// it has recorded is less than TouchInterval before t, so that a
	// client asking for many tokens costs one write a minute. Touching a
	// client that does not exist does nothing.
	TouchClient(ctx context.Context, id string, t time.Time) error
	// UseClientAssertion records that the client used the assertion with
	// this jti, valid until expiresAt, and returns ErrReplayed if an
	// assertion of the client with the same jti that has not expired was
	// recorded before (on any replica): one insert, atomic, so that of two
	// concurrent uses exactly one succeeds. Nothing is written on
	// ErrReplayed. The records go with DeleteExpired.
	UseClientAssertion(ctx context.Context, clientID, jti string, expiresAt time.Time) error
	// CountClients counts the clients of one kind.
	CountClients(ctx context.Context, kind ClientKind) (int, error)
	// DeleteIdleClients removes the clients of kind that were never used and
	// were created before neverUsedBefore, and those last used before
	// idleBefore, and returns how many it removed.
	DeleteIdleClients(ctx context.Context, kind ClientKind, neverUsedBefore, idleBefore time.Time) (int, error)
}

// TouchInterval is the finest grain of a client's last use: TouchClient
// writes at most once per interval and client.
const TouchInterval = time.Minute

// KeyStore keeps the embedded issuer's signing keys.
type KeyStore interface {
	// EnsureSigningKey stores candidate if no signing key exists yet and
	// returns the current key, which is candidate or the one stored before.
	// Two callers racing (two replicas starting together) get the same key.
	EnsureSigningKey(ctx context.Context, candidate SigningKey) (SigningKey, error)
	// SigningKeys returns every stored key, newest first (for the JWKS).
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// AddSigningKey stores a new key (a rotation): it is published at once
	// and signs from k.ActivateAt. CreatedAt is set when zero, ActivateAt
	// when zero to CreatedAt. ErrConflict if its id exists.
	AddSigningKey(ctx context.Context, k SigningKey) (SigningKey, error)
	// RetireSigningKey removes key id at once, private key and all (an
	// emergency), in one step serialized with every other retirement. If it
	// was the key signing at now (KeySchedule), a key is made to sign in its
	// place at once: the next key, if there is one (its ActivateAt becomes
	// now), or else the key replacement returns, stored with ActivateAt
	// now. ErrNotFound, and nothing changed, if there is no key id.
	RetireSigningKey(ctx context.Context, id string, now time.Time, replacement func() (SigningKey, error)) (KeyRetirement, error)
	// DeleteRetiredSigningKeys removes the keys KeySchedule calls retired
	// at now, and returns how many.
	DeleteRetiredSigningKeys(ctx context.Context, now time.Time) (int, error)
}

// GrantStore keeps what the interactive flow leaves behind: pending
// authorization requests, authorization codes, grants and refresh tokens.
// Codes, refresh tokens and request handles are stored only as hashes.
type GrantStore interface {
	// CreateAuthRequest stores a pending authorization (login + consent).
	CreateAuthRequest(ctx context.Context, r AuthRequest) error
	// GetAuthRequest returns a pending request by the hash of its handle.
	GetAuthRequest(ctx context.Context, handleHash string) (AuthRequest, error)
	// SetAuthRequestUser records who signed in for the pending request.
	SetAuthRequestUser(ctx context.Context, handleHash, orgCode, userID string) error
	// ConsumeAuthRequest deletes the pending request and returns it; a second
	// call returns ErrNotFound (consent is single-use).
	ConsumeAuthRequest(ctx context.Context, handleHash string) (AuthRequest, error)

	// CreateAuthCode stores an issued authorization code.
	CreateAuthCode(ctx context.Context, c AuthCode) error
	// RedeemAuthCode marks the code used and records grantID as the grant its
	// tokens belong to. A code already used returns ErrReplayed after revoking
	// the grant recorded at its first use; an unknown code ErrNotFound.
	// (Inside InTx the revocation is part of fn's transaction: it is kept
	// only if fn returns nil.)
	RedeemAuthCode(ctx context.Context, codeHash, grantID string) (AuthCode, error)

	// CreateGrant stores a grant (one user's consent to one client, from
	// which a family of refresh tokens descends).
	CreateGrant(ctx context.Context, g Grant) error
	GetGrant(ctx context.Context, id string) (Grant, error)
	// RevokeGrant marks the grant revoked; it is idempotent.
	RevokeGrant(ctx context.Context, id string) error

	// CreateRefreshToken stores a refresh token of an existing grant.
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// RotateRefreshToken atomically retires oldHash and stores next in the
	// same grant, returning the grant. A token already rotated less than
	// reuseWindow ago is rotated again: next becomes a second successor in
	// the same grant and nothing is revoked (a client that lost the answer
	// to its refresh may retry). A token rotated longer ago returns
	// ErrReplayed after revoking the whole grant (inside InTx the revocation
	// is kept only if fn returns nil). An unknown or expired token, or one
	// whose grant is revoked, returns ErrNotFound.
	RotateRefreshToken(ctx context.Context, oldHash string, next RefreshToken, reuseWindow time.Duration) (Grant, error)
	// LookupRefreshToken returns a refresh token and its grant (for
	// revocation and introspection).
	LookupRefreshToken(ctx context.Context, hash string) (RefreshToken, Grant, error)

	// ListGrants pages through the grants of one organization (orgCode ""
	// lists every organization's), ordered by ID (creation order), each
	// with its person's email and its client's name. A grant whose person
	// no longer exists is not listed (it stands no more).
	ListGrants(ctx context.Context, orgCode string, filter GrantFilter, page Page) (grants []GrantView, nextCursor string, err error)
	// CreateDelegation records a token exchange. ErrNotFound if its grant
	// does not exist, ErrConflict if its TokenID is recorded already.
	CreateDelegation(ctx context.Context, d Delegation) error
	// ListDelegations returns the delegations of the grants named that
	// have not expired at liveAt, newest first within each grant (grants
	// in the order named), at most perGrant of each.
	ListDelegations(ctx context.Context, grantIDs []string, liveAt time.Time, perGrant int) ([]Delegation, error)

	// DeleteExpired removes what nothing can use any more: pending
	// requests, codes, refresh tokens, client secrets, client assertions,
	// delegations, console sessions and denylist entries that expired before cutoff, grants revoked before
	// cutoff, and grants created before cutoff that have no refresh token left. Callers pass a
	// cutoff older than any access token alive (their grant is checked on
	// every call). It returns how many rows it removed.
	DeleteExpired(ctx context.Context, cutoff time.Time) (int, error)
}

// AuditStore keeps an append-only record of what principals did and were
// refused.
type AuditStore interface {
	// AppendAuditEvent stores e, giving it an ID (NewID) and a Time when
	// they are empty. OrgCode may be empty (a platform-wide action) or name
	// an org that does not exist (a refused request): the log records what
	// was asked.
	AppendAuditEvent(ctx context.Context, e AuditEvent) error
	// ListAuditEvents pages through one org's events (orgCode "" lists the
	// platform-wide ones), newest first, narrowed by filter.
	ListAuditEvents(ctx context.Context, orgCode string, filter AuditFilter, page Page) (events []AuditEvent, nextCursor string, err error)
	// ExportAuditEvents pages through the events at or after since, oldest
	// first: one org's when orgCode is not nil, every org's (and the
	// platform-wide ones) when it is.
	ExportAuditEvents(ctx context.Context, orgCode *string, since time.Time, page Page) (events []AuditEvent, nextCursor string, err error)
	// DeleteAuditEventsBefore removes the events older than cutoff
	// (retention), in batches of bounded size so that no single statement
	// holds the database for long, and returns how many it removed. The
	// deadline applies to each batch; a call that fails part-way has
	// removed the batches before the failure.
	DeleteAuditEventsBefore(ctx context.Context, cutoff time.Time) (int, error)
}

// DenylistStore keeps the access tokens revoked before their expiry, so
// that every replica refuses them until they expire anyway.
type DenylistStore interface {
	// RevokeToken adds t to the denylist, stamping RevokedAt with the
	// current time. Revoking a token again changes nothing.
	RevokeToken(ctx context.Context, t RevokedToken) error
	// RevokedTokensSince lists the tokens revoked at or after since that
	// have not expired yet, oldest revocation first.
	RevokedTokensSince(ctx context.Context, since time.Time) ([]RevokedToken, error)

	// IsTokenRevoked reports whether the token with this id is on the
	// denylist (and has not expired).
	IsTokenRevoked(ctx context.Context, tokenID string) (bool, error)

	// CutOffClient makes every token of the client issued before now
	// invalid, until until (the longest a token lives). A later cut-off
	// moves the cutoff forward; an earlier one changes nothing.
	CutOffClient(ctx context.Context, clientID string, until time.Time) (ClientCutoff, error)
	// ClientCutoffsSince lists the cutoffs changed at or after since that
	// have not expired yet, oldest change first.
	ClientCutoffsSince(ctx context.Context, since time.Time) ([]ClientCutoff, error)
	// GetClientCutoff returns the client's cutoff; ErrNotFound if it has
	// none that has not expired.
	GetClientCutoff(ctx context.Context, clientID string) (ClientCutoff, error)
}

// ApprovalStore keeps approvals: a person's decision on a call the access
// policy lets run only once someone approves it. Every method is keyed by
// org, like the records of a tenant.
type ApprovalStore interface {
	// CreateApproval stores a, which must be pending. ErrConflict if the
	// ID exists.
	CreateApproval(ctx context.Context, a Approval) (Approval, error)
	// GetApproval returns one approval of the org; ErrNotFound if the org
	// has none with that ID.
	GetApproval(ctx context.Context, orgCode, id string) (Approval, error)
	// PendingApproval returns the newest approval for exactly the call key
	// names that is still pending and not expired at at; ErrNotFound if
	// there is none.
	PendingApproval(ctx context.Context, key ApprovalKey, at time.Time) (Approval, error)
	// CountPendingApprovals counts the org's approvals of one client that
	// are pending and not expired at at.
	CountPendingApprovals(ctx context.Context, orgCode, clientID string, at time.Time) (int, error)
	// DecideApproval records a person's decision (ApprovalApproved or
	// ApprovalDenied) on a pending approval not expired at at, and returns
	// it. ErrNotFound if the org has no such approval; ErrConflict, with
	// the approval as it stands, if it is no longer pending or has expired.
	DecideApproval(ctx context.Context, orgCode, id string, status ApprovalStatus, decidedBy string, at time.Time) (Approval, error)
	// UseApproval marks an approval used: only one that is approved, not
	// expired at at, and for exactly the call key names. So an approval
	// allows one call. ErrNotFound if the org has no such approval;
	// ErrConflict, with the approval as it stands, if it cannot be used.
	UseApproval(ctx context.Context, key ApprovalKey, id string, at time.Time) (Approval, error)
	// ListApprovals returns up to limit of the org's approvals that filter
	// selects, newest first (limit as Page.Size clamps it). An org has few
	// approvals that matter at once — pending ones are bounded per client,
	// and expired ones are removed a day later — so there is no cursor.
	ListApprovals(ctx context.Context, orgCode string, filter ApprovalFilter, limit int) ([]Approval, error)
	// DeleteApprovalsExpiredBefore removes the approvals that expired
	// before cutoff, and returns how many.
	DeleteApprovalsExpiredBefore(ctx context.Context, cutoff time.Time) (int, error)
}

// ConsoleSessionStore keeps the web console's sessions, by the hash of
// the token the browser holds.
type ConsoleSessionStore interface {
	// CreateConsoleSession stores s (CreatedAt and LastSeenAt set when
	// zero). ErrConflict if its token hash or ID exists.
	CreateConsoleSession(ctx context.Context, s ConsoleSession) (ConsoleSession, error)
	// GetConsoleSession returns the session whose token has this hash;
	// ErrNotFound if there is none (expired sessions are returned until
	// DeleteExpired removes them: the caller decides what expired means).
	GetConsoleSession(ctx context.Context, tokenHash string) (ConsoleSession, error)
	// TouchConsoleSession records that the session was used at t, unless
	// the use it has recorded is less than TouchInterval before t (one
	// write a minute however busy the person is). A session that does
	// not exist is not an error.
	TouchConsoleSession(ctx context.Context, tokenHash string, t time.Time) error
	// DeleteConsoleSession removes the session (sign-out); it reports
	// whether there was one.
	DeleteConsoleSession(ctx context.Context, tokenHash string) (bool, error)
}

// RateStore keeps the token buckets of rate limits that every process
// using the database shares (replicas on one PostgreSQL). It is not part of
// a transaction: a bucket changes in one statement of its own.
type RateStore interface {
	// TakeTokens takes tokens from the bucket named key, which holds at most
	// limit.Burst tokens and refills at limit.PerSecond (a bucket never seen
	// is full): up to want of them when there are, as many as there are
	// when that is at least need, and none otherwise. It reports how many
	// it took, how many are left, and how long until the bucket holds need
	// again (when it took none) and is full again. need is at least 1 and
	// at most want; a need above limit.Burst is never met.
	TakeTokens(ctx context.Context, key string, limit RateLimit, need, want int) (RateTake, error)
}

// RateLimit is a token bucket's shape: PerSecond tokens a second, at most
// Burst at once. Both positive.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// RateTake is the outcome of RateStore.TakeTokens.
type RateTake struct {
	// Taken is how many tokens were taken: 0, or between need and want.
	Taken int
	// Remaining is how many whole tokens the bucket holds afterwards.
	Remaining int
	// Wait, when Taken is 0, is how long until the bucket holds need.
	Wait time.Duration
	// Full is how long until the bucket is full again.
	Full time.Duration
}
