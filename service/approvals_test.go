package service_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/policy"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
)

// deleteNeedsApproval: every tool allowed, deleting a user only with a
// person's approval.
const deleteNeedsApproval = `
@id("tools") permit (principal, action, resource) unless { action == OrgScope::Action::"delete_user" };
@id("delete-with-approval") @reason("deletions are final") @approval("required")
permit (principal, action == OrgScope::Action::"delete_user", resource);
`

// clock is a settable clock for the service.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// approvalService is a service over st deciding with deleteNeedsApproval.
func approvalService(t *testing.T, st store.Store, edit func(*service.Options)) *service.Service {
	t.Helper()
	set, err := policy.Compile("test.cedar", []byte(deleteNeedsApproval))
	if err != nil {
		t.Fatal(err)
	}
	opts := service.Options{Store: st, Authorizer: set, ApprovalURL: func(id string) string { return "https://orgscope.example/console/approvals/" + id }}
	if edit != nil {
		edit(&opts)
	}
	svc := service.New(opts)
	t.Cleanup(svc.Close)
	return svc
}

func deleteUser(svc *service.Service, t *testing.T, c service.Caller, id string) (service.DeleteUserOutput, *service.Error) {
	t.Helper()
	out, err := svc.DeleteUser(t.Context(), c, service.UserIDInput{UserID: id})
	var e *service.Error
	if err != nil && !errors.As(err, &e) {
		t.Fatalf("delete_user: %v", err)
	}
	return out, e
}

const someUser = "usr_0123456789abcdef0123456789abcdef"

// TestApprovalWithoutPage: with no approval page (an external issuer), a
// call that needs a person's approval is refused, saying so, and nothing
// waits for a decision.
func TestApprovalWithoutPage(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store, _ *service.Service) {
		svc := approvalService(t, st, func(o *service.Options) { o.ApprovalURL = nil })
		_, e := deleteUser(svc, t, acmeCaller(), someUser)
		if e == nil || e.Kind != service.KindDenied || e.Reason != "approval_required" || e.Approval != nil ||
			!strings.Contains(e.Message, "no approval page") || !strings.Contains(e.Message, "deletions are final") {
			t.Fatalf("got %+v", e)
		}
		if n, err := st.CountPendingApprovals(t.Context(), "org_acme", "agent", time.Now()); err != nil || n != 0 {
			t.Errorf("pending approvals: %d %v", n, err)
		}
	})
}

// TestApprovalsAreBounded: one client has at most MaxPendingApprovals calls
// waiting in an org; asking again for a call already waiting reuses its
// approval.
func TestApprovalsAreBounded(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store, _ *service.Service) {
		svc := approvalService(t, st, func(o *service.Options) { o.MaxPendingApprovals = 2 })
		ids := map[string]bool{}
		for i, user := range []string{someUser, "usr_1123456789abcdef0123456789abcdef", someUser} {
			_, e := deleteUser(svc, t, acmeCaller(), user)
			if e == nil || e.Approval == nil || e.Approval.URL != "https://orgscope.example/console/approvals/"+e.Approval.ID {
				t.Fatalf("call %d: %+v", i, e)
			}
			ids[e.Approval.ID] = true
		}
		if len(ids) != 2 {
			t.Errorf("%d approvals for two calls", len(ids))
		}
		_, e := deleteUser(svc, t, acmeCaller(), "usr_2223456789abcdef0123456789abcdef")
		if e == nil || e.Approval != nil || !strings.Contains(e.Message, "2 of this client's calls are already waiting") {
			t.Errorf("a third call waiting: %+v", e)
		}
	})
}

// TestApprovalDeciders: only an active administrator of the org, signed in
// on the approval page, decides; never the client that asked, never
// through another way in, never for another org.
func TestApprovalDeciders(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store, _ *service.Service) {
		ctx := t.Context()
		svc := approvalService(t, st, nil)
		var people = map[store.Role]store.User{}
		for _, r := range []store.Role{store.RoleAdmin, store.RoleMember} {
			u, err := st.CreateUser(ctx, store.User{ID: store.NewID(store.UserIDPrefix), OrgCode: "org_acme",
				Email: string(r) + "@acme.example", Status: store.UserActive, Role: r})
			if err != nil {
				t.Fatal(err)
			}
			people[r] = u
		}
		_, e := deleteUser(svc, t, acmeCaller(), someUser)
		if e == nil || e.Approval == nil {
			t.Fatalf("no approval asked: %+v", e)
		}
		in := service.ApprovalInput{ApprovalID: e.Approval.ID}
		person := func(u store.User, client string, via service.Via) service.Caller {
			return service.Caller{Via: via, Principal: &auth.Principal{Subject: u.ID, ClientID: client, OrgCode: u.OrgCode,
				GrantID: "grt_x", Scopes: auth.AllScopes}}
		}
		admin := person(people[store.RoleAdmin], "console", service.ViaConsole)
		for name, c := range map[string]service.Caller{
			"a member":                    person(people[store.RoleMember], "console", service.ViaConsole),
			"an administrator over MCP":   person(people[store.RoleAdmin], "console", service.ViaMCP),
			"a client's token":            {Via: service.ViaConsole, Principal: &auth.Principal{Subject: "agent", ClientID: "agent", OrgCode: "org_acme", Scopes: auth.AllScopes}},
			"the client that asked":       person(people[store.RoleAdmin], "agent", service.ViaConsole),
			"the operator's command line": {Via: service.ViaCLI, Command: "x", Principal: service.Operator("root")},
		} {
			_, err := svc.ApproveCall(ctx, c, in)
			var se *service.Error
			if !errors.As(err, &se) || (se.Kind != service.KindDenied && se.Kind != service.KindInvalid) {
				t.Errorf("%s approved: %v", name, err)
			}
		}
		other := person(store.User{ID: people[store.RoleAdmin].ID, OrgCode: "org_beta"}, "console", service.ViaConsole)
		if _, err := svc.ApproveCall(ctx, other, in); err == nil {
			t.Error("an administrator's token of another org approved")
		}
		view, err := svc.GetApproval(ctx, admin, in)
		if err != nil || view.Approval.Tool != "delete_user" || view.Approval.Status != store.ApprovalPending || view.Expired {
			t.Fatalf("the administrator's view: %+v %v", view, err)
		}
		a, err := svc.ApproveCall(ctx, admin, in)
		if err != nil || a.Status != store.ApprovalApproved || a.DecidedBy != people[store.RoleAdmin].ID {
			t.Fatalf("the administrator approves: %+v %v", a, err)
		}
		var se *service.Error
		if _, err := svc.DenyCall(ctx, admin, in); !errors.As(err, &se) || se.Kind != service.KindConflict || !strings.Contains(se.Message, "was approved") {
			t.Errorf("a second decision: %v", err)
		}
	})
}

// TestApprovalExpires: an approval not used before it expires is refused,
// and the call may ask again.
func TestApprovalExpires(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store, _ *service.Service) {
		ctx := t.Context()
		clk := &clock{now: time.Now().UTC()}
		svc := approvalService(t, st, func(o *service.Options) { o.Now, o.ApprovalTTL = clk.Now, time.Minute })
		admin, err := st.CreateUser(ctx, store.User{ID: store.NewID(store.UserIDPrefix), OrgCode: "org_acme",
			Email: "admin@acme.example", Status: store.UserActive, Role: store.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		_, e := deleteUser(svc, t, acmeCaller(), someUser)
		if e == nil || e.Approval == nil || !e.Approval.ExpiresAt.Equal(clk.Now().Add(time.Minute).Truncate(time.Microsecond)) {
			t.Fatalf("ticket: %+v", e)
		}
		c := service.Caller{Via: service.ViaConsole, Principal: &auth.Principal{Subject: admin.ID, ClientID: "console", OrgCode: "org_acme", GrantID: "g"}}
		if _, err := svc.ApproveCall(ctx, c, service.ApprovalInput{ApprovalID: e.Approval.ID}); err != nil {
			t.Fatal(err)
		}
		clk.Add(2 * time.Minute)
		caller := acmeCaller()
		caller.ApprovalID = e.Approval.ID
		_, used := deleteUser(svc, t, caller, someUser)
		if used == nil || !strings.Contains(used.Message, "expired at") {
			t.Errorf("an expired approval: %+v", used)
		}
		_, again := deleteUser(svc, t, acmeCaller(), someUser)
		if again == nil || again.Approval == nil || again.Approval.ID == e.Approval.ID {
			t.Errorf("asking again after expiry: %+v", again)
		}
	})
}

// TestApprovalWaitingAndDeclined: a call naming an approval no one has
// decided yet is refused with the approval's ticket, which says it still
// waits; a decision taken, the refusals carry none. A declined approval
// (the person would not open the page) refuses the call, recorded with
// the approval as its target, and leaves the approval as it was.
func TestApprovalWaitingAndDeclined(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store, _ *service.Service) {
		ctx := t.Context()
		svc := approvalService(t, st, nil)
		_, asked := deleteUser(svc, t, acmeCaller(), someUser)
		if asked == nil || asked.Approval == nil || !strings.Contains(asked.Approval.Ask, "delete_user in org_acme") ||
			!strings.Contains(asked.Approval.Ask, "deletions are final") {
			t.Fatalf("ticket: %+v", asked)
		}
		id := asked.Approval.ID
		caller := acmeCaller()
		caller.ApprovalID = id
		_, waiting := deleteUser(svc, t, caller, someUser)
		if waiting == nil || waiting.Reason != "approval_refused" || waiting.Approval == nil || waiting.Approval.ID != id ||
			waiting.Approval.URL != asked.Approval.URL || !strings.Contains(waiting.Approval.Ask, "still waiting") {
			t.Fatalf("a use before the decision: %+v", waiting)
		}

		err := svc.RefuseDeclined(ctx, caller, "delete_user", service.HashArguments([]byte(`{"user_id":"`+someUser+`"}`)))
		var e *service.Error
		if !errors.As(err, &e) || e.Kind != service.KindDenied || e.Reason != service.ReasonApprovalDeclined ||
			!strings.Contains(e.Message, "was not run") || !strings.Contains(e.Message, id) {
			t.Fatalf("declined: %v", err)
		}
		if a, err := st.GetApproval(ctx, "org_acme", id); err != nil || a.Status != store.ApprovalPending {
			t.Errorf("the declined approval: %+v %v", a, err)
		}
		evs, _, err := st.ListAuditEvents(ctx, "org_acme", store.AuditFilter{Action: "tools/call:delete_user"}, store.Page{})
		if err != nil || len(evs) != 3 || evs[0].Reason != "approval_declined" || evs[0].Target != id || evs[0].Decision != "deny" {
			t.Errorf("audit: %+v %v", evs, err)
		}

		admin, err := st.CreateUser(ctx, store.User{ID: store.NewID(store.UserIDPrefix), OrgCode: "org_acme",
			Email: "admin@acme.example", Status: store.UserActive, Role: store.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		c := service.Caller{Via: service.ViaConsole, Principal: &auth.Principal{Subject: admin.ID, ClientID: "console", OrgCode: "org_acme", GrantID: "g"}}
		if _, err := svc.DenyCall(ctx, c, service.ApprovalInput{ApprovalID: id}); err != nil {
			t.Fatal(err)
		}
		if _, denied := deleteUser(svc, t, caller, someUser); denied == nil || denied.Approval != nil || !strings.Contains(denied.Message, "denied by a person") {
			t.Errorf("a use after a denial: %+v", denied)
		}
	})
}
