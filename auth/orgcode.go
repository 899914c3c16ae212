package auth

import (
	"errors"
	"fmt"
)

// MaxOrgCodeLength is the longest organization code CheckOrgCode accepts.
const MaxOrgCodeLength = 64

// OrgCodePattern is CheckOrgCode's rule as a regular expression (RE2 and
// ECMA-262 alike), for JSON Schemas that describe an org_code argument. The
// function remains the rule; a test keeps the two in agreement.
const OrgCodePattern = `^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`

// ErrInvalidOrgCode is wrapped by every error of CheckOrgCode.
var ErrInvalidOrgCode = errors.New("invalid organization code")

// orgCodeRule is the rule in words, repeated in every refusal so that the
// reader learns what would be accepted.
const orgCodeRule = "an organization code has 1 to 64 characters: ASCII letters, digits, '_', '-' and '.', " +
	"starting with a letter or digit"

// CheckOrgCode reports whether code can name an organization: 1 to 64 characters, ASCII letters, digits,
// '_', '-' and '.', starting with a letter or digit — what Kinde (org_1a2b), Auth0 (org_AbC12), Clerk
// (org_2Nc…), WorkOS (org_01H…) and Entra ID (tenant GUIDs) issue. The error says what is wrong, the same
// words for every way in.
//
// Codes are case-sensitive and compared byte for byte: Auth0's org_AbC12
// and org_abc12 are different organizations, so nothing here folds case.
// The error wraps ErrInvalidOrgCode and never repeats the code, so it is
// safe to show to whoever sent it and to log.
func CheckOrgCode(code string) error {
	problem := ""
	if code == "" {
		problem = "it is empty"
	} else if !isAlnum(code[0]) {
		problem = "its first character is not an ASCII letter or digit"
	} else {
		n := 0 // characters, not bytes: the position reported is the reader's
		for _, r := range code {
			n++
			if r > 0x7f || !isOrgCodeByte(byte(r)) {
				problem = fmt.Sprintf("character %d is not allowed", n)
				break
			}
		}
		if problem == "" && len(code) > MaxOrgCodeLength {
			problem = fmt.Sprintf("it has %d characters", len(code))
		}
	}
	if problem == "" {
		return nil
	}
	return fmt.Errorf("%w: %s; %s", ErrInvalidOrgCode, problem, orgCodeRule)
}

func isOrgCodeByte(c byte) bool {
	return isAlnum(c) || c == '_' || c == '-' || c == '.'
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
