package credential

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// NewSecret returns a client secret or single-use token: 256 random bits,
// base64url.
func NewSecret() string { return RandomToken(32) }

// RandomToken returns n random bytes, base64url without padding.
func RandomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// RandomHex returns n random bytes in hex (client ids).
func RandomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// HashSecret returns the stored form of a secret: hex SHA-256. A fast hash
// is right here because secrets are 256-bit random values, which no
// dictionary can guess; passwords get a slow hash instead.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// SecretMatches compares a presented secret with a stored hash in constant
// time.
func SecretMatches(secret, hash string) bool {
	return subtle.ConstantTimeCompare([]byte(HashSecret(secret)), []byte(hash)) == 1
}

// SecretMatchesAny compares a presented secret with every stored hash of a
// client (during a rotation's grace period it has two), in time that
// depends only on how many there are: every hash is compared, whichever
// matches.
func SecretMatchesAny(secret string, hashes []string) bool {
	presented := []byte(HashSecret(secret))
	match := 0
	for _, h := range hashes {
		match |= subtle.ConstantTimeCompare(presented, []byte(h))
	}
	return match == 1
}

// DefaultPasswordCost is the bcrypt cost of stored passwords: about a
// quarter of a second on a server core, which makes guessing slow.
const DefaultPasswordCost = 12

// MinPasswordLength is the shortest password HashPassword accepts.
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

// PasswordMatches reports whether password is the one hash was made from.
func PasswordMatches(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// NewPassword returns a random password for a person who has none: 20
// characters of base64url, about 120 bits.
func NewPassword() string { return RandomToken(15) }
