package postgres

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/orgscope/orgscope/store"
)

// Cursors have the SQLite backend's format, so that they look and behave
// the same whichever backend serves them.

// Listings name what a cursor continues, so that a cursor of one listing
// (or of another org's) is refused by the others.
const (
	listOrgs  = "orgs"
	listUsers = "users"
	listFlags = "flags"
	listAudit = "audit"
)

// cursorVersion changes if the cursor's content ever does; old cursors are
// then refused rather than misread.
const cursorVersion = 1

// cursor is what a page cursor carries: the key of the last row returned.
// It is encoded as base64url JSON; it is opaque but not secret, and a
// forged key only moves the page start within the same org.
type cursor struct {
	Version int    `json:"v"`
	List    string `json:"l"`
	Org     string `json:"o,omitempty"`
	After   string `json:"k"`
}

// encodeCursor returns the cursor continuing after key, or "" when key is ""
// (the last page).
func encodeCursor(list, org, key string) string {
	if key == "" {
		return ""
	}
	b, _ := json.Marshal(cursor{Version: cursorVersion, List: list, Org: org, After: key})
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor returns the key a page starts after: "" for the first page
// (an empty cursor), store.ErrInvalidCursor for anything not made by
// encodeCursor for this listing and org. A key with a NUL, which no stored
// key can hold and PostgreSQL refuses as a parameter, is refused here too.
func decodeCursor(s, list, org string) (string, error) {
	if s == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	var c cursor
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.Version != cursorVersion || c.List != list || c.Org != org || c.After == "" || strings.ContainsRune(c.After, 0) {
		return "", fmt.Errorf("%w for %s", store.ErrInvalidCursor, list)
	}
	return c.After, nil
}

// trimPage cuts rows, fetched with a limit of size+1, to one page and
// returns the key the next page starts after ("" when this is the last).
func trimPage[T any](rows []T, size int, key func(T) string) ([]T, string) {
	if len(rows) <= size {
		return rows, ""
	}
	rows = rows[:size]
	return rows, key(rows[size-1])
}
