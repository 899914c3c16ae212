package mcpserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/orgscope/orgscope/internal/problem"
	"github.com/orgscope/orgscope/internal/request"
	"github.com/orgscope/orgscope/telemetry"
)

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	if rec := request.From(ctx); rec != nil {
		return rec.ID
	}
	return ""
}

// maxLogLinesPerRequest bounds what one request may write to the log,
// besides its access line: a batch of ten thousand bad notifications must
// not become ten thousand error lines.
const maxLogLinesPerRequest = 8

// LogHandler wraps h so that every record logged with a request's context
// carries its request_id, and one request writes at most a few lines.
func LogHandler(h slog.Handler) slog.Handler { return requestIDHandler{h} }

type requestIDHandler struct{ slog.Handler }

type accessLineKey struct{}

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	rec := request.From(ctx)
	if rec == nil {
		return h.Handler.Handle(ctx, r)
	}
	if ctx.Value(accessLineKey{}) == nil {
		switch n := rec.CountLogLine(); {
		case n == maxLogLinesPerRequest+1:
			r = slog.NewRecord(r.Time, slog.LevelWarn, "further log lines of this request are suppressed", r.PC)
		case n > maxLogLinesPerRequest:
			return nil
		}
	}
	r.AddAttrs(slog.String("request_id", rec.ID))
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush keeps streaming responses working through the recorder.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// observe makes the request's record (with an id: a sane X-Request-Id
// from the client, or a new one; and the trace id of a traceparent),
// recovers panics into a 500 problem, and when the request is done logs
// its access line and counts it — both from the record, so that the log,
// the audit trail and the metrics tell the same story.
func observe(logger *slog.Logger, m *telemetry.Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !saneRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		rec := &request.Record{ID: id, Start: time.Now(), TraceID: traceIDFromParent(r.Header.Get("Traceparent"))}
		if sc := trace.SpanContextFromContext(r.Context()); sc.IsValid() {
			rec.TraceID = sc.TraceID().String() // the request's own trace, when it is traced
		}
		ctx := request.With(r.Context(), rec)
		sw := &statusRecorder{ResponseWriter: w}

		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logger.ErrorContext(ctx, "panic serving request", "panic", v, "stack", string(debug.Stack()))
				if sw.status == 0 {
					problem.Error(sw, http.StatusInternalServerError, "internal error; the request id identifies it in the server log")
				}
			}
			accessLog(context.WithValue(ctx, accessLineKey{}, true), logger, m, r, rec, sw)
		}()
		next.ServeHTTP(sw, r.WithContext(ctx))
	})
}

// accessLog writes the request's one access line and counts it.
func accessLog(ctx context.Context, logger *slog.Logger, m *telemetry.Metrics, r *http.Request, rec *request.Record, sw *statusRecorder) {
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	elapsed := time.Since(rec.Start)
	count(m, r, rec, status, sw.Header(), elapsed)
	attrs := []any{"method", r.Method, "path", r.URL.Path, "status", status,
		"duration_ms", float64(elapsed.Microseconds()) / 1000, "bytes", sw.bytes}
	if rec.TraceID != "" {
		attrs = append(attrs, "trace_id", rec.TraceID)
	}
	outcomes := rec.Outcomes()
	if p := rec.Principal(); p != nil {
		org := p.OrgCode
		if org == "" && len(outcomes) > 0 {
			org = outcomes[0].Org // a global principal acting on an org logs that org
		}
		attrs = append(attrs, "client_id", p.ClientID, "org_code", org)
	}
	var tools []string
	for _, c := range rec.Calls {
		if c.Method == "tools/call" {
			tools = append(tools, c.Tool)
		}
	}
	switch {
	case len(tools) == 1:
		attrs = append(attrs, "tool", tools[0])
	case len(tools) > 1:
		attrs = append(attrs, "tools", tools)
	}
	if len(rec.Calls) > 1 {
		attrs = append(attrs, "calls", len(rec.Calls))
	}
	for _, o := range outcomes {
		if o.Decision == "deny" {
			attrs = append(attrs, "decision", "deny", "reason", o.Reason)
			break
		}
	}
	logger.InfoContext(ctx, "request", attrs...)
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// atLeast drops records below min: the go-sdk logs every stateless
// request's ephemeral session at INFO, which would double the access log.
func atLeast(min slog.Level, h slog.Handler) slog.Handler { return levelFloor{h, min} }

type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (h levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelFloor) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelFloor{h.Handler.WithAttrs(attrs), h.min}
}

func (h levelFloor) WithGroup(name string) slog.Handler {
	return levelFloor{h.Handler.WithGroup(name), h.min}
}
