package mcpserver

import (
	"net/http"

	"github.com/orgscope/orgscope/internal/problem"
	"github.com/orgscope/orgscope/internal/request"
)

// answerOutages marks every answer of /mcp uncacheable, and answers a call
// whose tool found the database unreachable
// with 503 and Retry-After instead of the tool error the go-sdk would send
// in a 200: the client should retry, not tell its user the call failed.
// Nothing is buffered: the go-sdk writes its answer after the tool returns,
// so the choice is made when the answer starts, and streams (a
// subscriptions/listen acknowledgement) flow as they are written.
func answerOutages(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&outageWriter{ResponseWriter: w, rec: recordOf(r.Context())}, r)
	})
}

// outageWriter decides at the first WriteHeader or Write.
type outageWriter struct {
	http.ResponseWriter
	rec     *request.Record
	started bool
	down    bool
}

func (w *outageWriter) start(code int) {
	if w.started {
		return
	}
	w.started = true
	if w.rec.Unavailable() {
		w.down = true
		h := w.ResponseWriter.Header()
		h.Del("Content-Length")
		h.Del("Content-Type")
		h.Set("Retry-After", "5")
		problem.Error(w.ResponseWriter, http.StatusServiceUnavailable, "the database is unavailable; nothing was done, retry shortly")
		return
	}
	// Every answer depends on the token: no shared cache may keep one
	// (the go-sdk sets a Cache-Control of its own).
	w.ResponseWriter.Header().Set("Cache-Control", "no-store")
	w.ResponseWriter.Header().Add("Vary", "Authorization")
	w.ResponseWriter.WriteHeader(code)
}

func (w *outageWriter) WriteHeader(code int) { w.start(code) }

func (w *outageWriter) Write(p []byte) (int, error) {
	w.start(http.StatusOK)
	if w.down {
		return len(p), nil // the go-sdk's answer is replaced
	}
	return w.ResponseWriter.Write(p)
}

func (w *outageWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *outageWriter) Flush() {
	if w.down {
		return
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		w.start(http.StatusOK)
		f.Flush()
	}
}
