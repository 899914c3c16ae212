package problem

import (
	"encoding/json"
	"net/http"
)

// ContentType is the media type of a problem document.
const ContentType = "application/problem+json"

// Details is one problem document. Type defaults to "about:blank" and Title
// to the status text, as RFC 9457 §4.2.1 prescribes for that type. Extra
// members (for example the OAuth "error" code) are merged in at the top level.
type Details struct {
	Type   string
	Title  string
	Status int
	Detail string
	Extra  map[string]any
}

// MarshalJSON flattens the extension members next to the standard ones.
func (d Details) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, 4+len(d.Extra))
	for k, v := range d.Extra {
		m[k] = v
	}
	m["type"] = d.Type
	if d.Type == "" {
		m["type"] = "about:blank"
	}
	m["title"] = d.Title
	if d.Title == "" {
		m["title"] = http.StatusText(d.Status)
	}
	m["status"] = d.Status
	if d.Detail != "" {
		m["detail"] = d.Detail
	}
	return json.Marshal(m)
}

// Write sends d with its status code. Headers already set on w (for example
// WWW-Authenticate or Retry-After) are kept.
func Write(w http.ResponseWriter, d Details) {
	body, err := json.Marshal(d)
	if err != nil { // only non-marshalable Extra values; a programming error
		body = []byte(`{"type":"about:blank","status":500}`)
		d.Status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(d.Status)
	w.Write(append(body, '\n'))
}

// Error is a shorthand for Write with a status and a detail message.
func Error(w http.ResponseWriter, status int, detail string) {
	Write(w, Details{Status: status, Detail: detail})
}
