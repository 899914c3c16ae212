package service

import (
	"context"
	"errors"
	"strings"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/internal/credential"
	"github.com/orgscope/orgscope/store"
)

// CreateClientInput describes a machine-to-machine client to provision.
type CreateClientInput struct {
	Name string `json:"name" jsonschema:"What the client is: the agent or integration it belongs to."`
	// OrgCode binds the client to one organization; empty with Global makes
	// it global.
	OrgCode string   `json:"org_code,omitempty" jsonschema:"The organization the client acts for. A global principal names it, or sets global; an org-scoped one gets its own."`
	Global  bool     `json:"global,omitempty" jsonschema:"Make a global (administration) client, bound to no organization. Only a global principal may."`
	Scopes  []string `json:"scopes" jsonschema:"The scopes the client may be granted."`
	// Properties become the token's application_properties claim.
	Properties map[string]string `json:"properties,omitempty" jsonschema:"Application properties, carried in its tokens' application_properties claim."`
}

// CreateClientOutput is the new client with its secret, shown once.
type CreateClientOutput struct {
	Client store.Client `json:"client"`
	// ClientSecret is shown once and stored only as a hash.
	ClientSecret string `json:"client_secret" jsonschema:"The client's secret, shown once: keep it now, it is stored only as a hash."`
}

var createClient = &operation[CreateClientInput, CreateClientOutput]{
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
		if len(in.Scopes) == 0 {
			return invalid("a client needs at least one scope (known: %s)", strings.Join(auth.AllScopes, " "))
		}
		for _, sc := range in.Scopes {
			if !auth.Known(sc) {
				return invalid("unknown scope %q (known: %s)", sc, strings.Join(auth.AllScopes, " "))
			}
		}
		props := make(map[string]*string, len(in.Properties))
		for k, v := range in.Properties {
			props[k] = &v
		}
		return checkProperties(props)
	},
	target: func(_ *CreateClientInput, out *CreateClientOutput) string { return out.Client.ID },
	do: func(ctx context.Context, q store.Tx, org string, in *CreateClientInput) (CreateClientOutput, error) {
		if in.Global && org != "" {
			return CreateClientOutput{}, &Error{Kind: KindDenied, Reason: "global_only",
				Message: "only a global principal may create a global client; this one is bound to " + org}
		}
		secret := credential.NewSecret()
		c, err := q.CreateClient(ctx, store.Client{
			ID:                      credential.RandomHex(16),
			Name:                    in.Name,
			Kind:                    store.ClientMachine,
			OrgCode:                 org,
			SecretHash:              credential.HashSecret(secret),
			Scopes:                  auth.Narrow(in.Scopes, in.Scopes),
			GrantTypes:              []string{"client_credentials"},
			TokenEndpointAuthMethod: "client_secret_basic",
			Properties:              in.Properties,
		})
		if errors.Is(err, store.ErrNotFound) {
			return CreateClientOutput{}, orgNotFound(org)
		}
		return CreateClientOutput{Client: c, ClientSecret: secret}, err
	},
}

// CreateClient provisions a machine client and returns its secret, shown
// once.
func (s *Service) CreateClient(ctx context.Context, c Caller, in CreateClientInput) (CreateClientOutput, error) {
	return run(ctx, s, c, createClient, in)
}

// SetPasswordInput names a person and their new password.
type SetPasswordInput struct {
	OrgArg
	Email string `json:"email"`
	// Password is never part of the audit record (nor of the hashed
	// arguments).
	Password string `json:"-"`
	hash     string
}

// SetPasswordOutput is the person whose password was set.
type SetPasswordOutput struct {
	User store.User `json:"user"`
}

// SetPassword stores a slow hash of a person's new password.
func (s *Service) SetPassword(ctx context.Context, c Caller, in SetPasswordInput) (SetPasswordOutput, error) {
	op := &operation[SetPasswordInput, SetPasswordOutput]{
		name:  "set_user_password",
		org:   orgOf[SetPasswordInput],
		write: true,
		check: func(in *SetPasswordInput) error {
			var err error
			if in.Email, err = parseEmail(in.Email); err != nil {
				return err
			}
			if err := textOK("password", in.Password); err != nil {
				return err
			}
			// Hashed here, slowly on purpose, rather than inside the
			// transaction that stores it.
			if in.hash, err = credential.HashPassword(in.Password, s.passwordCost); err != nil {
				return invalid("%v", err)
			}
			return nil
		},
		target: func(_ *SetPasswordInput, out *SetPasswordOutput) string { return out.User.ID },
		do: func(ctx context.Context, q store.Tx, org string, in *SetPasswordInput) (SetPasswordOutput, error) {
			creds, err := q.UserCredentials(ctx, in.Email)
			if err != nil {
				return SetPasswordOutput{}, err
			}
			for _, cr := range creds {
				if cr.User.OrgCode != org {
					continue
				}
				return SetPasswordOutput{User: cr.User}, q.SetUserPassword(ctx, org, cr.User.ID, in.hash)
			}
			return SetPasswordOutput{}, notFound("there is no user %s in %s", in.Email, org)
		},
	}
	return run(ctx, s, c, op, in)
}
