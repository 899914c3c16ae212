package service

import (
	"fmt"
	"net/mail"
	"reflect"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/orgscope/orgscope/store"
)

// The rules of OrgScope's inputs, the same for every way in. Tool schemas
// state them too (tools/schema.go), so that a client learns them before it
// calls.
const (
	// FlagKeyPattern: lower-case letters, digits and underscores, starting
	// with a letter; property names follow it too.
	FlagKeyPattern = `^[a-z][a-z0-9_]{0,63}$`
	// UserIDPattern: usr_ and 32 hex digits.
	UserIDPattern = `^usr_[0-9a-f]{32}$`
	// Bounds of free text.
	MaxNameLength        = 100
	MaxEmailLength       = 254
	MaxOrgNameLength     = 200
	MaxDescriptionLength = 500
	MaxProperties        = 50
	MaxPropertyLength    = 1024
	MaxFlagValueBytes    = 8 << 10
	MaxCursorLength      = 512
)

var (
	flagKeyRE = regexp.MustCompile(FlagKeyPattern)
	userIDRE  = regexp.MustCompile(UserIDPattern)
)

// checkText walks an input and refuses text no store can hold faithfully:
// invalid UTF-8 (which JSON encoders silently turn into U+FFFD) and NUL
// (which PostgreSQL refuses and SQLite keeps). It names the field.
func checkText(in any) error {
	return walkText(reflect.ValueOf(in), "")
}

func walkText(v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return walkText(v.Elem(), path)
	case reflect.String:
		return textOK(path, v.String())
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 { // json.RawMessage
			if !utf8.Valid(v.Bytes()) {
				return invalid("%s is not valid UTF-8", fieldName(path))
			}
			return nil
		}
		for i := range v.Len() {
			if err := walkText(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			key := fmt.Sprint(k.Interface())
			if err := textOK(path+" name", key); err != nil {
				return err
			}
			if err := walkText(v.MapIndex(k), path+"."+key); err != nil {
				return err
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			p := path
			if !f.Anonymous {
				if name == "" {
					name = f.Name
				}
				p = strings.TrimPrefix(path+"."+name, ".")
			}
			if err := walkText(v.Field(i), p); err != nil {
				return err
			}
		}
	}
	return nil
}

func textOK(path, s string) error {
	switch {
	case !utf8.ValidString(s):
		return invalid("%s is not valid UTF-8", fieldName(path))
	case strings.ContainsRune(s, 0):
		return invalid("%s contains a NUL character, which cannot be stored", fieldName(path))
	}
	return nil
}

func fieldName(path string) string {
	if path == "" {
		return "the input"
	}
	return path
}

// plainText checks a single-line text field: no control characters, at
// most max characters. It returns the text trimmed.
func plainText(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > max {
		return "", invalid("%s is longer than %d characters", field, max)
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		return "", invalid("%s contains a control character; use plain text on one line", field)
	}
	return s, nil
}

// parseEmail accepts a bare address (no display name) of at most 254 bytes.
func parseEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || len(s) > MaxEmailLength || addr.Name != "" {
		return "", invalid("email %q is not a valid address (want a bare address like ann@example.com)", s)
	}
	return s, nil
}

func parseStatus(s string, optional bool) (store.UserStatus, error) {
	switch st := store.UserStatus(s); {
	case s == "" && optional:
		return "", nil
	case st == store.UserActive || st == store.UserSuspended:
		return st, nil
	}
	return "", invalid("status %q is not valid (want active or suspended)", s)
}

func parseRole(s string, optional bool) (store.Role, error) {
	switch r := store.Role(s); {
	case s == "" && optional:
		return store.RoleMember, nil
	case r == store.RoleAdmin || r == store.RoleMember:
		return r, nil
	}
	return "", invalid("role %q is not valid (want admin or member)", s)
}

func checkUserID(id string) error {
	if !userIDRE.MatchString(id) {
		return invalid("user_id %q is not valid: user ids are usr_ followed by 32 hex digits (list_users shows them)", id)
	}
	return nil
}

func checkFlagKey(field, key string) error {
	if !flagKeyRE.MatchString(key) {
		return invalid("%s %q is not valid: use up to 64 lower-case letters, digits and underscores, starting with a letter", field, key)
	}
	return nil
}

func checkLimit(limit int) error {
	if limit < 0 || limit > store.MaxPageSize {
		return invalid("limit must be between 1 and %d", store.MaxPageSize)
	}
	return nil
}

func checkCursor(cursor string) error {
	if len(cursor) > MaxCursorLength {
		return invalid("cursor is longer than %d characters: pass the next_cursor of the previous page unchanged", MaxCursorLength)
	}
	return nil
}

// checkProperties checks a set of properties (a nil value removes one).
func checkProperties(props map[string]*string) error {
	if len(props) > MaxProperties {
		return invalid("at most %d properties per call", MaxProperties)
	}
	for k, v := range props {
		if !flagKeyRE.MatchString(k) {
			return invalid("property name %q is not valid: use lower-case letters, digits and underscores, starting with a letter", k)
		}
		if v != nil && len(*v) > MaxPropertyLength {
			return invalid("property %q is longer than %d bytes", k, MaxPropertyLength)
		}
	}
	return nil
}
