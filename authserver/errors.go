package authserver

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// oauthError is an RFC 6749 §5.2 error response.
type oauthError struct {
	status      int
	code        string
	description string
	// basicChallenge adds WWW-Authenticate: Basic, required by §5.2 when
	// the client tried to authenticate with the Authorization header.
	basicChallenge bool
	retryAfter     int
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

// writeJSON sends v with the headers every token-endpoint answer needs.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeOAuthError(w http.ResponseWriter, e *oauthError) {
	if e.basicChallenge {
		w.Header().Set("WWW-Authenticate", `Basic realm="orgscope", charset="UTF-8"`)
	}
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	writeJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.description})
}

// writeJSONBody sends v as JSON with the headers already set on w.
func writeJSONBody(w http.ResponseWriter, v any) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	json.NewEncoder(w).Encode(v)
}
