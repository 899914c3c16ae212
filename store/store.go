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
	// ErrReplayed: a single-use credential (authorization code, refresh token)
	// was presented a second time. The backend has already revoked the grant
	// it belongs to when it returns this error.
	ErrReplayed = errors.New("store: single-use credential replayed")
	// ErrUnavailable wraps a failure to reach the database (connection
	// refused, pool closed, timeout). Callers answer 503 and retry later.
	ErrUnavailable = errors.New("store: database unavailable")
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
// error nothing has changed.
type Store interface {
	OrgStore
	UserStore
	FlagStore
	ClientStore
	KeyStore
	GrantStore
	AuditStore

	// Ping reports whether the database answers; /readyz uses it.
	Ping(ctx context.Context) error
	// Close releases the database handles.
	Close() error
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
	GetFlag(ctx context.Context, key string) (FlagDefinition, error)
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
// administrator and clients registered through RFC 7591.
type ClientStore interface {
	// CreateClient stores c. ErrConflict if the ID exists, ErrNotFound if
	// c.OrgCode names an org that does not exist.
	CreateClient(ctx context.Context, c Client) (Client, error)
	GetClient(ctx context.Context, id string) (Client, error)
	// TouchClient records that the client was used at t.
	TouchClient(ctx context.Context, id string, t time.Time) error
	// CountClients counts the clients of one kind.
	CountClients(ctx context.Context, kind ClientKind) (int, error)
	// DeleteIdleClients removes clients of kind whose last use (or creation,
	// if never used) is before cutoff, and returns how many it removed.
	DeleteIdleClients(ctx context.Context, kind ClientKind, cutoff time.Time) (int, error)
}

// KeyStore keeps the embedded issuer's signing keys.
type KeyStore interface {
	// EnsureSigningKey stores candidate if no signing key exists yet and
	// returns the current key, which is candidate or the one stored before.
	// Two callers racing (two replicas starting together) get the same key.
	EnsureSigningKey(ctx context.Context, candidate SigningKey) (SigningKey, error)
	// SigningKeys returns every stored key, newest first (for the JWKS).
	SigningKeys(ctx context.Context) ([]SigningKey, error)
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
	RedeemAuthCode(ctx context.Context, codeHash, grantID string) (AuthCode, error)

	// CreateGrant stores a grant (one user's consent to one client, from
	// which a family of refresh tokens descends).
	CreateGrant(ctx context.Context, g Grant) error
	GetGrant(ctx context.Context, id string) (Grant, error)
	// RevokeGrant marks the grant revoked; it is idempotent.
	RevokeGrant(ctx context.Context, id string) error
	// RevokedGrantsSince lists the IDs of grants revoked at or after t.
	RevokedGrantsSince(ctx context.Context, t time.Time) ([]string, error)

	// CreateRefreshToken stores a refresh token of an existing grant.
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// RotateRefreshToken atomically retires oldHash and stores next in the
	// same grant, returning the grant. A token that was already rotated
	// returns ErrReplayed after revoking the whole grant; an unknown or
	// expired token, or one whose grant is revoked, returns ErrNotFound.
	RotateRefreshToken(ctx context.Context, oldHash string, next RefreshToken) (Grant, error)
	// LookupRefreshToken returns a refresh token and its grant (for
	// revocation and introspection).
	LookupRefreshToken(ctx context.Context, hash string) (RefreshToken, Grant, error)

	// DeleteExpired removes what nothing can use any more: pending
	// requests, codes and refresh tokens that expired before cutoff, grants
	// revoked before cutoff, and grants created before cutoff that have no
	// refresh token left. Callers pass a cutoff older than any access token
	// alive (their grant is checked on every call). It returns how many
	// rows it removed.
	DeleteExpired(ctx context.Context, cutoff time.Time) (int, error)
}

// AuditStore keeps an append-only record of what principals did.
type AuditStore interface {
	AppendAuditEvent(ctx context.Context, e AuditEvent) error
	// ListAuditEvents pages through the org's events, newest first.
	ListAuditEvents(ctx context.Context, orgCode string, page Page) (events []AuditEvent, nextCursor string, err error)
}
