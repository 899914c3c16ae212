package store

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// What every backend shares: how partial updates apply, how names fold
// for case-insensitive matching, and what a page cursor is. Keeping them
// here makes the backends differ only in SQL.

// Apply returns u with the update's non-nil fields applied.
func (up UserUpdate) Apply(u User) User {
	if up.Email != nil {
		u.Email = *up.Email
	}
	if up.GivenName != nil {
		u.GivenName = *up.GivenName
	}
	if up.FamilyName != nil {
		u.FamilyName = *up.FamilyName
	}
	if up.Status != nil {
		u.Status = *up.Status
	}
	if up.Role != nil {
		u.Role = *up.Role
	}
	if up.PlatformAdmin != nil {
		u.PlatformAdmin = *up.PlatformAdmin
	}
	return u
}

// Apply returns o with the update's non-nil fields applied: a nil property
// value deletes the key. An org left without properties has a nil map, as
// it would read back.
func (up OrgUpdate) Apply(o Org) Org {
	if up.Name != nil {
		o.Name = *up.Name
	}
	if len(up.Properties) == 0 {
		return o
	}
	props := maps.Clone(o.Properties)
	if props == nil {
		props = map[string]string{}
	}
	for k, v := range up.Properties {
		if v == nil {
			delete(props, k)
		} else {
			props[k] = *v
		}
	}
	if len(props) == 0 {
		props = nil
	}
	o.Properties = props
	return o
}

// Apply returns c with the update's non-nil fields applied, as OrgUpdate
// does for properties.
func (up ClientUpdate) Apply(c Client) Client {
	if up.Name != nil {
		c.Name = *up.Name
	}
	if up.Scopes != nil {
		c.Scopes = slices.Clone(up.Scopes)
	}
	if up.TokenTTL != nil {
		c.TokenTTL = *up.TokenTTL
	}
	if up.Delegate != nil {
		c.Delegate = *up.Delegate
	}
	if up.DisabledAt != nil {
		c.DisabledAt = *up.DisabledAt
	}
	if up.JWKS != nil {
		c.JWKS = slices.Clone(*up.JWKS)
	}
	if up.JWKSURI != nil {
		c.JWKSURI = *up.JWKSURI
	}
	c.Properties = OrgUpdate{Properties: up.Properties}.Apply(Org{Properties: c.Properties}).Properties
	return c
}

// Fold is the case-insensitive form of a string that backends store next
// to emails and names. It is computed in Go, not with SQL lower(), which
// folds ASCII only in SQLite.
func Fold(s string) string { return strings.ToLower(s) }

// FoldedUser holds the folded forms of a user's email and names.
type FoldedUser struct{ Email, Given, Family, Full string }

// FoldUser folds u's email, given, family and full ("given family") name.
func FoldUser(u User) FoldedUser {
	full := strings.TrimSpace(u.GivenName + " " + u.FamilyName)
	return FoldedUser{Fold(u.Email), Fold(u.GivenName), Fold(u.FamilyName), Fold(full)}
}

// LikePrefix is the SQL LIKE pattern (with ESCAPE '\') matching folded
// strings that start with prefix; LIKE's wildcards in it are escaped.
func LikePrefix(prefix string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(Fold(prefix)) + "%"
}

// Listings a cursor can belong to, so that a cursor of one listing (or of
// another org) is refused by the others.
const (
	ListOrgs        = "orgs"
	ListUsers       = "users"
	ListFlags       = "flags"
	ListAudit       = "audit"
	ListAuditExport = "audit-export"
	ListClients     = "clients"
	ListGrants      = "grants"
)

// cursorVersion changes if the cursor's content ever does; old cursors are
// then refused rather than misread.
const cursorVersion = 1

// cursor is what a page cursor carries: the key of the last row returned.
// Encoded as base64url JSON, it is opaque but not secret: a forged key only
// moves the start of a page within the same listing and org.
type cursor struct {
	Version int    `json:"v"`
	List    string `json:"l"`
	Org     string `json:"o,omitempty"`
	After   string `json:"k"`
}

// EncodeCursor returns the cursor continuing after key, or "" when key is
// "" (the last page).
func EncodeCursor(list, org, key string) string {
	if key == "" {
		return ""
	}
	b, _ := json.Marshal(cursor{Version: cursorVersion, List: list, Org: org, After: key})
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor returns the key a page starts after: "" for the first page
// (an empty cursor), ErrInvalidCursor for anything EncodeCursor did not
// make for this listing and org. A key with a NUL, which no stored key can
// hold (and PostgreSQL refuses as a parameter), is refused too.
func DecodeCursor(s, list, org string) (string, error) {
	if s == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	var c cursor
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.Version != cursorVersion || c.List != list || c.Org != org || c.After == "" ||
		strings.ContainsRune(c.After, 0) {
		return "", fmt.Errorf("%w for %s", ErrInvalidCursor, list)
	}
	return c.After, nil
}

// TrimPage cuts rows, fetched with a limit of size+1, to one page and
// returns the key the next page starts after ("" when this is the last).
func TrimPage[T any](rows []T, size int, key func(T) string) ([]T, string) {
	if len(rows) <= size {
		return rows, ""
	}
	rows = rows[:size]
	return rows, key(rows[size-1])
}
