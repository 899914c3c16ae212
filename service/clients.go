package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/internal/clientkeys"
	"github.com/orgscope/orgscope/internal/credential"
	"github.com/orgscope/orgscope/store"
)

// Machine clients: one identity per agent and per tenant, with minimal
// scopes, secrets rotated with a grace period, short-lived tokens, and the
// power to cut one off at once.
//
// Who manages which client: an org-scoped principal its own org's clients
// only (another org's, and a global one, are "not found"); a global
// principal any, naming the org or not. Two rules keep an agent from
// gaining power through the clients it manages: a client it creates,
// updates or whose secret it rotates (and so learns) may hold no scope the
// principal does not hold itself; and only a delegate client (or the
// operator) may make a client a delegate. A client may not disable itself.

// Bounds of a client's settings.
const (
	// DefaultClientTokenTTL is the token lifetime of a new client when none
	// is given: short, as agents' tokens should be.
	DefaultClientTokenTTL = 15 * time.Minute
	MinClientTokenTTL     = time.Minute
	MaxClientTokenTTL     = 24 * time.Hour
	// MaxSecretGrace bounds how long a rotated-out secret keeps working.
	MaxSecretGrace = 30 * 24 * time.Hour
	// ClientIDPattern is what a client id looks like (ids OrgScope makes
	// are 32 hex digits).
	ClientIDPattern = `^[A-Za-z0-9._~-]{1,128}$`
)

var clientIDRE = regexp.MustCompile(ClientIDPattern)

// operatorIssuer is the issuer of the command line's principal (Operator).
const operatorIssuer = "orgscope-cli"

// ClientInfo is what OrgScope shows of a machine client. It never holds a
// secret or a secret's hash.
type ClientInfo struct {
	ClientID   string   `json:"client_id"`
	Name       string   `json:"name"`
	OrgCode    string   `json:"org_code,omitempty" jsonschema:"The organization the client is bound to; absent for a global client."`
	Global     bool     `json:"global" jsonschema:"True for a global (administration) client, bound to no organization."`
	Scopes     []string `json:"scopes" jsonschema:"The scopes the client may be granted."`
	AuthMethod string   `json:"token_endpoint_auth_method"`
	// Secrets are the secrets that still work, newest first: when each was
	// made and, for one rotated out, when it stops working.
	Secrets     []SecretInfo `json:"secrets" jsonschema:"The client's working secrets, newest first (never the secrets themselves): when each was made and, for a rotated-out one, when it stops working."`
	SecretCount int          `json:"secret_count"`
	Disabled    bool         `json:"disabled" jsonschema:"A disabled client gets no token, and its tokens are refused."`
	DisabledAt  *time.Time   `json:"disabled_at,omitempty"`
	// TokenTTLSeconds is the lifetime of its access tokens; 0 means the
	// server's. The server caps it at its own (--token-ttl).
	TokenTTLSeconds int64             `json:"token_ttl_seconds" jsonschema:"Lifetime of its access tokens in seconds (0: the server's); the server caps it at its own."`
	Properties      map[string]string `json:"properties,omitempty" jsonschema:"Application properties, carried in its tokens' application_properties claim."`
	Delegate        bool              `json:"delegate" jsonschema:"Whether the client may act for people (token exchange)."`
	CreatedAt       time.Time         `json:"created_at"`
	LastUsedAt      *time.Time        `json:"last_used_at,omitempty" jsonschema:"When it last got a token (to the minute); absent if never."`

	// JWKSURI and KeyIDs are where a private_key_jwt client's public keys
	// are: fetched from a URL, or kept with the client (by kid).
	JWKSURI string   `json:"jwks_uri,omitempty" jsonschema:"Where the client publishes the public keys its assertions are checked with (private_key_jwt)."`
	KeyIDs  []string `json:"key_ids,omitempty" jsonschema:"The kids of the public keys kept with the client (private_key_jwt)."`
}

// SecretInfo describes one working secret of a client.
type SecretInfo struct {
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty" jsonschema:"When this rotated-out secret stops working; absent for the current one."`
}

// clientInfo is c as shown.
func clientInfo(c store.Client) ClientInfo {
	info := ClientInfo{
		ClientID: c.ID, Name: c.Name, OrgCode: c.OrgCode, Global: c.OrgCode == "", Scopes: c.Scopes,
		AuthMethod: c.TokenEndpointAuthMethod, Secrets: []SecretInfo{}, SecretCount: len(c.Secrets),
		Disabled: c.Disabled(), TokenTTLSeconds: int64(c.TokenTTL / time.Second), Properties: c.Properties,
		Delegate: c.Delegate, JWKSURI: c.JWKSURI, KeyIDs: keyIDs(c), CreatedAt: c.CreatedAt,
	}
	if info.Scopes == nil {
		info.Scopes = []string{}
	}
	if c.Disabled() {
		info.DisabledAt = &c.DisabledAt
	}
	if !c.LastUsedAt.IsZero() {
		info.LastUsedAt = &c.LastUsedAt
	}
	for _, s := range c.Secrets {
		si := SecretInfo{CreatedAt: s.CreatedAt}
		if !s.ExpiresAt.IsZero() {
			si.ExpiresAt = &s.ExpiresAt
		}
		info.Secrets = append(info.Secrets, si)
	}
	return info
}

func clientNotFound(id string) *Error {
	return notFound("client %q not found", id)
}

// findClient reads the machine client id as the principal may see it: in
// org when org is set (an org-scoped principal's own, or the one a global
// principal named), any otherwise. Every other client is "not found",
// exactly like one that does not exist.
func findClient(ctx context.Context, q store.Tx, org, id string) (store.Client, error) {
	c, err := q.GetClient(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return c, clientNotFound(id)
	case err != nil:
		return c, err
	case c.Kind != store.ClientMachine || (org != "" && c.OrgCode != org):
		return store.Client{}, clientNotFound(id)
	}
	return c, nil
}

// checkClientID refuses an id no client can have.
func checkClientID(id string) error {
	if !clientIDRE.MatchString(id) {
		return invalid("client_id %q is not valid: client ids are up to 128 letters, digits, '.', '_', '~' or '-' (list_clients shows them)", id)
	}
	return nil
}

// checkScopes refuses an empty or unknown scope list, and returns it in
// the canonical order.
func checkScopes(scopes []string) ([]string, error) {
	if len(scopes) == 0 {
		return nil, invalid("a client needs at least one scope (known: %s)", strings.Join(auth.AllScopes, " "))
	}
	for _, sc := range scopes {
		if !auth.Known(sc) {
			return nil, invalid("unknown scope %q (known: %s)", sc, strings.Join(auth.AllScopes, " "))
		}
	}
	return auth.Narrow(scopes, scopes), nil
}

// checkTokenTTL checks a client's token lifetime in seconds.
func checkTokenTTL(seconds int64) (time.Duration, error) {
	d := time.Duration(seconds) * time.Second
	if seconds < int64(MinClientTokenTTL/time.Second) || seconds > int64(MaxClientTokenTTL/time.Second) {
		return 0, invalid("token_ttl_seconds must be between %d (%v) and %d (%v)", int64(MinClientTokenTTL/time.Second),
			MinClientTokenTTL, int64(MaxClientTokenTTL/time.Second), MaxClientTokenTTL)
	}
	return d, nil
}

// withinOwnScopes refuses to give a client (or, by rotating its secret, to
// hand its caller) a scope the principal does not hold itself: an agent
// cannot mint a more powerful agent. What it holds is what the decision
// point lets it use (for a delegated token, person ∩ agent).
func withinOwnScopes(p *auth.Principal, scopes []string, what string) error {
	missing := auth.Missing(authz.EffectiveScopes(p), scopes)
	if len(missing) == 0 {
		return nil
	}
	return &Error{Kind: KindDenied, Reason: "scope_escalation", Missing: missing,
		Message: fmt.Sprintf("%s would hold %s, which this access token does not: a principal may give a client only scopes it holds itself",
			what, strings.Join(missing, " "))}
}

// mayDelegate refuses to make a client a delegate unless the principal is
// the operator or a delegate client itself.
func mayDelegate(ctx context.Context, q store.Tx, p *auth.Principal) error {
	if p.Issuer == operatorIssuer {
		return nil
	}
	if c, err := q.GetClient(ctx, p.ClientID); err == nil && c.Delegate && !c.Disabled() {
		return nil
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return &Error{Kind: KindDenied, Reason: "delegate_escalation",
		Message: "only a delegate client (or the operator) may make a client a delegate"}
}

// ListClientsInput selects a page of machine clients.
type ListClientsInput struct {
	OrgArg
	Global bool   `json:"global,omitempty" jsonschema:"Only global clients (bound to no organization). For a global token."`
	Cursor string `json:"cursor,omitempty" jsonschema:"The next_cursor of the previous page; omit for the first page."`
	Limit  int    `json:"limit,omitempty" jsonschema:"Clients per page, 1 to 100 (default 20)."`
}

// ListClientsOutput is a page of machine clients.
type ListClientsOutput struct {
	Clients    []ClientInfo `json:"clients"`
	NextCursor string       `json:"next_cursor,omitempty" jsonschema:"Pass as cursor to get the next page; absent on the last page."`
}

// ListClients pages through the machine clients the principal may see: an
// org-scoped principal's org's; a global principal's of the org it names,
// the global ones (Global), or all of them.
func (s *Service) ListClients(ctx context.Context, c Caller, in ListClientsInput) (ListClientsOutput, error) {
	op := &operation[ListClientsInput, ListClientsOutput]{
		name:        "list_clients",
		org:         orgOf[ListClientsInput],
		orgOptional: func(*ListClientsInput) bool { return true },
		check: func(in *ListClientsInput) error {
			if err := checkLimit(in.Limit); err != nil {
				return err
			}
			if in.Global && in.OrgCode != "" {
				return invalid("name an org_code or ask for global clients, not both")
			}
			return checkCursor(in.Cursor)
		},
		do: func(ctx context.Context, q store.Tx, org string, in *ListClientsInput) (ListClientsOutput, error) {
			filter := store.ClientFilter{Kind: store.ClientMachine, OrgCode: org, Global: in.Global}
			if in.Global && !c.Principal.Global() {
				return ListClientsOutput{}, &Error{Kind: KindDenied, Reason: "global_only",
					Message: "only a global principal may list global clients; this one is bound to " + org}
			}
			if in.Global {
				filter.OrgCode = ""
			}
			clients, next, err := q.ListClients(ctx, filter, store.Page{Cursor: in.Cursor, Limit: in.Limit})
			out := ListClientsOutput{Clients: []ClientInfo{}, NextCursor: next}
			for _, cl := range clients {
				out.Clients = append(out.Clients, clientInfo(cl))
			}
			return out, err
		},
	}
	return run(ctx, s, c, op, in)
}

// ClientIDInput names one machine client.
type ClientIDInput struct {
	OrgArg
	ClientID string `json:"client_id" jsonschema:"The client's id (list_clients shows them)."`
}

// clientOp is the shape of every operation on one client found by its id:
// the org optional for a global principal (any client, when it names
// none), recorded in the client's org.
func clientOp[In interface {
	clientID() string
	orgCode() string
}, Out any](name string, write bool, info func(*Out) ClientInfo) *operation[In, Out] {
	return &operation[In, Out]{
		name:        name,
		write:       write,
		org:         func(in *In) string { return (*in).orgCode() },
		orgOptional: func(*In) bool { return true },
		target:      func(in *In, _ *Out) string { return (*in).clientID() },
		recordIn:    func(out *Out) string { return info(out).OrgCode },
	}
}

func (in ClientIDInput) clientID() string { return in.ClientID }

// GetClient shows one machine client.
func (s *Service) GetClient(ctx context.Context, c Caller, in ClientIDInput) (ClientInfo, error) {
	op := clientOp[ClientIDInput, ClientInfo]("get_client", false, func(out *ClientInfo) ClientInfo { return *out })
	op.check = func(in *ClientIDInput) error { return checkClientID(in.ClientID) }
	op.do = func(ctx context.Context, q store.Tx, org string, in *ClientIDInput) (ClientInfo, error) {
		cl, err := findClient(ctx, q, org, in.ClientID)
		return clientInfo(cl), err
	}
	return run(ctx, s, c, op, in)
}

// CreateClientInput describes a machine-to-machine client to provision.
type CreateClientInput struct {
	Name string `json:"name" jsonschema:"What the client is: the agent or integration it belongs to."`
	// OrgCode binds the client to one organization; empty with Global makes
	// it global.
	OrgCode string   `json:"org_code,omitempty" jsonschema:"The organization the client acts for. A global principal names it, or sets global; an org-scoped one gets its own."`
	Global  bool     `json:"global,omitempty" jsonschema:"Make a global (administration) client, bound to no organization. Only a global principal may."`
	Scopes  []string `json:"scopes" jsonschema:"The scopes the client may be granted: only scopes this token holds itself."`
	// Properties become the token's application_properties claim.
	Properties map[string]string `json:"properties,omitempty" jsonschema:"Application properties, carried in its tokens' application_properties claim."`
	// TokenTTLSeconds is the lifetime of its tokens; 0 means
	// DefaultClientTokenTTL.
	TokenTTLSeconds int64 `json:"token_ttl_seconds,omitempty" jsonschema:"Lifetime of its access tokens in seconds, 60 to 86400 (default 900); the server caps it at its own."`
	Delegate        bool  `json:"delegate,omitempty" jsonschema:"Allow the client to act for people (token exchange). Only a delegate client may create one."`
	tokenTTL        time.Duration

	// JWKS or JWKSURI make a client without a secret, which authenticates
	// with assertions signed by its private key (private_key_jwt).
	JWKS    json.RawMessage `json:"jwks,omitempty" jsonschema:"The client's public keys as a JWKS ({\"keys\": [...]}): the client then has no secret and authenticates with assertions signed by its private key (private_key_jwt)."`
	JWKSURI string          `json:"jwks_uri,omitempty" jsonschema:"Where the client publishes its public keys (https), instead of jwks."`
	keys    clientKeysInput
}

// CreateClientOutput is the new client with its secret, shown once.
type CreateClientOutput struct {
	Client ClientInfo `json:"client"`
	// ClientSecret is shown once and stored only as a hash; a client with
	// keys has none.
	ClientSecret string `json:"client_secret,omitempty" jsonschema:"The client's secret, shown once: keep it now, it is stored only as a hash. Absent for a client with keys (private_key_jwt)."`
}

// CreateClient provisions a machine client and returns its secret, shown
// once.
func (s *Service) CreateClient(ctx context.Context, c Caller, in CreateClientInput) (CreateClientOutput, error) {
	op := &operation[CreateClientInput, CreateClientOutput]{
		name:        "create_client",
		org:         func(in *CreateClientInput) string { return in.OrgCode },
		orgOptional: func(in *CreateClientInput) bool { return in.Global },
		write:       true,
		check: func(in *CreateClientInput) error {
			var err error
			if in.Name, err = plainText("name", in.Name, MaxOrgNameLength); err != nil {
				return err
			}
			if in.Name == "" {
				return invalid("a client needs a name")
			}
			if in.OrgCode != "" && in.Global {
				return invalid("name an org_code or ask for a global client, not both")
			}
			if in.Scopes, err = checkScopes(in.Scopes); err != nil {
				return err
			}
			in.tokenTTL = DefaultClientTokenTTL
			if in.TokenTTLSeconds != 0 {
				if in.tokenTTL, err = checkTokenTTL(in.TokenTTLSeconds); err != nil {
					return err
				}
			}
			props := make(map[string]*string, len(in.Properties))
			for k, v := range in.Properties {
				props[k] = &v
			}
			if err := checkProperties(props); err != nil {
				return err
			}
			if in.keys, err = checkClientKeys(in.JWKS, in.JWKSURI); err != nil {
				return err
			}
			return withinOwnScopes(c.Principal, in.Scopes, "the new client")
		},
		target:   func(_ *CreateClientInput, out *CreateClientOutput) string { return out.Client.ClientID },
		recordIn: func(out *CreateClientOutput) string { return out.Client.OrgCode },
		do: func(ctx context.Context, q store.Tx, org string, in *CreateClientInput) (CreateClientOutput, error) {
			if in.Global && org != "" {
				return CreateClientOutput{}, &Error{Kind: KindDenied, Reason: "global_only",
					Message: "only a global principal may create a global client; this one is bound to " + org}
			}
			if in.Delegate {
				if err := mayDelegate(ctx, q, c.Principal); err != nil {
					return CreateClientOutput{}, err
				}
			}
			client := store.Client{
				ID:                      credential.RandomHex(16),
				Name:                    in.Name,
				Kind:                    store.ClientMachine,
				OrgCode:                 org,
				Scopes:                  in.Scopes,
				GrantTypes:              []string{"client_credentials"},
				TokenEndpointAuthMethod: "client_secret_basic",
				Properties:              in.Properties,
				TokenTTL:                in.tokenTTL,
				Delegate:                in.Delegate,
			}
			secret := ""
			if in.keys.present() {
				client.TokenEndpointAuthMethod, client.JWKS, client.JWKSURI = clientkeys.Method, in.keys.jwks, in.keys.uri
			} else {
				secret = credential.NewSecret()
				client.Secrets = []store.ClientSecret{{Hash: credential.HashSecret(secret)}}
			}
			cl, err := q.CreateClient(ctx, client)
			if errors.Is(err, store.ErrNotFound) {
				return CreateClientOutput{}, orgNotFound(org)
			}
			return CreateClientOutput{Client: clientInfo(cl), ClientSecret: secret}, err
		},
	}
	return run(ctx, s, c, op, in)
}

// RotateSecretInput names the client whose secret to replace, and how long
// the secrets it has keep working.
type RotateSecretInput struct {
	OrgArg
	ClientID     string `json:"client_id" jsonschema:"The client's id."`
	GraceSeconds int64  `json:"grace_seconds,omitempty" jsonschema:"How long the secrets it has now keep working, in seconds (default 0: they stop at once; at most 30 days), so that its agents can switch."`
}

func (in RotateSecretInput) clientID() string { return in.ClientID }

// RotateSecretOutput is the client with its new secret, shown once.
type RotateSecretOutput struct {
	Client ClientInfo `json:"client"`
	// ClientSecret is shown once and stored only as a hash.
	ClientSecret string `json:"client_secret" jsonschema:"The new secret, shown once: keep it now, it is stored only as a hash."`
	// PreviousSecretsExpireAt is when the secrets it had stop working (at
	// the latest; one rotated out earlier keeps its earlier end).
	PreviousSecretsExpireAt time.Time `json:"previous_secrets_expire_at" jsonschema:"When the secrets the client had stop working (now, without grace)."`
}

// RotateClientSecret gives a client a new secret, shown once; the secrets
// it had keep working until the grace period ends.
func (s *Service) RotateClientSecret(ctx context.Context, c Caller, in RotateSecretInput) (RotateSecretOutput, error) {
	op := clientOp[RotateSecretInput, RotateSecretOutput]("rotate_client_secret", true, func(out *RotateSecretOutput) ClientInfo { return out.Client })
	op.check = func(in *RotateSecretInput) error {
		if err := checkClientID(in.ClientID); err != nil {
			return err
		}
		if in.GraceSeconds < 0 || in.GraceSeconds > int64(MaxSecretGrace/time.Second) {
			return invalid("grace_seconds must be between 0 and %d (%v)", int64(MaxSecretGrace/time.Second), MaxSecretGrace)
		}
		return nil
	}
	op.do = func(ctx context.Context, q store.Tx, org string, in *RotateSecretInput) (RotateSecretOutput, error) {
		cl, err := findClient(ctx, q, org, in.ClientID)
		if err != nil {
			return RotateSecretOutput{}, err
		}
		if hasKeys(cl) {
			return RotateSecretOutput{}, noSecretToRotate(cl)
		}
		// Whoever rotates learns the secret: it may do so only for a client
		// no more powerful than itself.
		if err := withinOwnScopes(c.Principal, cl.Scopes, "the client whose secret it would learn"); err != nil {
			return RotateSecretOutput{}, err
		}
		secret := credential.NewSecret()
		until := s.now().Add(time.Duration(in.GraceSeconds) * time.Second)
		cl, err = q.RotateClientSecret(ctx, cl.ID, store.ClientSecret{Hash: credential.HashSecret(secret), CreatedAt: s.now()}, until)
		return RotateSecretOutput{Client: clientInfo(cl), ClientSecret: secret, PreviousSecretsExpireAt: until.UTC()}, err
	}
	return run(ctx, s, c, op, in)
}

// DisableClientOutput is the disabled client and the moment its tokens
// were cut off.
type DisableClientOutput struct {
	Client ClientInfo `json:"client"`
	// TokensCutOffAt: the client's tokens issued up to then are refused.
	TokensCutOffAt time.Time `json:"tokens_cut_off_at" jsonschema:"The client's tokens issued up to this moment are refused, on every replica, from their next call."`
	cutoff         store.ClientCutoff
}

// DisableClient disables a machine client: it gets no token any more, and
// the tokens it has are refused at their next call on every replica. A
// client may not disable itself.
func (s *Service) DisableClient(ctx context.Context, c Caller, in ClientIDInput) (DisableClientOutput, error) {
	op := clientOp[ClientIDInput, DisableClientOutput]("disable_client", true, func(out *DisableClientOutput) ClientInfo { return out.Client })
	op.check = func(in *ClientIDInput) error {
		if err := checkClientID(in.ClientID); err != nil {
			return err
		}
		if in.ClientID == c.Principal.ClientID {
			return &Error{Kind: KindDenied, Reason: "self",
				Message: "a client cannot disable itself: another client with write:clients, or the operator, can"}
		}
		return nil
	}
	op.do = func(ctx context.Context, q store.Tx, org string, in *ClientIDInput) (DisableClientOutput, error) {
		if _, err := findClient(ctx, q, org, in.ClientID); err != nil {
			return DisableClientOutput{}, err
		}
		cut, err := q.CutOffClient(ctx, in.ClientID, s.now().Add(s.longestTTL))
		if err != nil {
			return DisableClientOutput{}, err
		}
		cl, err := q.UpdateClient(ctx, in.ClientID, store.ClientUpdate{DisabledAt: &cut.Cutoff})
		return DisableClientOutput{Client: clientInfo(cl), TokensCutOffAt: cut.Cutoff, cutoff: cut}, err
	}
	out, err := run(ctx, s, c, op, in)
	if err == nil && s.cutOff != nil {
		s.cutOff(out.cutoff)
	}
	return out, err
}

// EnableClient lets a disabled client get tokens again. The tokens it had
// when it was disabled stay refused.
func (s *Service) EnableClient(ctx context.Context, c Caller, in ClientIDInput) (ClientInfo, error) {
	op := clientOp[ClientIDInput, ClientInfo]("enable_client", true, func(out *ClientInfo) ClientInfo { return *out })
	op.check = func(in *ClientIDInput) error { return checkClientID(in.ClientID) }
	op.do = func(ctx context.Context, q store.Tx, org string, in *ClientIDInput) (ClientInfo, error) {
		if _, err := findClient(ctx, q, org, in.ClientID); err != nil {
			return ClientInfo{}, err
		}
		cl, err := q.UpdateClient(ctx, in.ClientID, store.ClientUpdate{DisabledAt: &time.Time{}})
		return clientInfo(cl), err
	}
	return run(ctx, s, c, op, in)
}

// DeleteClientOutput confirms a deletion.
type DeleteClientOutput struct {
	Deleted  bool   `json:"deleted"`
	ClientID string `json:"client_id"`
	OrgCode  string `json:"org_code,omitempty"`
	cutoff   store.ClientCutoff
}

// DeleteClient removes a machine client and its secrets; its tokens are
// refused at their next call on every replica.
func (s *Service) DeleteClient(ctx context.Context, c Caller, in ClientIDInput) (DeleteClientOutput, error) {
	op := clientOp[ClientIDInput, DeleteClientOutput]("delete_client", true, func(out *DeleteClientOutput) ClientInfo {
		return ClientInfo{OrgCode: out.OrgCode}
	})
	op.check = func(in *ClientIDInput) error {
		if err := checkClientID(in.ClientID); err != nil {
			return err
		}
		if in.ClientID == c.Principal.ClientID {
			return &Error{Kind: KindDenied, Reason: "self", Message: "a client cannot delete itself"}
		}
		return nil
	}
	op.do = func(ctx context.Context, q store.Tx, org string, in *ClientIDInput) (DeleteClientOutput, error) {
		cl, err := findClient(ctx, q, org, in.ClientID)
		if err != nil {
			return DeleteClientOutput{}, err
		}
		cut, err := q.CutOffClient(ctx, in.ClientID, s.now().Add(s.longestTTL))
		if err != nil {
			return DeleteClientOutput{}, err
		}
		return DeleteClientOutput{Deleted: true, ClientID: cl.ID, OrgCode: cl.OrgCode, cutoff: cut}, q.DeleteClient(ctx, in.ClientID)
	}
	out, err := run(ctx, s, c, op, in)
	if err == nil && s.cutOff != nil {
		s.cutOff(out.cutoff)
	}
	return out, err
}

// UpdateClientInput changes some settings of a client; omitted ones stay.
type UpdateClientInput struct {
	OrgArg
	ClientID        string             `json:"client_id" jsonschema:"The client's id."`
	Name            *string            `json:"name,omitempty"`
	Scopes          []string           `json:"scopes,omitempty" jsonschema:"The scopes the client may be granted from now on (its next tokens carry only these)."`
	TokenTTLSeconds *int64             `json:"token_ttl_seconds,omitempty" jsonschema:"Lifetime of its access tokens in seconds, 60 to 86400."`
	Properties      map[string]*string `json:"properties,omitempty" jsonschema:"Properties to set; a null value removes the property. Properties not named stay as they are."`
	Delegate        *bool              `json:"delegate,omitempty"`
	tokenTTL        *time.Duration

	// JWKS or JWKSURI replace the keys of a private_key_jwt client.
	JWKS    json.RawMessage `json:"jwks,omitempty"`
	JWKSURI *string         `json:"jwks_uri,omitempty"`
	keys    clientKeysInput
}

func (in UpdateClientInput) clientID() string { return in.ClientID }

// UpdateClient changes a client's name, scopes, token lifetime, properties
// or delegate flag, or the keys of a client that has keys (a JWKS or a
// jwks_uri replacing whichever it had). Tokens it holds keep what they were
// issued with until they expire.
func (s *Service) UpdateClient(ctx context.Context, c Caller, in UpdateClientInput) (ClientInfo, error) {
	op := clientOp[UpdateClientInput, ClientInfo]("update_client", true, func(out *ClientInfo) ClientInfo { return *out })
	op.check = func(in *UpdateClientInput) error {
		if err := checkClientID(in.ClientID); err != nil {
			return err
		}
		if in.Name != nil {
			name, err := plainText("name", *in.Name, MaxOrgNameLength)
			if err != nil {
				return err
			}
			if name == "" {
				return invalid("name must not be empty")
			}
			in.Name = &name
		}
		if in.Scopes != nil {
			scopes, err := checkScopes(in.Scopes)
			if err != nil {
				return err
			}
			in.Scopes = scopes
		}
		if in.TokenTTLSeconds != nil {
			d, err := checkTokenTTL(*in.TokenTTLSeconds)
			if err != nil {
				return err
			}
			in.tokenTTL = &d
		}
		if in.JWKSURI != nil && *in.JWKSURI == "" {
			return invalid("jwks_uri must not be empty: a client with keys keeps a JWKS or a jwks_uri")
		}
		var err error
		if in.keys, err = checkClientKeys(in.JWKS, deref(in.JWKSURI)); err != nil {
			return err
		}
		return checkProperties(in.Properties)
	}
	op.do = func(ctx context.Context, q store.Tx, org string, in *UpdateClientInput) (ClientInfo, error) {
		cl, err := findClient(ctx, q, org, in.ClientID)
		if err != nil {
			return ClientInfo{}, err
		}
		if err := withinOwnScopes(c.Principal, cl.Scopes, "the client"); err != nil {
			return ClientInfo{}, err
		}
		if err := withinOwnScopes(c.Principal, in.Scopes, "the client"); err != nil {
			return ClientInfo{}, err
		}
		if in.Delegate != nil && *in.Delegate && !cl.Delegate {
			if err := mayDelegate(ctx, q, c.Principal); err != nil {
				return ClientInfo{}, err
			}
		}
		update := store.ClientUpdate{Name: in.Name, Scopes: in.Scopes, TokenTTL: in.tokenTTL,
			Properties: in.Properties, Delegate: in.Delegate}
		if in.keys.present() {
			if !hasKeys(cl) {
				return ClientInfo{}, keysOnlyForKeyClients(cl)
			}
			update.JWKS, update.JWKSURI = &in.keys.jwks, &in.keys.uri
		}
		cl, err = q.UpdateClient(ctx, in.ClientID, update)
		return clientInfo(cl), err
	}
	return run(ctx, s, c, op, in)
}
