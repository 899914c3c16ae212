package authserver

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/orgscope/orgscope/store"
)

// DefaultPasswordCost is the bcrypt cost of stored passwords: about a
// quarter of a second on a server core, which makes guessing slow.
const DefaultPasswordCost = 12

// MinPasswordLength is the shortest password SetPassword accepts.
const MinPasswordLength = 10

// HashPassword returns the bcrypt hash of a password. cost zero means
// DefaultPasswordCost.
func HashPassword(password string, cost int) (string, error) {
	if utf8.RuneCountInString(password) < MinPasswordLength {
		return "", fmt.Errorf("a password needs at least %d characters", MinPasswordLength)
	}
	if len(password) > 72 {
		return "", errors.New("a password may have at most 72 bytes (bcrypt's limit)")
	}
	if cost == 0 {
		cost = DefaultPasswordCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// SetPassword finds the user by org and email and stores a slow hash of
// password for them.
func SetPassword(ctx context.Context, st interface {
	UserCredentials(context.Context, string) ([]store.UserCredential, error)
	SetUserPassword(ctx context.Context, orgCode, userID, hash string) error
}, orgCode, email, password string, cost int) (store.User, error) {
	creds, err := st.UserCredentials(ctx, email)
	if err != nil {
		return store.User{}, err
	}
	for _, c := range creds {
		if c.User.OrgCode != orgCode {
			continue
		}
		hash, err := HashPassword(password, cost)
		if err != nil {
			return store.User{}, err
		}
		return c.User, st.SetUserPassword(ctx, orgCode, c.User.ID, hash)
	}
	return store.User{}, fmt.Errorf("no user %s in %s: %w", email, orgCode, store.ErrNotFound)
}

// NewPassword returns a random password for a user who has none: 20
// characters of base64url, about 120 bits.
func NewPassword() string { return randomToken(15) }
