package tools_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/sqlite"
	"github.com/orgscope/orgscope/tools"
)

// env is the real tools over a real SQLite store. Each principal talks to
// them through its own in-memory MCP session, so a call goes through the
// go-sdk's schema validation and then straight to the handler: the HTTP
// layer (and its 403) is not in the way, which is what lets these tests
// reach the handlers' own scope and tenant checks.
type env struct {
	t        *testing.T // where failures are reported (see with)
	root     *testing.T // owns the store and the sessions
	st       *sqlite.Store
	svc      *service.Service
	sessions map[*auth.Principal]*mcp.ClientSession
	// cutoffs are what the service told its CutOff hook.
	cutoffs *cutoffLog
}

// cutoffLog collects the cutoffs the service reports.
type cutoffLog struct {
	mu   sync.Mutex
	list []store.ClientCutoff
}

func (l *cutoffLog) add(c store.ClientCutoff) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, c)
}

func (l *cutoffLog) all() []store.ClientCutoff {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.list)
}

// Seeded records: two orgs with two users each, four flags (one of each
// type) and one override in acme.
const (
	acme = "org_acme"
	beta = "org_beta"
)

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tools.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cutoffs := &cutoffLog{}
	svc := service.New(service.Options{Store: st, CutOff: cutoffs.add})
	t.Cleanup(svc.Close)
	e := &env{t: t, root: t, st: st, svc: svc, sessions: map[*auth.Principal]*mcp.ClientSession{}, cutoffs: cutoffs}
	for _, o := range []store.Org{
		{Code: acme, Name: "Acme Corp", Properties: map[string]string{"plan": "enterprise", "region": "eu"}},
		{Code: beta, Name: "Beta Inc", Properties: map[string]string{"plan": "team"}},
	} {
		if _, err := st.CreateOrg(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []store.FlagDefinition{
		{Key: "dark_mode", Type: store.FlagBoolean, DefaultValue: json.RawMessage(`false`), Description: "Dark theme."},
		{Key: "max_seats", Type: store.FlagInteger, DefaultValue: json.RawMessage(`10`)},
		{Key: "theme", Type: store.FlagString, DefaultValue: json.RawMessage(`"classic"`)},
		{Key: "onboarding", Type: store.FlagJSON, DefaultValue: json.RawMessage(`{"steps":3}`)},
	} {
		if _, err := st.CreateFlag(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.SetFlagOverride(ctx, acme, "max_seats", json.RawMessage(`50`)); err != nil {
		t.Fatal(err)
	}
	return e
}

// with returns the env reporting to t, for subtests.
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// addUser stores a user directly (not through a tool, so no audit event).
func (e *env) addUser(org, email string) store.User {
	e.t.Helper()
	u, err := e.st.CreateUser(e.t.Context(), store.User{
		ID: store.NewID(store.UserIDPrefix), OrgCode: org, Email: email,
		GivenName: "Given", FamilyName: "Family", Status: store.UserActive, Role: store.RoleMember,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

var principalSeq atomic.Int64

// orgP returns an org-scoped principal of org with the given scopes; each
// has a subject and client id of its own.
func orgP(org string, scopes ...string) *auth.Principal {
	n := fmt.Sprintf("agent-%d", principalSeq.Add(1))
	return &auth.Principal{
		Issuer: "https://issuer.test", Subject: n, ClientID: n, OrgCode: org, Scopes: scopes,
		TokenID: "jti-" + n, GrantType: "client_credentials", IssuedAt: time.Now(), Expiry: time.Now().Add(time.Hour),
	}
}

// globalP returns a global (administration) principal.
func globalP(scopes ...string) *auth.Principal { return orgP("", scopes...) }

// all is every scope.
var all = auth.AllScopes

// session returns a client connected to a server with every tool
// registered, whose calls all carry p (nil: no principal at all).
func (e *env) session(p *auth.Principal) *mcp.ClientSession {
	e.t.Helper()
	if cs, ok := e.sessions[p]; ok {
		return cs
	}
	ctx := context.Background()
	server := mcp.NewServer(&mcp.Implementation{Name: "orgscope-test", Version: "test"}, nil)
	tools.Register(server, tools.Options{Service: e.svc})
	server.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if call, ok := req.(*mcp.CallToolRequest); ok && p != nil {
				call.Extra = &mcp.RequestExtra{TokenInfo: p.TokenInfo()}
			}
			return next(ctx, method, req)
		}
	})
	ct, st := mcp.NewInMemoryTransports()
	ss, err := server.Connect(ctx, st, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "test"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	e.root.Cleanup(func() { cs.Close(); ss.Wait() })
	e.sessions[p] = cs
	return cs
}

// result is a decoded tool result.
type result struct {
	isError bool
	text    string
	raw     json.RawMessage // structured content
}

// call calls a tool as p and fails the test on a protocol error (a tool
// error is a normal answer).
func (e *env) call(p *auth.Principal, tool string, args any) result {
	e.t.Helper()
	return call(e.t, e.session(p), tool, args)
}

func call(t *testing.T, cs *mcp.ClientSession, tool string, args any) result {
	t.Helper()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s %v: protocol error: %v", tool, args, err)
	}
	var r result
	r.isError = res.IsError
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			r.text += tc.Text
		}
	}
	if res.StructuredContent != nil {
		r.raw, _ = json.Marshal(res.StructuredContent)
	}
	return r
}

// ok calls a tool, requires success and decodes the structured result.
func ok[T any](e *env, p *auth.Principal, tool string, args any) T {
	e.t.Helper()
	r := e.call(p, tool, args)
	if r.isError {
		e.t.Fatalf("%s %v: tool error: %s", tool, args, r.text)
	}
	var out T
	if err := json.Unmarshal(r.raw, &out); err != nil {
		e.t.Fatalf("%s: decode %s: %v", tool, r.raw, err)
	}
	return out
}

// fails calls a tool and requires a tool error whose text contains every
// one of want.
func (e *env) fails(p *auth.Principal, tool string, args any, want ...string) string {
	e.t.Helper()
	r := e.call(p, tool, args)
	if !r.isError {
		e.t.Fatalf("%s %v: succeeded (%s), want an error containing %q", tool, args, r.raw, want)
	}
	if r.raw != nil {
		e.t.Errorf("%s: an error result carries structured content %s", tool, r.raw)
	}
	for _, w := range want {
		if !strings.Contains(r.text, w) {
			e.t.Errorf("%s %v: error %q does not contain %q", tool, args, r.text, w)
		}
	}
	return r.text
}

// dump renders everything the tools can change, to prove a refused call
// changed nothing (but the audit trail, which records the refusal).
func (e *env) dump() string {
	e.t.Helper()
	ctx := e.t.Context()
	var b strings.Builder
	orgs, _, err := e.st.ListOrgs(ctx, store.Page{Limit: store.MaxPageSize})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, o := range orgs {
		fmt.Fprintf(&b, "org %+v\n", o)
		users, _, err := e.st.ListUsers(ctx, o.Code, store.UserFilter{}, store.Page{Limit: store.MaxPageSize})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, u := range users {
			fmt.Fprintf(&b, "  user %+v\n", u)
		}
		flags, _, err := e.st.ListEffectiveFlags(ctx, o.Code, store.Page{Limit: store.MaxPageSize})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, f := range flags {
			fmt.Fprintf(&b, "  flag %s %s %s default=%s override=%v\n", f.Definition.Key, f.Definition.Type, f.Value(), f.Definition.DefaultValue, f.Override != nil)
		}
		// Audit events are left out: a refusal changes nothing, and is
		// recorded (see the audit tests).
	}
	clients, _, err := e.st.ListClients(ctx, store.ClientFilter{}, store.Page{Limit: store.MaxPageSize})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range clients {
		fmt.Fprintf(&b, "client %+v\n", c)
	}
	grants, _, err := e.st.ListGrants(ctx, "", store.GrantFilter{IncludeRevoked: true}, store.Page{Limit: store.MaxPageSize})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, g := range grants {
		fmt.Fprintf(&b, "grant %+v\n", g)
	}
	cutoffs, err := e.st.ClientCutoffsSince(ctx, time.Time{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range cutoffs {
		fmt.Fprintf(&b, "cutoff %+v\n", c)
	}
	return b.String()
}

// unchanged fails the test if the store differs from before.
func (e *env) unchanged(before, what string) {
	e.t.Helper()
	if after := e.dump(); after != before {
		e.t.Errorf("%s changed the store:\nbefore:\n%s\nafter:\n%s", what, before, after)
	}
}

// events returns the org's audit events, newest first, from the store.
func (e *env) events(org string) []store.AuditEvent {
	e.t.Helper()
	evs, _, err := e.st.ListAuditEvents(e.t.Context(), org, store.AuditFilter{}, store.Page{Limit: store.MaxPageSize})
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

// lastEvent requires that the newest audit event of org records action on
// target by p.
func (e *env) lastEvent(org string, p *auth.Principal, action, target string) {
	e.t.Helper()
	evs := e.events(org)
	if len(evs) == 0 {
		e.t.Fatalf("no audit event in %q, want %s %s", org, action, target)
	}
	ev := evs[0]
	if ev.OrgCode != org || ev.Action != "tools/call:"+action || ev.Decision != "allow" || ev.Target != target || ev.Subject != p.Subject ||
		ev.ClientID != p.ClientID || ev.Outcome != "ok" || !strings.HasPrefix(ev.ID, store.EventIDPrefix) ||
		time.Since(ev.Time) > time.Minute || time.Since(ev.Time) < -time.Second {
		e.t.Errorf("newest event of %q = %+v, want %s %s by %s", org, ev, action, target, p.Subject)
	}
}
