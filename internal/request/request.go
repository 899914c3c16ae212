package request

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orgscope/orgscope/auth"
)

// Record is what is known of one request. The fields set before the
// request is dispatched (ID, TraceID, Start, Calls) are read-only after;
// the rest is written through methods, safely from concurrent calls of a
// batch.
type Record struct {
	// ID is the request id the logs carry (X-Request-Id).
	ID string
	// TraceID is the W3C trace id of an incoming traceparent, or "".
	TraceID string
	Start   time.Time
	// Calls are the JSON-RPC messages of the body, as read once.
	Calls []Call

	mu        sync.Mutex
	principal *auth.Principal
	outcomes  []Outcome

	unavailable atomic.Bool
	logLines    atomic.Int32
}

// Call is one JSON-RPC message of the body.
type Call struct {
	// ID is the JSON-RPC id as text: a string id unquoted, a number as
	// sent; "" for a notification.
	ID     string
	Method string
	// Tool is the tool a tools/call names.
	Tool string
	// Arguments are the tool's arguments, raw, as the body holds them.
	Arguments []byte
}

// Outcome is what became of one tool call, as the tool reports it.
type Outcome struct {
	Tool string
	// Org is the organization acted on ("" for platform-wide actions).
	Org      string
	Decision string // allow or deny
	Reason   string
	Result   string // ok or error
}

type ctxKey struct{}

// With returns ctx carrying rec.
func With(ctx context.Context, rec *Record) context.Context {
	return context.WithValue(ctx, ctxKey{}, rec)
}

// From returns the record of the request ctx belongs to, or nil (a CLI
// command, a test calling a tool directly).
func From(ctx context.Context) *Record {
	rec, _ := ctx.Value(ctxKey{}).(*Record)
	return rec
}

// SetPrincipal records who the request was authenticated as.
func (r *Record) SetPrincipal(p *auth.Principal) {
	r.mu.Lock()
	r.principal = p
	r.mu.Unlock()
}

// Principal returns who the request was authenticated as, or nil.
func (r *Record) Principal() *auth.Principal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.principal
}

// Report adds the outcome of a tool call.
func (r *Record) Report(o Outcome) {
	r.mu.Lock()
	r.outcomes = append(r.outcomes, o)
	r.mu.Unlock()
}

// Outcomes returns the outcomes reported so far.
func (r *Record) Outcomes() []Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.outcomes)
}

// CallsTool reports whether the body calls tool (a tools/call naming it).
func (r *Record) CallsTool(tool string) bool {
	for _, c := range r.Calls {
		if c.Method == "tools/call" && c.Tool == tool {
			return true
		}
	}
	return false
}

// MarkUnavailable notes that a store the request needed was unreachable;
// the HTTP layer then answers 503 with Retry-After instead of a tool error.
func (r *Record) MarkUnavailable() { r.unavailable.Store(true) }

// Unavailable reports whether MarkUnavailable was called.
func (r *Record) Unavailable() bool { return r.unavailable.Load() }

// CountLogLine counts a log line written for the request and returns how
// many there are now, so that a logger can bound them.
func (r *Record) CountLogLine() int32 { return r.logLines.Add(1) }
