package tools

import (
	"context"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/orgscope/orgscope/authz"
)

// WhoamiOutput describes the caller's access token.
type WhoamiOutput struct {
	Issuer    string    `json:"issuer"`
	Subject   string    `json:"subject"`
	ClientID  string    `json:"client_id"`
	OrgCode   string    `json:"org_code,omitempty" jsonschema:"The organization the token is bound to; absent for global tokens."`
	Global    bool      `json:"global" jsonschema:"True for administration tokens not bound to one organization."`
	Scopes    []string  `json:"scopes"`
	GrantType string    `json:"grant_type,omitempty"`
	TokenID   string    `json:"token_id,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
	ExpiresIn int64     `json:"expires_in_seconds"`
	Tools     []string  `json:"tools" jsonschema:"The tools this token may call."`
}

type whoamiInput struct{}

func (t *toolset) registerWhoami(s *mcp.Server) {
	add(s, t, &mcp.Tool{
		Name:  "whoami",
		Title: "Who am I",
		Description: "Describe the access token of this call: client, subject, the organization it is bound to " +
			"(or that it is a global administration token), its scopes, its expiry, and the tools it may call. " +
			"Call this first when another tool is refused, to see what the token allows.",
		Annotations: readOnly,
	}, func(ctx context.Context, c caller, _ whoamiInput) (WhoamiOutput, error) {
		return WhoamiOutput{
			Issuer:    c.Issuer,
			Subject:   c.Subject,
			ClientID:  c.ClientID,
			OrgCode:   c.OrgCode,
			Global:    c.Global(),
			Scopes:    append([]string{}, c.Scopes...),
			GrantType: c.GrantType,
			TokenID:   c.TokenID,
			ExpiresAt: c.Expiry,
			ExpiresIn: int64(c.Expiry.Sub(t.now()).Round(time.Second) / time.Second),
			Tools:     append([]string{}, authz.Visible(ctx, t.authz, c.Principal)...),
		}, nil
	})
}
