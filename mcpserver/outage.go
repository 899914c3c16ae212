package mcpserver

import (
	"bytes"
	"net/http"
	"sync/atomic"

	"github.com/orgscope/orgscope/internal/problem"
	"github.com/orgscope/orgscope/tools"
)

// outageAware answers a call whose tool found the database unreachable
// with 503 and Retry-After instead of the tool error the go-sdk would
// send in a 200: the client should retry, not tell its user the call
// failed. The go-sdk's answer is buffered to make that possible; with JSON
// responses it is one small document.
func outageAware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var down atomic.Bool
		ctx := tools.WithUnavailableNotice(r.Context(), func() { down.Store(true) })
		buf := &bufferedResponse{header: http.Header{}}
		next.ServeHTTP(buf, r.WithContext(ctx))
		if down.Load() {
			w.Header().Set("Retry-After", "5")
			problem.Error(w, http.StatusServiceUnavailable, "the database is unavailable; nothing was done, retry shortly")
			return
		}
		for k, v := range buf.header {
			w.Header()[k] = v
		}
		if buf.status == 0 {
			buf.status = http.StatusOK
		}
		w.WriteHeader(buf.status)
		w.Write(buf.body.Bytes())
	})
}

// bufferedResponse holds an answer until the handler is done.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// Flush is a no-op: the answer is sent whole when the handler returns.
func (b *bufferedResponse) Flush() {}
