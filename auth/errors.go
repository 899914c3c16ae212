package auth

import (
	"errors"
	"fmt"

	mcpauth "github.com/modelcontextprotocol/go-sdk/auth"
)

// ErrInvalidToken is wrapped by every refusal of a token: the token is
// malformed, forged, expired, for another resource or from an untrusted
// issuer. It wraps the go-sdk's ErrInvalidToken so SDK code maps it to 401.
var ErrInvalidToken = fmt.Errorf("auth: %w", mcpauth.ErrInvalidToken)

// ErrUnavailable is wrapped when a token cannot be judged because something
// it depends on (a JWKS endpoint, an introspection endpoint) is down. The
// middleware answers 503 with Retry-After, never 401: the token may be fine.
var ErrUnavailable = errors.New("auth: token verification unavailable")

// TokenError is a refused token. Description is safe to send to the client
// (it names the rule the token broke); Err is the detail, for logs only.
// Neither ever contains the token.
type TokenError struct {
	Description string
	Err         error
}

func (e *TokenError) Error() string {
	if e.Err == nil {
		return "invalid token: " + e.Description
	}
	return "invalid token: " + e.Description + ": " + e.Err.Error()
}

// Unwrap lets errors.Is find ErrInvalidToken and the underlying cause.
func (e *TokenError) Unwrap() []error { return []error{ErrInvalidToken, e.Err} }

func invalid(description string, cause error) error {
	return &TokenError{Description: description, Err: cause}
}

// Safe descriptions of why a token was refused (RFC 6750 error_description).
const (
	reasonMalformed      = "the access token is malformed"
	reasonSignature      = "the access token signature is not valid"
	reasonAlgorithm      = "the access token is signed with an algorithm that is not allowed"
	reasonExpired        = "the access token has expired"
	reasonNotYetValid    = "the access token is not valid yet"
	reasonIssuedInFuture = "the access token was issued in the future (iat is later than now)"
	reasonNumericDate    = "the access token's exp, nbf and iat must be JSON numbers"
	reasonMissingClaim   = "the access token lacks a claim its issuer always sets: "
	reasonOrgCode        = "the access token names its organization with a code that is not valid (" + orgCodeRule + ")"
	reasonIssuer         = "the access token was issued by an issuer this server does not trust"
	reasonAudience       = "the access token was not issued for this resource (audience mismatch)"
	reasonType           = "the token is not an OAuth access token (JWT typ must be at+jwt)"
	reasonNoTenant       = "the access token names no organization and this issuer may not issue global tokens"
	reasonInactive       = "the access token is not active"
	reasonRevoked        = "the access token has been revoked"
	reasonActor          = "the access token's act claim is not valid (RFC 8693: nested objects naming sub or client_id, at most 8 deep)"
	reasonMayAct         = "the access token's actor is not the one its may_act claim allows"
	reasonPurpose        = "the access token's purpose claim is not valid (one line of text, at most 256 bytes)"
)
