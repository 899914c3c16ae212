package store

import (
	"encoding/json"
	"time"
)

// Org is a tenant. Its Code (Kinde's org_code, e.g. "org_acme") is the key
// every tenant record hangs from.
type Org struct {
	Code       string            `json:"org_code"`
	Name       string            `json:"name"`
	Properties map[string]string `json:"properties,omitempty"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
}

// OrgUpdate is a partial update of an Org: nil fields are left alone. In
// Properties a nil value deletes the key and a non-nil one sets it.
type OrgUpdate struct {
	Name       *string
	Properties map[string]*string
}

// UserStatus says whether a user may sign in.
type UserStatus string

const (
	UserActive    UserStatus = "active"
	UserSuspended UserStatus = "suspended"
)

// Role caps the scopes a token issued to a signed-in user may carry.
type Role string

const (
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// User is a person in one organization.
type User struct {
	ID         string     `json:"user_id"`
	OrgCode    string     `json:"org_code"`
	Email      string     `json:"email"`
	GivenName  string     `json:"given_name,omitempty"`
	FamilyName string     `json:"family_name,omitempty"`
	Status     UserStatus `json:"status"`
	Role       Role       `json:"role"`
	// PlatformAdmin people manage every organization and the platform in
	// the console (flag definitions, signing keys), whatever their role in
	// their own organization. Only the operator makes one (orgscope users
	// set-platform-admin).
	PlatformAdmin bool      `json:"platform_admin,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// UserFilter narrows ListUsers. Zero fields do not filter. Prefixes match
// case-insensitively: EmailPrefix against the email, NamePrefix against the
// given name, the family name, or "given family".
type UserFilter struct {
	EmailPrefix string
	NamePrefix  string
	Status      UserStatus
}

// UserUpdate is a partial update of a User: nil fields are left alone.
type UserUpdate struct {
	Email         *string
	GivenName     *string
	FamilyName    *string
	Status        *UserStatus
	Role          *Role
	PlatformAdmin *bool
}

// UserCredential pairs a user with their password hash for sign-in.
type UserCredential struct {
	User         User
	PasswordHash string
}

// FlagType is the type of a feature flag's value.
type FlagType string

const (
	FlagBoolean FlagType = "boolean"
	FlagString  FlagType = "string"
	FlagInteger FlagType = "integer"
	FlagJSON    FlagType = "json"
)

// FlagDefinition is a feature flag, defined once for all organizations.
// DefaultValue is JSON of the flag's Type.
type FlagDefinition struct {
	Key          string          `json:"key"`
	Type         FlagType        `json:"type"`
	DefaultValue json.RawMessage `json:"default_value"`
	Description  string          `json:"description,omitempty"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
}

// FlagOverride is one organization's value for a flag.
type FlagOverride struct {
	OrgCode   string          `json:"org_code"`
	Key       string          `json:"key"`
	Value     json.RawMessage `json:"value"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// EffectiveFlag is a definition seen from one organization: its override if
// it has one (Override non-nil), the default otherwise.
type EffectiveFlag struct {
	Definition FlagDefinition
	Override   *FlagOverride
}

// Value returns the value in effect for the organization.
func (f EffectiveFlag) Value() json.RawMessage {
	if f.Override != nil {
		return f.Override.Value
	}
	return f.Definition.DefaultValue
}

// ClientKind tells how a client came to exist.
type ClientKind string

const (
	// ClientMachine clients are provisioned by an administrator, hold a
	// secret and use client_credentials, bound to one org or global.
	ClientMachine ClientKind = "machine"
	// ClientRegistered clients registered themselves through RFC 7591;
	// they are never bound to an org and never use client_credentials.
	ClientRegistered ClientKind = "registered"
)

// Client is an OAuth client of the embedded issuer.
type Client struct {
	ID   string     `json:"client_id"`
	Name string     `json:"client_name"`
	Kind ClientKind `json:"kind"`
	// OrgCode binds a machine client to one org; empty means global (for
	// machine clients) or unbound (registered clients).
	OrgCode string `json:"org_code,omitempty"`
	// Secrets are the client's secrets that have not expired, newest
	// first; none for public clients. They live in a table of their own,
	// so that a rotation can leave the previous one working for a while.
	Secrets []ClientSecret `json:"-"`
	// Cutoff is the client's cutoff, read with it by GetClient: its tokens
	// issued before it are refused (disable, delete). Zero when it has none.
	Cutoff                  time.Time         `json:"-"`
	Scopes                  []string          `json:"scopes"`
	RedirectURIs            []string          `json:"redirect_uris,omitempty"`
	GrantTypes              []string          `json:"grant_types"`
	TokenEndpointAuthMethod string            `json:"token_endpoint_auth_method"`
	Properties              map[string]string `json:"properties,omitempty"`
	// TokenTTL is the lifetime of the access tokens issued to the client
	// (whole seconds); zero means the issuer's. The issuer caps it at its
	// own.
	TokenTTL time.Duration `json:"token_ttl,omitzero"`
	// Delegate clients may act for people (token exchange).
	Delegate bool `json:"delegate,omitempty"`
	// JWKS holds the public keys of a client that authenticates with
	// signed assertions (private_key_jwt, RFC 7523) as a JSON Web Key Set;
	// JWKSURI is where such a client publishes them instead. At most one is
	// set, and such a client has no secrets.
	JWKS    json.RawMessage `json:"jwks,omitempty"`
	JWKSURI string          `json:"jwks_uri,omitempty"`
	// DisabledAt is when the client was disabled; zero while it is
	// enabled. A disabled client gets no token.
	DisabledAt time.Time `json:"disabled_at,omitzero"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// Disabled reports whether the client is disabled.
func (c Client) Disabled() bool { return !c.DisabledAt.IsZero() }

// SecretHashes returns the hashes of the client's secrets.
func (c Client) SecretHashes() []string {
	out := make([]string, len(c.Secrets))
	for i, s := range c.Secrets {
		out[i] = s.Hash
	}
	return out
}

// ClientSecret is one secret of a client.
type ClientSecret struct {
	// Hash is the hex SHA-256 of the secret. Secrets are 256-bit random
	// values, so a fast hash suffices.
	Hash      string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when the secret stops working; zero: when a rotation
	// says so.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// ClientFilter narrows ListClients. Zero fields do not filter.
type ClientFilter struct {
	Kind ClientKind
	// OrgCode selects the clients bound to one org; Global those bound to
	// none. At most one of the two.
	OrgCode string
	Global  bool
}

// ClientUpdate is a partial update of a Client: nil fields are left alone.
// In Properties a nil value deletes the key and a non-nil one sets it.
type ClientUpdate struct {
	Name       *string
	Scopes     []string // nil: unchanged
	TokenTTL   *time.Duration
	Properties map[string]*string
	Delegate   *bool
	// JWKS and JWKSURI, when not nil, replace the client's public keys
	// (an empty value clears one).
	JWKS    *json.RawMessage
	JWKSURI *string
	// DisabledAt, when not nil, disables the client as of that time, or
	// enables it when it points at the zero time.
	DisabledAt *time.Time
}

// SigningKey is one of the issuer's private keys, with its schedule: it
// is published from CreatedAt, signs from ActivateAt until a newer key
// does, and stays published (and trusted) until the RetirePreviousAt of the
// first key after it (see KeySchedule).
type SigningKey struct {
	ID        string // the JWS kid
	Algorithm string // "RS256", "ES256" or "EdDSA"
	// PrivateKey is PKCS #8 DER when KEKID is empty, and otherwise that DER
	// sealed under the key-encryption key KEKID names.
	PrivateKey []byte
	// KEKID identifies the key-encryption key PrivateKey is sealed under
	// (not the key itself); empty when it is stored clear.
	KEKID string
	// PublicKey is the PKIX DER of the public key, readable without the
	// key-encryption key. Empty for keys stored before it was kept (they
	// are clear, and the public key is derived from the private one).
	PublicKey []byte
	CreatedAt time.Time // set when zero
	// ActivateAt is when the key begins to sign; zero means CreatedAt.
	ActivateAt time.Time
	// RetirePreviousAt is when the keys before this one leave the JWKS once
	// it has begun to sign: when every token they signed has expired. Zero
	// means when this key begins to sign.
	RetirePreviousAt time.Time
}

// AuthRequest is an authorization request waiting for sign-in and consent.
// It is found by the hash of a random handle that travels in the login and
// consent forms.
type AuthRequest struct {
	HandleHash          string
	ClientID            string
	RedirectURI         string
	State               string
	Scopes              []string
	Resource            string
	CodeChallenge       string
	CodeChallengeMethod string
	// CSRFHash is the hash of the token the forms must echo.
	CSRFHash string
	// OrgCode and UserID are set once the user has signed in.
	OrgCode   string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AuthCode is an issued authorization code, stored by hash.
type AuthCode struct {
	CodeHash      string
	ClientID      string
	OrgCode       string
	UserID        string
	RedirectURI   string
	Resource      string
	Scopes        []string
	CodeChallenge string
	CreatedAt     time.Time
	ExpiresAt     time.Time
	// UsedAt and GrantID are set when the code is redeemed.
	UsedAt  time.Time
	GrantID string
}

// Grant is a user's consent to a client: the family that the access and
// refresh tokens issued from one authorization code belong to.
type Grant struct {
	ID        string
	ClientID  string
	OrgCode   string
	UserID    string
	Scopes    []string
	Resource  string
	CreatedAt time.Time
	RevokedAt time.Time // zero while active
}

// Revoked reports whether the grant has been revoked.
func (g Grant) Revoked() bool { return !g.RevokedAt.IsZero() }

// GrantFilter narrows ListGrants. Zero fields do not filter.
type GrantFilter struct {
	// UserID selects one person's grants.
	UserID string
	// Email selects the grants of the people with this email (compared
	// case-insensitively).
	Email string
	// IncludeRevoked lists revoked grants too; by default only those that
	// stand.
	IncludeRevoked bool
}

// GrantView is a grant as ListGrants shows it: with its person's email and
// the name of the client it was given to ("" for a client not in the
// store, such as a metadata-document client, whose id is its URL).
type GrantView struct {
	Grant      Grant
	Email      string
	ClientName string
}

// Delegation records one token exchange (RFC 8693): a token issued to an
// agent (the acting client) to act for the person of a grant. The token
// dies with the grant; the record goes once the token has expired.
type Delegation struct {
	// TokenID is the jti of the delegated token.
	TokenID string
	GrantID string
	OrgCode string
	UserID  string
	// ClientID is the acting client, to whom the token was issued.
	ClientID string
	// ActorChain lists the acting clients, the current one (ClientID)
	// first, then the one it acts for, and so on.
	ActorChain []string
	// SubjectTokenID is the jti of the token that was exchanged.
	SubjectTokenID string
	Scopes         []string
	Purpose        string
	CreatedAt      time.Time // set when zero
	ExpiresAt      time.Time
}

// RefreshToken is one refresh token of a grant, stored by hash.
type RefreshToken struct {
	TokenHash string
	GrantID   string
	CreatedAt time.Time
	ExpiresAt time.Time
	RotatedAt time.Time // set when exchanged for its successor
}

// Audit decisions and outcomes.
const (
	DecisionAllow = "allow"
	DecisionDeny  = "deny"
	OutcomeOK     = "ok"
	OutcomeError  = "error"
)

// AuditEvent records one decision about something a principal asked for,
// and how it turned out. The JSON names are a contract: list_audit_events
// and `orgscope audit export` print events in this form.
type AuditEvent struct {
	ID   string    `json:"id"`
	Time time.Time `json:"time"` // microsecond precision, UTC as stored
	// OrgCode is "" for platform-wide actions.
	OrgCode  string `json:"org_code"`
	ClientID string `json:"client_id"`
	Subject  string `json:"subject"`
	// ActorChain lists the clients acting for Subject, outermost first; it
	// is an empty array in JSON, never null.
	ActorChain []string `json:"actor_chain"`
	GrantID    string   `json:"grant_id,omitempty"`
	// Action is tools/call:<tool>, cli:<command>, or an OAuth operation.
	Action string `json:"action"`
	Target string `json:"target,omitempty"`
	// ParamsSHA256 is the hex SHA-256 of the canonical JSON of the
	// arguments, never the arguments.
	ParamsSHA256 string   `json:"params_sha256,omitempty"`
	Decision     string   `json:"decision"` // allow | deny
	Reason       string   `json:"reason,omitempty"`
	Outcome      string   `json:"outcome"` // ok | error
	RequestID    string   `json:"request_id,omitempty"`
	TraceID      string   `json:"trace_id,omitempty"`
	Purpose      string   `json:"purpose,omitempty"`
	Policies     []string `json:"policies,omitempty"`
}

// MarshalJSON writes e with actor_chain as an array even when it is nil.
func (e AuditEvent) MarshalJSON() ([]byte, error) {
	type plain AuditEvent // without the method, so that Marshal does not recurse
	p := plain(e)
	if p.ActorChain == nil {
		p.ActorChain = []string{}
	}
	return json.Marshal(p)
}

// AuditFilter narrows ListAuditEvents. Zero fields do not filter.
type AuditFilter struct {
	// Since is inclusive, Until exclusive.
	Since, Until time.Time
	// Exact matches.
	ClientID, Subject, Action, Decision string
}

// RevokedToken is an access token on the denylist, by its jti.
type RevokedToken struct {
	TokenID   string
	ClientID  string
	ExpiresAt time.Time // zero: never expires
	RevokedAt time.Time // stamped by the store
}

// ClientCutoff invalidates a client's tokens issued before Cutoff.
type ClientCutoff struct {
	ClientID  string
	Cutoff    time.Time
	ExpiresAt time.Time
	ChangedAt time.Time
}

// ApprovalStatus is where an approval stands.
type ApprovalStatus string

// The statuses of an approval. A pending approval waits for a person; an
// approved one allows one call, after which it is used.
const (
	ApprovalPending  ApprovalStatus = "pending"
	ApprovalApproved ApprovalStatus = "approved"
	ApprovalDenied   ApprovalStatus = "denied"
	ApprovalUsed     ApprovalStatus = "used"
)

// MaxApprovalArgsBytes bounds the arguments an approval keeps to show the
// person deciding.
const MaxApprovalArgsBytes = 8 << 10

// Approval is a person's decision on one call that the access policy lets
// run only with approval: the call is named by who makes it (client and
// subject), the tool and the hash of its arguments, and the decision
// allows that call once, before ExpiresAt.
type Approval struct {
	ID      string `json:"id"`
	OrgCode string `json:"org_code"`
	// The principal that asked, as the audit trail names it.
	ClientID   string   `json:"client_id"`
	Subject    string   `json:"subject"`
	ActorChain []string `json:"actor_chain,omitempty"`
	Purpose    string   `json:"purpose,omitempty"`
	Tool       string   `json:"tool"`
	// ParamsSHA256 is the audit trail's hash of the arguments; Args their
	// canonical JSON, at most MaxApprovalArgsBytes (cut short beyond), to
	// show the person deciding.
	ParamsSHA256 string `json:"params_sha256"`
	Args         string `json:"args"`
	// Policies are the ids of the policies that asked for approval.
	Policies  []string       `json:"policies,omitempty"`
	Status    ApprovalStatus `json:"status"`
	DecidedBy string         `json:"decided_by,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
	DecidedAt time.Time      `json:"decided_at,omitzero"`
	ExpiresAt time.Time      `json:"expires_at"`
	UsedAt    time.Time      `json:"used_at,omitzero"`
}

// ApprovalKey is the call an approval is for.
type ApprovalKey struct {
	OrgCode, ClientID, Subject, Tool, ParamsSHA256 string
}

// Key returns the call a is for.
func (a Approval) Key() ApprovalKey {
	return ApprovalKey{OrgCode: a.OrgCode, ClientID: a.ClientID, Subject: a.Subject, Tool: a.Tool, ParamsSHA256: a.ParamsSHA256}
}

// ConsoleSession is a person signed in to the web console. The browser
// holds a random token; the store keeps only its hash, so a copy of the
// database signs nobody in. ID names the session in the audit trail
// without being a credential.
type ConsoleSession struct {
	TokenHash string
	ID        string
	OrgCode   string
	UserID    string
	// ClientID is the console's OAuth client, through which the person
	// signed in.
	ClientID   string
	CreatedAt  time.Time
	LastSeenAt time.Time
	// ExpiresAt ends the session however active it is (the absolute
	// limit); the idle limit is the service's, from LastSeenAt.
	ExpiresAt time.Time
}

// ApprovalFilter narrows ListApprovals.
type ApprovalFilter struct {
	// Status selects one status; "" means every status.
	Status ApprovalStatus
	// LiveAt, when not zero, keeps only approvals not expired at that time.
	LiveAt time.Time
}
