package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"

	"github.com/orgscope/orgscope/store"
)

// elicitation is a URL-mode elicitation the go-sdk client received, handed
// to the test, which answers it.
type elicitation struct {
	params *mcp.ElicitParams
	answer chan string
}

// elicitingAgent is a go-sdk client that declares URL-mode elicitation and
// hands every elicitation it receives to the test.
type elicitingAgent struct {
	t       *testing.T
	session *mcp.ClientSession
	asks    chan elicitation
}

func newElicitingAgent(t *testing.T, s *testServer, token, version string, mrtr *mcp.MultiRoundTripOptions) *elicitingAgent {
	t.Helper()
	a := &elicitingAgent{t: t, asks: make(chan elicitation)}
	client := mcp.NewClient(&mcp.Implementation{Name: "eliciting agent", Version: "1"}, &mcp.ClientOptions{
		Capabilities:   &mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapabilities{URL: &mcp.URLElicitationCapabilities{}}},
		MultiRoundTrip: mrtr,
		ElicitationHandler: func(ctx context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			e := elicitation{params: req.Params, answer: make(chan string, 1)}
			select {
			case a.asks <- e:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			select {
			case action := <-e.answer:
				return &mcp.ElicitResult{Action: action}, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		},
	})
	httpClient := oauth2.NewClient(t.Context(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}))
	session, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: s.Resource, HTTPClient: httpClient},
		&mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("connect at %s: %v", version, err)
	}
	t.Cleanup(func() { session.Close() })
	a.session = session
	return a
}

type callOutcome struct {
	res *mcp.CallToolResult
	err error
}

// call starts a tool call; the test answers its elicitations with next.
func (a *elicitingAgent) call(params *mcp.CallToolParams) <-chan callOutcome {
	done := make(chan callOutcome, 1)
	go func() {
		res, err := a.session.CallTool(a.t.Context(), params)
		done <- callOutcome{res, err}
	}()
	return done
}

// next is the call's next elicitation; the call must not end first.
func (a *elicitingAgent) next(done <-chan callOutcome) elicitation {
	a.t.Helper()
	select {
	case e := <-a.asks:
		return e
	case o := <-done:
		a.t.Fatalf("the call ended without an elicitation: %v %s", o.err, resultText(o.res))
	}
	panic("unreachable")
}

// settle is the call's answer; it must ask nothing more.
func (a *elicitingAgent) settle(done <-chan callOutcome) *mcp.CallToolResult {
	a.t.Helper()
	select {
	case e := <-a.asks:
		e.answer <- "cancel"
		a.t.Fatalf("an unexpected elicitation: %+v", e.params)
	case o := <-done:
		if o.err != nil {
			a.t.Fatalf("the call failed: %v", o.err)
		}
		return o.res
	}
	panic("unreachable")
}

func resultText(r *mcp.CallToolResult) string {
	if r == nil || len(r.Content) == 0 {
		return ""
	}
	if tc, ok := r.Content[0].(*mcp.TextContent); ok {
		return tc.Text
	}
	return ""
}

// metaApproval is the _meta "orgscope/approval" of a result.
func metaApproval(t *testing.T, r *mcp.CallToolResult) *ticket {
	t.Helper()
	v, ok := r.Meta["orgscope/approval"]
	if !ok {
		return nil
	}
	b, _ := json.Marshal(v)
	var tk ticket
	if err := json.Unmarshal(b, &tk); err != nil {
		t.Fatalf("_meta orgscope/approval: %v", err)
	}
	return &tk
}

// TestApprovalElicitation: a go-sdk client at protocol 2026-07-28 that
// declares URL-mode elicitation is asked to open the approval page
// (input_required) instead of being refused; while the person has not
// decided it is asked again; once an administrator approves on the page
// the call runs once, recorded with its approval; a replay of the
// requestState is refused; a declined elicitation runs nothing; a
// 2025-11-25 client, and a 2026-07-28 client without URL elicitation, get
// the tool error with _meta as before.
func TestApprovalElicitation(t *testing.T) {
	s := startWithPolicy(t, approvalPolicy(t), -1, &syncBuffer{})
	ada := s.Users["ada@acme.example"]
	token := agentFor(t, s, ada, "read:users write:users delete:users")
	st := s.openStore(t)
	victims := createTempUsers(t, s, token)
	del := func(i int) *mcp.CallToolParams {
		return &mcp.CallToolParams{Name: "delete_user", Arguments: map[string]any{"user_id": victims[i]}}
	}
	agent := newElicitingAgent(t, s, token, "2026-07-28", nil)
	admin := newHTTPBrowser(t)

	// 1. The client is asked to open the approval page; accepting before
	// the person has decided asks again, for the same approval; once the
	// administrator has approved, the call runs.
	done := agent.call(del(0))
	first := agent.next(done)
	p := first.params
	if p.Mode != "url" || !strings.HasPrefix(p.ElicitationID, "apr_") || p.URL != s.URL+"/console/approvals/"+p.ElicitationID {
		t.Fatalf("the elicitation: %+v", p)
	}
	for _, want := range []string{"delete_user", "org_acme", "needs a person's approval", "deleting a user cannot be undone"} {
		if !strings.Contains(p.Message, want) {
			t.Errorf("the elicitation's message does not say %q: %s", want, p.Message)
		}
	}
	approvalID := p.ElicitationID
	first.answer <- "accept"
	again := agent.next(done)
	if again.params.ElicitationID != approvalID || again.params.URL != p.URL || !strings.Contains(again.params.Message, "still waiting") {
		t.Errorf("the elicitation while the approval waits: %+v", again.params)
	}
	if pg := admin.openApproval(s, again.params.URL, ada); pg.status != 200 {
		t.Fatalf("the approval page: %d %s", pg.status, pg.errorText())
	} else if d := admin.decideApproval(s, pg, "approve", nil); d.status != 200 || !strings.Contains(d.body, "Approved") {
		t.Fatalf("approve: %d %s", d.status, d.errorText())
	}
	again.answer <- "accept"
	r := agent.settle(done)
	if r.IsError || !strings.Contains(resultText(r), `"deleted":true`) {
		t.Fatalf("the approved call: %s", resultText(r))
	}
	if _, err := st.GetUser(t.Context(), "org_acme", victims[0]); err == nil {
		t.Error("the approved deletion did not happen")
	}

	// 2. The requestState names the approval; replayed, it is refused.
	replay := *del(0)
	replay.RequestState = approvalID
	replay.InputResponses = mcp.InputResponseMap{"orgscope/approval": &mcp.ElicitResult{Action: "accept"}}
	if r := agent.settle(agent.call(&replay)); !r.IsError || !strings.Contains(resultText(r), "was used already") {
		t.Errorf("a replay of the requestState: %s", resultText(r))
	}

	// 3. On the wire (the client's automatic retries turned off): an
	// input_required result with the elicitation, the approval in _meta,
	// and the approval's id as requestState.
	raw := newElicitingAgent(t, s, token, "2026-07-28", &mcp.MultiRoundTripOptions{Disabled: true})
	ir := raw.settle(raw.call(del(1)))
	tk := metaApproval(t, ir)
	ep, _ := ir.InputRequests["orgscope/approval"].(*mcp.ElicitParams)
	if !ir.NeedsInput() || ir.IsError || tk == nil || ep == nil || len(ir.InputRequests) != 1 {
		t.Fatalf("the input_required result: %+v (needs input %v)", ir, ir.NeedsInput())
	}
	if ep.Mode != "url" || ep.ElicitationID != tk.ID || ep.URL != tk.URL || ir.RequestState != tk.ID || tk.ID == approvalID {
		t.Errorf("the elicitation %+v, requestState %q, _meta %+v", ep, ir.RequestState, tk)
	}

	// 4. Declined, the call does not run, and says so.
	done = agent.call(del(1))
	e := agent.next(done)
	if e.params.ElicitationID != tk.ID {
		t.Errorf("the same call asked for another approval: %s, want %s", e.params.ElicitationID, tk.ID)
	}
	e.answer <- "decline"
	if r := agent.settle(done); !r.IsError || !strings.Contains(resultText(r), "was not run") || !strings.Contains(resultText(r), "declined") {
		t.Errorf("the declined call: %s", resultText(r))
	}
	if _, err := st.GetUser(t.Context(), "org_acme", victims[1]); err != nil {
		t.Errorf("the declined deletion happened: %v", err)
	}

	// 5. Older clients and clients without URL elicitation: the tool
	// error with the ticket in _meta, as before, and no elicitation.
	plain := func(version string) *elicitingAgent {
		t.Helper()
		client := mcp.NewClient(&mcp.Implementation{Name: "plain agent", Version: "1"}, nil)
		httpClient := oauth2.NewClient(t.Context(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}))
		session, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: s.Resource, HTTPClient: httpClient},
			&mcp.ClientSessionOptions{ProtocolVersion: version})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { session.Close() })
		return &elicitingAgent{t: t, session: session, asks: make(chan elicitation)}
	}
	for name, a := range map[string]*elicitingAgent{
		"2025-11-25 with URL elicitation":    newElicitingAgent(t, s, token, "2025-11-25", nil),
		"2026-07-28 without URL elicitation": plain("2026-07-28"),
	} {
		r := a.settle(a.call(del(1)))
		got := metaApproval(t, r)
		if !r.IsError || r.NeedsInput() || got == nil || got.ID != tk.ID || len(r.InputRequests) != 0 ||
			!strings.Contains(resultText(r), `"orgscope/approval_id": "`+tk.ID+`"`) {
			t.Errorf("%s: %+v %q", name, got, resultText(r))
		}
	}

	// 6. The audit trail: the approved call once, with its approval; the
	// decline; the approval given on the page.
	var approved, declined, approvals int
	for page := (store.Page{Limit: store.MaxPageSize}); ; {
		evs, next, err := st.ListAuditEvents(t.Context(), "org_acme", store.AuditFilter{}, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			switch {
			case e.Action == "tools/call:delete_user" && e.Decision == "allow":
				if e.Reason != "approved:"+approvalID || e.Target != victims[0] {
					t.Errorf("an allowed delete_user: %+v", e)
				}
				approved++
			case e.Action == "tools/call:delete_user" && e.Reason == "approval_declined":
				if e.Target != tk.ID || e.Decision != "deny" {
					t.Errorf("the declined delete_user: %+v", e)
				}
				declined++
			case e.Action == "console:approve_call" && e.Target == approvalID:
				approvals++
			}
		}
		if page.Cursor = next; next == "" {
			break
		}
	}
	if approved != 1 || declined != 1 || approvals != 1 {
		t.Errorf("%d approved calls, %d declined, %d approvals given; want 1, 1, 1", approved, declined, approvals)
	}
}
