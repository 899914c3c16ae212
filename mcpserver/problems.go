package mcpserver

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/orgscope/orgscope/internal/problem"
)

// plainErrorsAsProblems turns the plain-text errors that net/http's mux
// and the go-sdk write (404, 405, 415 for a wrong Content-Type, 400 for a
// bad Accept, …) into RFC 9457 problem documents with the same status, so
// that every refusal a client sees is machine-readable. Answers that are
// not text/plain errors — JSON-RPC errors included — pass untouched.
func plainErrorsAsProblems(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pw := &plainErrorWriter{ResponseWriter: w}
		next.ServeHTTP(pw, r)
		if pw.status == 0 {
			return
		}
		detail := strings.TrimSpace(pw.body.String())
		if pw.status == http.StatusNotFound {
			detail = "no such endpoint; the MCP endpoint is " + MCPPath
		}
		problem.Error(w, pw.status, detail)
	})
}

// plainErrorWriter holds back a text/plain error answer.
type plainErrorWriter struct {
	http.ResponseWriter
	status  int // set when an error is being held back
	written bool
	body    bytes.Buffer
}

func (w *plainErrorWriter) WriteHeader(code int) {
	if w.written {
		return
	}
	w.written = true
	if code >= 400 && strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		w.status = code
		w.Header().Del("Content-Type")
		w.Header().Del("Content-Length")
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *plainErrorWriter) Write(b []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	if w.status != 0 {
		return w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (w *plainErrorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush keeps streaming answers streaming.
func (w *plainErrorWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok && w.status == 0 {
		f.Flush()
	}
}
