package auth

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// ClaimMapping says where an issuer puts what OrgScope needs. The zero value
// reads OrgScope's (and Kinde's) shape: tenant in org_code; scopes in scope,
// scp or permissions; client in client_id or azp; global tokens allowed.
type ClaimMapping struct {
	// TenantClaim names the claim holding the organization code: "org_code"
	// (Kinde, OrgScope) when empty; "org_id" for Auth0, Clerk and WorkOS;
	// "tid" for Entra ID; or any custom claim. A dotted path reaches into
	// objects ("o.id" for Clerk's v2 session claims) when no top-level
	// claim has the dotted name. Its value must be a string.
	TenantClaim string
	// ScopeClaims lists the claims that carry scopes, each either a
	// space-separated string or an array of strings; all found are merged.
	// Nil means "scope", "scp" and "permissions".
	ScopeClaims []string
	// RequireTenant refuses tokens without the tenant claim. When false such
	// tokens become global principals.
	RequireTenant bool
	// ValidateTenant refuses a tenant claim that CheckOrgCode refuses, so
	// that a token never names an organization that cannot exist. External
	// issuers set it; the embedded issuer's codes come from its own store.
	ValidateTenant bool
}

var defaultScopeClaims = []string{"scope", "scp", "permissions"}

func (m ClaimMapping) tenantClaim() string {
	if m.TenantClaim == "" {
		return "org_code"
	}
	return m.TenantClaim
}

// Principal builds a principal from a token's claims (already verified).
func (m ClaimMapping) Principal(claims map[string]json.RawMessage) (*Principal, error) {
	p := &Principal{
		Issuer:  stringClaim(claims, "iss"),
		Subject: stringClaim(claims, "sub"),
		TokenID: stringClaim(claims, "jti"),
		GrantID: stringClaim(claims, "grant_id"),
	}
	// The client: client_id (RFC 9068), azp (OIDC, Kinde, Auth0, Entra
	// v2), cid (Okta), appid (Entra v1).
	for _, c := range []string{"client_id", "azp", "cid", "appid"} {
		if p.ClientID = stringClaim(claims, c); p.ClientID != "" {
			break
		}
	}
	if p.Subject == "" { // Kinde's M2M tokens carry azp but no sub.
		p.Subject = p.ClientID
	}
	if gty := stringsClaim(claims, "gty"); len(gty) > 0 {
		p.GrantType = gty[0]
	}
	p.Expiry = timeClaim(claims, "exp")
	p.IssuedAt = timeClaim(claims, "iat")

	if raw, ok := lookupClaim(claims, m.tenantClaim()); ok {
		var org string
		if json.Unmarshal(raw, &org) != nil {
			return nil, invalid(reasonMalformed, errString("tenant claim "+m.tenantClaim()+" is not a string"))
		}
		if org != "" && m.ValidateTenant {
			if err := CheckOrgCode(org); err != nil {
				return nil, invalid(reasonOrgCode, fmt.Errorf("tenant claim %s: %w", m.tenantClaim(), err))
			}
		}
		p.OrgCode = org
	}
	if p.OrgCode == "" && m.RequireTenant {
		return nil, invalid(reasonNoTenant, nil)
	}

	scopeClaims := m.ScopeClaims
	if scopeClaims == nil {
		scopeClaims = defaultScopeClaims
	}
	for _, c := range scopeClaims {
		for _, s := range stringsClaim(claims, c) {
			for _, f := range strings.Fields(s) {
				if !slices.Contains(p.Scopes, f) {
					p.Scopes = append(p.Scopes, f)
				}
			}
		}
	}
	slices.Sort(p.Scopes)
	p.Properties = propertiesClaim(claims, "application_properties")
	if err := delegation(claims, p); err != nil {
		return nil, err
	}
	return p, nil
}

// maxProperties bounds the application properties read from a token.
const maxProperties = 64

// propertiesClaim reads application properties: an object whose members
// are Kinde's {"v": "…"} or plain strings. Other values are skipped.
func propertiesClaim(claims map[string]json.RawMessage, name string) map[string]string {
	raw, ok := claims[name]
	if !ok {
		return nil
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(raw, &members) != nil || len(members) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(members)) {
		if len(out) == maxProperties {
			break
		}
		v := members[k]
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
			continue
		}
		var kinde struct {
			V *string `json:"v"`
		}
		if json.Unmarshal(v, &kinde) == nil && kinde.V != nil {
			out[k] = *kinde.V
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// lookupClaim finds a claim by name, or by a dotted path into objects.
func lookupClaim(claims map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	if raw, ok := claims[name]; ok {
		return raw, true
	}
	head, rest, nested := strings.Cut(name, ".")
	if !nested {
		return nil, false
	}
	var inner map[string]json.RawMessage
	if raw, ok := claims[head]; !ok || json.Unmarshal(raw, &inner) != nil {
		return nil, false
	}
	return lookupClaim(inner, rest)
}

type errString string

func (e errString) Error() string { return string(e) }

func stringClaim(claims map[string]json.RawMessage, name string) string {
	var s string
	if raw, ok := claims[name]; ok {
		json.Unmarshal(raw, &s) // a non-string leaves s empty
	}
	return s
}

// stringsClaim reads a claim that is a string or an array of strings.
func stringsClaim(claims map[string]json.RawMessage, name string) []string {
	raw, ok := claims[name]
	if !ok {
		return nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return nil
		}
		return []string{one}
	}
	var many []string
	json.Unmarshal(raw, &many)
	return many
}

func timeClaim(claims map[string]json.RawMessage, name string) time.Time {
	var secs json.Number
	raw, ok := claims[name]
	if !ok || json.Unmarshal(raw, &secs) != nil {
		return time.Time{}
	}
	f, err := secs.Float64()
	if err != nil {
		return time.Time{}
	}
	return time.Unix(int64(f), 0).UTC()
}
