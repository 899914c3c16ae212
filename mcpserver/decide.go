package mcpserver

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
)

// DenialRecorder records a refusal the HTTP layer makes itself (a 403
// before dispatch) in the audit trail. The service layer implements it.
type DenialRecorder interface {
	RecordDenial(ctx context.Context, p *auth.Principal, action string, arguments []byte, d authz.Decision)
}

// firstModernVersion is the protocol version from which clients take the
// union of old and new scopes themselves on step-up (SEP-2350).
const firstModernVersion = "2026-07-28"

// decide asks the decision point about every tool the request calls,
// before anything is dispatched. A call the principal's scopes do not
// cover is refused with 403 insufficient_scope naming every scope the
// request's operations need, so the client can step up in one consent;
// other denials (a policy, a global-only tool, another tenant) need the
// organization and arguments and are decided again by the service, which
// answers them with a tool error.
func decide(az authz.Authorizer, metadataURL string, denials DenialRecorder, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		rec := recordOf(ctx)
		p := rec.Principal()
		var needed, missing []string
		for _, c := range rec.Calls {
			a, ok := authz.Lookup(c.Tool)
			if c.Method != "tools/call" || !ok {
				continue // the go-sdk answers unknown tools and other methods
			}
			d := az.Authorize(ctx, authz.Request{Principal: p, Action: a, Stage: authz.StageRequest})
			if d.Allow || len(d.Missing) == 0 {
				continue
			}
			if denials != nil {
				denials.RecordDenial(ctx, p, a.Name, c.Arguments, d)
			}
			needed = union(needed, a.Scopes)
			missing = union(missing, d.Missing)
		}
		if len(missing) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		challenged := needed
		if legacyProtocol(r) {
			// 2025-11-25 asks servers for the scopes needed and those
			// already granted: its clients replace their scopes with the
			// challenge's rather than adding to them.
			challenged = union(p.Scopes, needed)
		}
		auth.InsufficientScope(w, metadataURL, challenged,
			"This operation needs scope "+strings.Join(needed, " ")+"; the access token lacks "+
				strings.Join(missing, " ")+".")
	})
}

// legacyProtocol reports whether the request speaks a protocol version
// before 2026-07-28 (absent means 2025-03-26 or older).
func legacyProtocol(r *http.Request) bool {
	v := r.Header.Get("Mcp-Protocol-Version")
	return v == "" || v < firstModernVersion
}

// union returns a followed by the elements of b it lacks.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
