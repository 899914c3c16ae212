package auth_test

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/orgscope/orgscope/auth"
)

// Token payloads shaped after each identity provider's documentation of
// its access tokens (values invented), and the principal OrgScope must
// read from each with the mapping its README recipe gives.
func TestClaimMappingPerIdP(t *testing.T) {
	tests := []struct {
		name    string
		mapping auth.ClaimMapping
		payload string
		want    auth.Principal
	}{
		{
			name:    "Kinde org-scoped M2M (no sub, azp, gty, org_code, scope)",
			mapping: auth.ClaimMapping{RequireTenant: true},
			payload: `{"aud":["https://orgscope.example/mcp"],"azp":"3b0b5c6c8fcc464fab397f4969b5f482","exp":1893456000,
				"gty":["client_credentials"],"iat":1893452400,"iss":"https://acme.kinde.com","jti":"b1f1e3b5-2e1c-4a6f-9f7a-6f0c4e1c9b2d",
				"org_code":"org_1ccfb819462","scope":"read:users write:flags","scp":["read:users","write:flags"]}`,
			want: auth.Principal{Issuer: "https://acme.kinde.com", Subject: "3b0b5c6c8fcc464fab397f4969b5f482",
				ClientID: "3b0b5c6c8fcc464fab397f4969b5f482", OrgCode: "org_1ccfb819462", GrantType: "client_credentials",
				TokenID: "b1f1e3b5-2e1c-4a6f-9f7a-6f0c4e1c9b2d", Scopes: []string{"read:users", "write:flags"}},
		},
		{
			name:    "Auth0 client credentials with Organizations and RBAC permissions",
			mapping: auth.ClaimMapping{TenantClaim: "org_id", ScopeClaims: []string{"scope", "permissions"}, RequireTenant: true},
			payload: `{"iss":"https://acme.us.auth0.com/","sub":"HXp7cKNR0Ia1Wt9SxwZd8Bf4ycKGKQ6b@clients","aud":"https://orgscope.example/mcp",
				"iat":1893452400,"exp":1893456000,"gty":"client-credentials","azp":"HXp7cKNR0Ia1Wt9SxwZd8Bf4ycKGKQ6b",
				"scope":"read:users","permissions":["read:users","write:users"],"org_id":"org_9ybsU1dN2dKfDkBi"}`,
			want: auth.Principal{Issuer: "https://acme.us.auth0.com/", Subject: "HXp7cKNR0Ia1Wt9SxwZd8Bf4ycKGKQ6b@clients",
				ClientID: "HXp7cKNR0Ia1Wt9SxwZd8Bf4ycKGKQ6b", OrgCode: "org_9ybsU1dN2dKfDkBi", GrantType: "client-credentials",
				Scopes: []string{"read:users", "write:users"}},
		},
		{
			name:    "Keycloak service account with an org_code mapper",
			mapping: auth.ClaimMapping{RequireTenant: true},
			payload: `{"exp":1893456000,"iat":1893452400,"jti":"onrtcc:5b1d","iss":"https://sso.example.com/realms/acme",
				"aud":["https://orgscope.example/mcp","account"],"sub":"6f1a0d5e-95a4-4c4f-8a5d-2a0e3b1c7d9e","typ":"Bearer",
				"azp":"orgscope-agent","scope":"profile read:users email","org_code":"org_acme","clientId":"orgscope-agent"}`,
			want: auth.Principal{Issuer: "https://sso.example.com/realms/acme", Subject: "6f1a0d5e-95a4-4c4f-8a5d-2a0e3b1c7d9e",
				ClientID: "orgscope-agent", OrgCode: "org_acme", TokenID: "onrtcc:5b1d",
				Scopes: []string{"email", "profile", "read:users"}},
		},
		{
			name:    "Okta custom authorization server (scp array, cid)",
			mapping: auth.ClaimMapping{RequireTenant: true},
			payload: `{"ver":1,"jti":"AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE","iss":"https://acme.okta.com/oauth2/default",
				"aud":"https://orgscope.example/mcp","iat":1893452400,"exp":1893456000,"cid":"0oa1cgxmzyKVWQLOE4x7",
				"scp":["read:users","read:flags"],"sub":"0oa1cgxmzyKVWQLOE4x7","org_code":"org_acme"}`,
			want: auth.Principal{Issuer: "https://acme.okta.com/oauth2/default", Subject: "0oa1cgxmzyKVWQLOE4x7",
				ClientID: "0oa1cgxmzyKVWQLOE4x7", OrgCode: "org_acme", TokenID: "AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE",
				Scopes: []string{"read:flags", "read:users"}},
		},
		{
			name:    "Entra ID v2 app-only token (roles, tid)",
			mapping: auth.ClaimMapping{TenantClaim: "tid", ScopeClaims: []string{"roles"}, RequireTenant: true},
			payload: `{"aud":"api://6e74172b-be56-4843-9ff4-e66a39bb12e3","iss":"https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
				"iat":1893452400,"nbf":1893452400,"exp":1893456000,"azp":"1950a258-227b-4e31-a9cf-717495945fc2","azpacr":"1",
				"oid":"94dc14ba-8b3b-4c2c-8d2e-9f3b7c3e5f50","roles":["read:users","read:orgs"],"sub":"94dc14ba-8b3b-4c2c-8d2e-9f3b7c3e5f50",
				"tid":"72f988bf-86f1-41af-91ab-2d7cd011db47","ver":"2.0"}`,
			want: auth.Principal{Issuer: "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
				Subject: "94dc14ba-8b3b-4c2c-8d2e-9f3b7c3e5f50", ClientID: "1950a258-227b-4e31-a9cf-717495945fc2",
				OrgCode: "72f988bf-86f1-41af-91ab-2d7cd011db47", Scopes: []string{"read:orgs", "read:users"}},
		},
		{
			name:    "Clerk session token v2 (nested o.id)",
			mapping: auth.ClaimMapping{TenantClaim: "o.id", RequireTenant: true},
			payload: `{"azp":"https://app.example.com","exp":1893456000,"iat":1893452400,"iss":"https://clerk.example.com",
				"nbf":1893452390,"sid":"sess_2a8d","sub":"user_2NNEqL2nrIRdJ194ndJqAHwEfxC","v":2,
				"o":{"id":"org_2Pv5Q","rol":"admin","slg":"acme","per":"read:users"},"scope":"read:users"}`,
			want: auth.Principal{Issuer: "https://clerk.example.com", Subject: "user_2NNEqL2nrIRdJ194ndJqAHwEfxC",
				ClientID: "https://app.example.com", OrgCode: "org_2Pv5Q", Scopes: []string{"read:users"}},
		},
		{
			name:    "Clerk OAuth access token (org_id)",
			mapping: auth.ClaimMapping{TenantClaim: "org_id", RequireTenant: true},
			payload: `{"iss":"https://clerk.example.com","sub":"user_2NNEqL2nrIRdJ194ndJqAHwEfxC","client_id":"Y5eA2Pj3",
				"exp":1893456000,"iat":1893452400,"jti":"oat_2x","org_id":"org_2Pv5Q","scope":"read:users read:flags"}`,
			want: auth.Principal{Issuer: "https://clerk.example.com", Subject: "user_2NNEqL2nrIRdJ194ndJqAHwEfxC",
				ClientID: "Y5eA2Pj3", OrgCode: "org_2Pv5Q", TokenID: "oat_2x", Scopes: []string{"read:flags", "read:users"}},
		},
		{
			name:    "WorkOS AuthKit (org_id, permissions)",
			mapping: auth.ClaimMapping{TenantClaim: "org_id", ScopeClaims: []string{"permissions"}, RequireTenant: true},
			payload: `{"iss":"https://api.workos.com/user_management/client_01H","sub":"user_01HXYZ","sid":"session_01H",
				"jti":"01HZ","org_id":"org_01HABC","role":"admin","permissions":["read:users","write:users"],
				"exp":1893456000,"iat":1893452400}`,
			want: auth.Principal{Issuer: "https://api.workos.com/user_management/client_01H", Subject: "user_01HXYZ",
				OrgCode: "org_01HABC", TokenID: "01HZ", Scopes: []string{"read:users", "write:users"}},
		},
		{
			name:    "Kinde global M2M, allowed to be global",
			mapping: auth.ClaimMapping{},
			payload: `{"azp":"glob","exp":1893456000,"gty":["client_credentials"],"iss":"https://acme.kinde.com","scope":"read:orgs"}`,
			want: auth.Principal{Issuer: "https://acme.kinde.com", Subject: "glob", ClientID: "glob", GrantType: "client_credentials",
				Scopes: []string{"read:orgs"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var claims map[string]json.RawMessage
			if err := json.Unmarshal([]byte(tt.payload), &claims); err != nil {
				t.Fatal(err)
			}
			// External issuers validate the tenant claim: every
			// provider's real shape of code passes.
			strict := tt.mapping
			strict.ValidateTenant = true
			p, err := strict.Principal(claims)
			if err != nil {
				t.Fatal(err)
			}
			if p.Issuer != tt.want.Issuer || p.Subject != tt.want.Subject || p.ClientID != tt.want.ClientID ||
				p.OrgCode != tt.want.OrgCode || p.GrantType != tt.want.GrantType || p.TokenID != tt.want.TokenID ||
				!slices.Equal(p.Scopes, tt.want.Scopes) || p.Expiry.Unix() != 1893456000 {
				t.Errorf("principal\n got %+v\nwant %+v", *p, tt.want)
			}
		})
	}
}

func TestClaimMappingRefusals(t *testing.T) {
	for name, tc := range map[string]struct {
		mapping auth.ClaimMapping
		payload string
	}{
		"tenant required but absent":     {auth.ClaimMapping{RequireTenant: true}, `{"iss":"x","scope":"read:users"}`},
		"tenant required but empty":      {auth.ClaimMapping{RequireTenant: true}, `{"iss":"x","org_code":""}`},
		"tenant is a number":             {auth.ClaimMapping{}, `{"iss":"x","org_code":7}`},
		"nested tenant path not present": {auth.ClaimMapping{TenantClaim: "o.id", RequireTenant: true}, `{"o":{"slg":"acme"}}`},
	} {
		var claims map[string]json.RawMessage
		json.Unmarshal([]byte(tc.payload), &claims)
		if p, err := tc.mapping.Principal(claims); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("%s: accepted %+v", name, p)
		}
	}
}

// TestClaimMappingValidateTenant: with ValidateTenant (external issuers) a
// tenant claim that cannot be an organization code is refused with the
// rule, never with the value; without it (the embedded issuer, whose codes
// come from its own store) the claim is taken as it is.
func TestClaimMappingValidateTenant(t *testing.T) {
	for _, org := range []string{"org has space", "org_\u0000x", "org_caf\u00e9", "-org", strings.Repeat("a", 65), "../org_beta"} {
		payload, _ := json.Marshal(map[string]string{"iss": "x", "sub": "s", "org_id": org})
		var claims map[string]json.RawMessage
		if err := json.Unmarshal(payload, &claims); err != nil {
			t.Fatal(err)
		}
		p, err := auth.ClaimMapping{TenantClaim: "org_id", ValidateTenant: true}.Principal(claims)
		var te *auth.TokenError
		if !errors.As(err, &te) || !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("%q: accepted %+v (%v)", org, p, err)
			continue
		}
		if !strings.Contains(te.Description, "organization") || !strings.Contains(te.Description, "1 to 64 characters") {
			t.Errorf("%q: description %q does not state the rule", org, te.Description)
		}
		var raw string
		json.Unmarshal(claims["org_id"], &raw)
		if strings.Contains(te.Error(), raw) {
			t.Errorf("%q: the error repeats the value: %v", org, te)
		}
		if !errors.Is(err, auth.ErrInvalidOrgCode) {
			t.Errorf("%q: the cause %v does not wrap ErrInvalidOrgCode", org, err)
		}
		if p, err := (auth.ClaimMapping{TenantClaim: "org_id"}).Principal(claims); err != nil || p.OrgCode != raw {
			t.Errorf("%q without ValidateTenant: %+v, %v", org, p, err)
		}
	}
}

// TestApplicationProperties: Kinde's {"v": …} members and plain strings
// become the principal's properties; other values are skipped.
func TestApplicationProperties(t *testing.T) {
	claims := map[string]json.RawMessage{
		"sub": json.RawMessage(`"c1"`), "client_id": json.RawMessage(`"c1"`),
		"application_properties": json.RawMessage(`{"plan":{"v":"enterprise"},"region":"eu","seats":{"v":5},"n":3}`),
	}
	p, err := auth.ClaimMapping{}.Principal(claims)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"plan": "enterprise", "region": "eu"}; !maps.Equal(p.Properties, want) {
		t.Errorf("properties %v, want %v", p.Properties, want)
	}
	delete(claims, "application_properties")
	if p, _ := (auth.ClaimMapping{}).Principal(claims); p.Properties != nil {
		t.Errorf("no claim: properties %v", p.Properties)
	}
}
