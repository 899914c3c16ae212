package authserver

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// oauthError is an RFC 6749 §5.2 error response (and, at the registration
// endpoint, an RFC 7591 §3.2.2 one: the same two members).
type oauthError struct {
	status      int
	code        string
	description string
	// basicChallenge adds WWW-Authenticate: Basic, required by §5.2 when
	// the client tried to authenticate with the Authorization header.
	basicChallenge bool
	retryAfter     int
	// allow is the Allow header of a 405.
	allow string
}

func (e *oauthError) Error() string { return e.code + ": " + e.description }

func errInvalidRequest(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_request", description: desc}
}

func errInvalidClient(basic bool) *oauthError {
	// One message for an unknown client and a wrong secret: the response
	// must not tell an attacker which client ids exist.
	return &oauthError{status: http.StatusUnauthorized, code: "invalid_client",
		description: "client authentication failed", basicChallenge: basic}
}

func errUnauthorizedClient(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "unauthorized_client", description: desc}
}

func errInvalidGrant(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_grant", description: desc}
}

func errInvalidScope(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_scope", description: desc}
}

func errInvalidTarget(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_target", description: desc}
}

func errUnsupportedGrant(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type", description: desc}
}

func errUnavailable() *oauthError {
	return &oauthError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable",
		description: "the authorization server cannot reach its database; retry shortly", retryAfter: 5}
}

func errServer() *oauthError {
	return &oauthError{status: http.StatusInternalServerError, code: "server_error",
		description: "the authorization server failed to process the request"}
}

// errMethod is a 405 naming the methods the endpoint accepts.
func errMethod(allow string) *oauthError {
	return &oauthError{status: http.StatusMethodNotAllowed, code: "invalid_request", allow: allow,
		description: "this endpoint accepts " + allow + " only"}
}

// errTooMany is a 429: OAuth defines no code for it, so it borrows
// temporarily_unavailable, and Retry-After says when to come back.
func errTooMany(wait time.Duration, what string) *oauthError {
	secs := retryAfterSeconds(wait)
	return &oauthError{status: http.StatusTooManyRequests, code: "temporarily_unavailable", retryAfter: secs,
		description: what + "; retry after " + strconv.Itoa(secs) + " s"}
}

// retryAfterSeconds rounds a wait up to whole seconds, at least one.
func retryAfterSeconds(wait time.Duration) int {
	return max(1, int((wait+time.Second-1)/time.Second))
}

// writeJSON sends v with the headers every token-endpoint answer needs.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeOAuthError is the one writer of OAuth error bodies: whatever a
// refusal says, error and error_description leave here restricted to the
// characters RFC 6749 §5.2 allows.
func writeOAuthError(w http.ResponseWriter, e *oauthError) {
	if e.basicChallenge {
		w.Header().Set("WWW-Authenticate", `Basic realm="orgscope", charset="UTF-8"`)
	}
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	if e.allow != "" {
		w.Header().Set("Allow", e.allow)
	}
	writeJSON(w, e.status, map[string]string{"error": oauthText(e.code), "error_description": oauthText(e.description)})
}

// oauthText keeps only the characters RFC 6749 §5.2 allows in error and
// error_description (%x20-21 / %x23-5B / %x5D-7E): a double quote becomes
// a single one, a backslash a slash, anything else outside the set (control
// characters, non-ASCII) a question mark.
func oauthText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r == '\\':
			return '/'
		case r >= 0x20 && r <= 0x7E:
			return r
		}
		return '?'
	}, s)
}

// writeJSONBody sends v as JSON with the headers already set on w.
func writeJSONBody(w http.ResponseWriter, v any) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	json.NewEncoder(w).Encode(v)
}
