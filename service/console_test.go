package service_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authserver"
	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/internal/credential"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
)

// person stores an active person of org.
func newPerson(t *testing.T, st store.Store, org, email string, role store.Role, platform bool) store.User {
	t.Helper()
	u, err := st.CreateUser(t.Context(), store.User{ID: store.NewID(store.UserIDPrefix), OrgCode: org, Email: email,
		Status: store.UserActive, Role: role, PlatformAdmin: platform})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// signedIn is the caller the console hands the service after a sign-in:
// the principal of the access token the issuer gave its client.
func signedIn(u store.User) service.Caller {
	return service.Caller{Via: service.ViaConsole, Principal: &auth.Principal{Issuer: "https://orgscope.example",
		Subject: u.ID, ClientID: "orgscope-console-test", OrgCode: u.OrgCode, GrantID: "grt_signin", Scopes: []string{"read:orgs"}}}
}

// consoleCaller signs u in to the console and returns the caller its
// session then makes of every request.
func consoleCaller(t *testing.T, svc *service.Service, u store.User) service.Caller {
	t.Helper()
	sess, err := svc.StartConsoleSession(t.Context(), signedIn(u))
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := svc.ConsoleCaller(t.Context(), sess.Token, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func kindOf(err error) service.Kind {
	var se *service.Error
	if errors.As(err, &se) {
		return se.Kind
	}
	return 0
}

// TestConsoleSessions: an organization's administrator gets a session that
// acts as an org-scoped principal with the admin role's scopes; a platform
// administrator's acts as a global one; a member, a suspended person and a
// client's token get none; a session ends when idle, at its absolute
// limit, when the person is demoted, and at sign-out; every sign-in and
// sign-out is in the audit trail.
func TestConsoleSessions(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store, _ *service.Service) {
		ctx := t.Context()
		clk := &clock{now: time.Now().UTC()}
		svc := service.New(service.Options{Store: st, Now: clk.Now, ConsoleIdle: 10 * time.Minute, ConsoleLifetime: time.Hour})
		t.Cleanup(svc.Close)
		admin := newPerson(t, st, "org_acme", "admin@acme.example", store.RoleAdmin, false)
		member := newPerson(t, st, "org_acme", "member@acme.example", store.RoleMember, false)
		root := newPerson(t, st, "org_acme", "root@acme.example", store.RoleMember, true)
		suspended := newPerson(t, st, "org_acme", "gone@acme.example", store.RoleAdmin, false)
		if _, err := st.UpdateUser(ctx, "org_acme", suspended.ID, store.UserUpdate{Status: ptr(store.UserSuspended)}); err != nil {
			t.Fatal(err)
		}

		sess, err := svc.StartConsoleSession(ctx, signedIn(admin))
		if err != nil || len(sess.Token) < 40 || !strings.HasPrefix(sess.Person.SessionID, store.ConsoleSessionIDPrefix) {
			t.Fatalf("an administrator's sign-in: %+v %v", sess, err)
		}
		c, person, err := svc.ConsoleCaller(ctx, sess.Token, "req-1", "")
		if err != nil {
			t.Fatal(err)
		}
		p := c.Principal
		if c.Via != service.ViaConsole || p.OrgCode != "org_acme" || p.Subject != admin.ID || p.GrantID != sess.Person.SessionID ||
			!slices.Equal(p.Scopes, authz.RoleScopes("admin")) || p.PersonRole != "admin" || person.User.Email != admin.Email {
			t.Errorf("an administrator's caller: %+v %+v", c, p)
		}
		// The session token is no access token, and no access token is a
		// session.
		if _, _, err := svc.ConsoleCaller(ctx, "eyJhbGciOiJFUzI1NiJ9.e30.sig", "", ""); kindOf(err) != service.KindNotFound {
			t.Errorf("a token that is no session: %v", err)
		}

		rootSess, err := svc.StartConsoleSession(ctx, signedIn(root))
		if err != nil {
			t.Fatalf("a platform administrator who is a member at home: %v", err)
		}
		rc, _, err := svc.ConsoleCaller(ctx, rootSess.Token, "", "")
		if err != nil || !rc.Principal.Global() || !slices.Equal(rc.Principal.Scopes, auth.AllScopes) {
			t.Fatalf("a platform administrator's caller: %+v %v", rc.Principal, err)
		}
		if _, err := svc.ListOrgs(ctx, rc, service.ListOrgsInput{}); err != nil {
			t.Errorf("a platform administrator lists the organizations: %v", err)
		}
		if _, err := svc.ListOrgs(ctx, c, service.ListOrgsInput{}); kindOf(err) != service.KindDenied {
			t.Errorf("an organization's administrator lists the organizations: %v", err)
		}

		for name, who := range map[string]service.Caller{
			"a member":         signedIn(member),
			"a suspended one":  signedIn(suspended),
			"a client's token": {Via: service.ViaConsole, Principal: &auth.Principal{Subject: "agent", ClientID: "agent", OrgCode: "org_acme", GrantID: "g"}},
			"a token over MCP": {Via: service.ViaMCP, Principal: signedIn(admin).Principal},
		} {
			if _, err := svc.StartConsoleSession(ctx, who); kindOf(err) != service.KindDenied {
				t.Errorf("%s got a session: %v", name, err)
			}
		}
		if _, err := svc.StartConsoleSession(ctx, signedIn(member)); err == nil ||
			!strings.Contains(err.Error(), "only an administrator of org_acme") {
			t.Errorf("a member is told why: %v", err)
		}

		// Idle: nine minutes apart it lives; eleven minutes later it ends.
		clk.Add(9 * time.Minute)
		if _, _, err := svc.ConsoleCaller(ctx, sess.Token, "", ""); err != nil {
			t.Fatalf("nine minutes later: %v", err)
		}
		clk.Add(9 * time.Minute)
		if _, _, err := svc.ConsoleCaller(ctx, sess.Token, "", ""); err != nil {
			t.Fatalf("used every nine minutes: %v", err)
		}
		clk.Add(11 * time.Minute)
		if _, _, err := svc.ConsoleCaller(ctx, sess.Token, "", ""); kindOf(err) != service.KindNotFound || !strings.Contains(err.Error(), "without use") {
			t.Fatalf("eleven idle minutes later: %v", err)
		}
		if _, err := st.GetConsoleSession(ctx, credential.HashSecret(sess.Token)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the idle session was kept: %v", err)
		}

		// Absolute: however active, an hour after sign-in it ends.
		busy, err := svc.StartConsoleSession(ctx, signedIn(admin))
		if err != nil {
			t.Fatal(err)
		}
		for range 6 {
			clk.Add(9 * time.Minute)
			if _, _, err := svc.ConsoleCaller(ctx, busy.Token, "", ""); err != nil {
				t.Fatalf("a busy session: %v", err)
			}
		}
		clk.Add(9 * time.Minute)
		if _, _, err := svc.ConsoleCaller(ctx, busy.Token, "", ""); kindOf(err) != service.KindNotFound || !strings.Contains(err.Error(), "at most") {
			t.Fatalf("past the absolute limit: %v", err)
		}

		// Demoted: the next request is refused, and the session is gone.
		demoted, err := svc.StartConsoleSession(ctx, signedIn(admin))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.UpdateUser(ctx, "org_acme", admin.ID, store.UserUpdate{Role: ptr(store.RoleMember)}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.ConsoleCaller(ctx, demoted.Token, "", ""); kindOf(err) != service.KindDenied {
			t.Fatalf("a demoted administrator: %v", err)
		}
		if _, err := st.UpdateUser(ctx, "org_acme", admin.ID, store.UserUpdate{Role: ptr(store.RoleAdmin)}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.ConsoleCaller(ctx, demoted.Token, "", ""); kindOf(err) != service.KindNotFound {
			t.Fatalf("the demoted administrator's session came back: %v", err)
		}

		// Sign-out.
		out, err := svc.StartConsoleSession(ctx, signedIn(admin))
		if err != nil {
			t.Fatal(err)
		}
		oc, op, err := svc.ConsoleCaller(ctx, out.Token, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.EndConsoleSession(ctx, oc, op, out.Token); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.ConsoleCaller(ctx, out.Token, "", ""); kindOf(err) != service.KindNotFound {
			t.Fatalf("after sign-out: %v", err)
		}

		events, _, err := st.ListAuditEvents(ctx, "org_acme", store.AuditFilter{}, store.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, e := range events {
			count[e.Action+" "+e.Decision]++
			if e.Action == "console:console_sign_out" && (e.Subject != admin.ID || e.GrantID != out.Person.SessionID || e.Target != out.Person.SessionID) {
				t.Errorf("the sign-out event: %+v", e)
			}
		}
		if count["console:console_sign_in allow"] != 5 || count["console:console_sign_in deny"] != 4 || count["tools/call:console_sign_in deny"] != 1 || count["console:console_sign_out allow"] != 1 {
			t.Errorf("sign-in events: %v", count)
		}
	})
}

// TestOperatorOnlyWaysIn: every operator-only action is refused to a tool
// call's principal — even a global token with every scope — with reason
// operator_only and nothing changed; the console may perform exactly the
// ones the catalog marks Console; the operator all of them.
func TestOperatorOnlyWaysIn(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store, _ *service.Service) {
		ctx := t.Context()
		manager, err := authserver.NewKeyManager(authserver.KeyOptions{Algorithm: authserver.ES256, Overlap: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		key, _ := manager.Make()
		if _, err := st.EnsureSigningKey(ctx, key); err != nil {
			t.Fatal(err)
		}
		svc := service.New(service.Options{Store: st, SigningKeys: manager})
		t.Cleanup(svc.Close)
		admin := newPerson(t, st, "org_acme", "admin@acme.example", store.RoleAdmin, false)
		client, err := svc.CreateClient(ctx, service.Caller{Principal: service.Operator("ops"), Via: service.ViaCLI, Command: "clients create"},
			service.CreateClientInput{Name: "agent", OrgCode: "org_acme", Scopes: []string{"read:users"}})
		if err != nil {
			t.Fatal(err)
		}
		id := client.Client.ClientID
		org := service.OrgArg{OrgCode: "org_acme"}
		calls := map[string]func(service.Caller) error{
			"get_client": func(c service.Caller) error {
				_, err := svc.GetClient(ctx, c, service.ClientIDInput{OrgArg: org, ClientID: id})
				return err
			},
			"enable_client": func(c service.Caller) error {
				_, err := svc.EnableClient(ctx, c, service.ClientIDInput{OrgArg: org, ClientID: id})
				return err
			},
			"update_client": func(c service.Caller) error {
				_, err := svc.UpdateClient(ctx, c, service.UpdateClientInput{OrgArg: org, ClientID: id, Name: ptr("renamed")})
				return err
			},
			"delete_client": func(c service.Caller) error {
				_, err := svc.DeleteClient(ctx, c, service.ClientIDInput{OrgArg: org, ClientID: "no-such-client"})
				return err
			},
			"set_user_password": func(c service.Caller) error {
				_, err := svc.SetPassword(ctx, c, service.SetPasswordInput{OrgArg: org, Email: "nobody@acme.example", Password: "long enough password"})
				return err
			},
			"export_audit_events": func(c service.Caller) error {
				return svc.ExportAuditEvents(ctx, c, service.ExportAuditInput{OrgCode: "org_acme"}, func(store.AuditEvent) error { return nil })
			},
			"list_signing_keys": func(c service.Caller) error {
				_, err := svc.ListSigningKeys(ctx, c, service.ListSigningKeysInput{})
				return err
			},
			"rotate_signing_key": func(c service.Caller) error {
				_, err := svc.RotateSigningKey(ctx, c, service.RotateSigningKeyInput{})
				return err
			},
			"retire_signing_key": func(c service.Caller) error {
				_, err := svc.RetireSigningKey(ctx, c, service.RetireSigningKeyInput{KID: "no-such-kid"})
				return err
			},
			"set_platform_admin": func(c service.Caller) error {
				_, err := svc.SetPlatformAdmin(ctx, c, service.SetPlatformAdminInput{OrgCode: "org_acme", Email: admin.Email})
				return err
			},
			"list_approvals": func(c service.Caller) error {
				_, err := svc.ListApprovals(ctx, c, service.ListApprovalsInput{OrgArg: org})
				return err
			},
			"get_approval": func(c service.Caller) error {
				_, err := svc.GetApproval(ctx, c, service.ApprovalInput{OrgArg: org, ApprovalID: "apr_0123456789abcdef0123456789abcdef"})
				return err
			},
			"approve_call": func(c service.Caller) error {
				_, err := svc.ApproveCall(ctx, c, service.ApprovalInput{OrgArg: org, ApprovalID: "apr_0123456789abcdef0123456789abcdef"})
				return err
			},
			"deny_call": func(c service.Caller) error {
				_, err := svc.DenyCall(ctx, c, service.ApprovalInput{OrgArg: org, ApprovalID: "apr_0123456789abcdef0123456789abcdef"})
				return err
			},
			"console_sign_in": func(c service.Caller) error {
				_, err := svc.StartConsoleSession(ctx, c)
				return err
			},
			"console_sign_out": func(c service.Caller) error {
				return svc.EndConsoleSession(ctx, c, service.ConsolePerson{User: admin}, "no-such-token")
			},
			"dry_run_call": func(c service.Caller) error {
				_, err := svc.DryRun(ctx, c, service.DryRunInput{OrgArg: org, ClientID: id, Tool: "list_users"})
				return err
			},
		}
		for _, a := range authz.Actions() {
			if _, ok := calls[a.Name]; a.OperatorOnly && !ok {
				t.Errorf("operator-only action %s is not checked here", a.Name)
			}
		}

		global := service.Caller{Via: service.ViaMCP, Principal: &auth.Principal{Subject: "root-agent", ClientID: "root-agent", Scopes: auth.AllScopes}}
		tenant := acmeCaller()
		person := signedIn(admin)
		console := consoleCaller(t, svc, admin)
		before := snapshotClients(t, st)
		for name, call := range calls {
			for who, c := range map[string]service.Caller{"a global token": global, "an org-scoped token": tenant} {
				var se *service.Error
				if err := call(c); !errors.As(err, &se) || se.Kind != service.KindDenied || se.Reason != service.ReasonOperatorOnly {
					t.Errorf("%s over MCP by %s: %v", name, who, err)
				}
			}
		}
		if after := snapshotClients(t, st); after != before {
			t.Errorf("the refused calls changed the clients:\n%s\n%s", before, after)
		}
		for name, call := range calls {
			a, _ := authz.Lookup(name)
			c := console
			if name == "console_sign_in" {
				c = person
			}
			err := call(c)
			var se *service.Error
			refusedWayIn := errors.As(err, &se) && se.Reason == service.ReasonOperatorOnly
			if refusedWayIn == a.Console {
				t.Errorf("%s in the console (Console=%v): %v", name, a.Console, err)
			}
		}
		denied, _, err := st.ListAuditEvents(ctx, "", store.AuditFilter{Decision: "deny"}, store.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range denied {
			if e.Reason == service.ReasonOperatorOnly && strings.HasPrefix(e.Action, "tools/call:") {
				n++
			}
		}
		acme, _, _ := st.ListAuditEvents(ctx, "org_acme", store.AuditFilter{Decision: "deny"}, store.Page{Limit: 100})
		for _, e := range acme {
			if e.Reason == service.ReasonOperatorOnly && strings.HasPrefix(e.Action, "tools/call:") {
				n++
			}
		}
		if n != 2*len(calls) {
			t.Errorf("%d operator-only refusals recorded, want %d", n, 2*len(calls))
		}
	})
}

func snapshotClients(t *testing.T, st store.Store) string {
	t.Helper()
	clients, _, err := st.ListClients(t.Context(), store.ClientFilter{}, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(clients)
	return string(b)
}

// TestSetPlatformAdmin: the operator marks a person by email (in the one
// organization that has them, or the one named), and unmarks them; an
// email in several organizations must be told apart; each change is
// recorded in the person's organization.
func TestSetPlatformAdmin(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store, svc *service.Service) {
		ctx := t.Context()
		if _, err := st.CreateOrg(ctx, store.Org{Code: "org_beta", Name: "Beta"}); err != nil {
			t.Fatal(err)
		}
		ann := newPerson(t, st, "org_acme", "ann@example.com", store.RoleMember, false)
		newPerson(t, st, "org_acme", "both@example.com", store.RoleAdmin, false)
		both := newPerson(t, st, "org_beta", "both@example.com", store.RoleAdmin, false)
		op := service.Caller{Principal: service.Operator("ops"), Via: service.ViaCLI, Command: "users set-platform-admin"}

		out, err := svc.SetPlatformAdmin(ctx, op, service.SetPlatformAdminInput{Email: "ANN@example.com", PlatformAdmin: true})
		if err != nil || !out.Changed || !out.User.PlatformAdmin || out.User.ID != ann.ID {
			t.Fatalf("mark: %+v %v", out, err)
		}
		if again, err := svc.SetPlatformAdmin(ctx, op, service.SetPlatformAdminInput{Email: ann.Email, PlatformAdmin: true}); err != nil || again.Changed {
			t.Errorf("mark again: %+v %v", again, err)
		}
		if _, err := svc.SetPlatformAdmin(ctx, op, service.SetPlatformAdminInput{Email: both.Email, PlatformAdmin: true}); kindOf(err) != service.KindInvalid ||
			!strings.Contains(err.Error(), "org_acme, org_beta") {
			t.Errorf("an email of two organizations: %v", err)
		}
		out, err = svc.SetPlatformAdmin(ctx, op, service.SetPlatformAdminInput{OrgCode: "org_beta", Email: both.Email, PlatformAdmin: true})
		if err != nil || out.User.ID != both.ID {
			t.Fatalf("in org_beta: %+v %v", out, err)
		}
		if _, err := svc.SetPlatformAdmin(ctx, op, service.SetPlatformAdminInput{Email: "nobody@example.com", PlatformAdmin: true}); kindOf(err) != service.KindNotFound {
			t.Errorf("nobody: %v", err)
		}
		out, err = svc.SetPlatformAdmin(ctx, op, service.SetPlatformAdminInput{Email: ann.Email})
		if err != nil || !out.Changed || out.User.PlatformAdmin {
			t.Fatalf("unmark: %+v %v", out, err)
		}
		if got, _ := st.GetUser(ctx, "org_acme", ann.ID); got.PlatformAdmin {
			t.Error("the mark is still stored")
		}
		events, _, _ := st.ListAuditEvents(ctx, "org_acme", store.AuditFilter{Action: "cli:users set-platform-admin", Decision: "allow"}, store.Page{})
		beta, _, _ := st.ListAuditEvents(ctx, "org_beta", store.AuditFilter{Action: "cli:users set-platform-admin", Decision: "allow"}, store.Page{})
		if len(events) != 3 || events[0].Target != ann.ID || len(beta) != 1 || beta[0].Target != both.ID {
			t.Errorf("events: acme %+v beta %+v", events, beta)
		}
	})
}

// TestExportAuditFilters: an export selects what the audit page's filters
// select; an org-scoped principal exports its own organization's trail
// only, and never every organization's.
func TestExportAuditFilters(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store, svc *service.Service) {
		ctx := t.Context()
		if _, err := st.CreateOrg(ctx, store.Org{Code: "org_beta", Name: "Beta"}); err != nil {
			t.Fatal(err)
		}
		acme, beta := acmeCaller(), acmeCaller()
		beta.Principal = &auth.Principal{Subject: "beta-agent", ClientID: "beta-agent", OrgCode: "org_beta", Scopes: auth.AllScopes}
		svc.ListUsers(ctx, acme, service.ListUsersInput{})
		svc.ListUsers(ctx, beta, service.ListUsersInput{})
		svc.CreateUser(ctx, acme, service.CreateUserInput{Email: "bad"})
		c := consoleCaller(t, svc, newPerson(t, st, "org_acme", "admin@acme.example", store.RoleAdmin, false))
		export := func(in service.ExportAuditInput) ([]store.AuditEvent, error) {
			var got []store.AuditEvent
			err := svc.ExportAuditEvents(ctx, c, in, func(e store.AuditEvent) error { got = append(got, e); return nil })
			return got, err
		}
		denied, err := export(service.ExportAuditInput{Decision: "deny"})
		if err != nil || len(denied) != 1 || denied[0].Action != "tools/call:create_user" || denied[0].OrgCode != "org_acme" {
			t.Fatalf("denied events of the person's own org: %+v %v", denied, err)
		}
		byClient, err := export(service.ExportAuditInput{ClientID: "agent", Action: "tools/call:list_users"})
		if err != nil || len(byClient) != 1 {
			t.Fatalf("by client and action: %+v %v", byClient, err)
		}
		for name, in := range map[string]service.ExportAuditInput{
			"another org":   {OrgCode: "org_beta"},
			"every org":     {AllOrgs: true},
			"a bad filter":  {Decision: "maybe"},
			"since > until": {Since: time.Now(), Until: time.Now().Add(-time.Hour)},
		} {
			if got, err := export(in); err == nil || len(got) != 0 {
				t.Errorf("%s: %d events, %v", name, len(got), err)
			}
		}
	})
}

// TestDryRun: the decision point's answer for one of the organization's
// machine clients, before dispatch and at the call, with the policies that
// decided; another organization's client is not found.
func TestDryRun(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store, _ *service.Service) {
		ctx := t.Context()
		svc := approvalService(t, st, nil)
		if _, err := st.CreateOrg(ctx, store.Org{Code: "org_beta", Name: "Beta"}); err != nil {
			t.Fatal(err)
		}
		op := service.Caller{Principal: service.Operator("ops"), Via: service.ViaCLI, Command: "clients create"}
		reader, err := svc.CreateClient(ctx, op, service.CreateClientInput{Name: "reader", OrgCode: "org_acme", Scopes: []string{"read:users", "delete:users"}})
		if err != nil {
			t.Fatal(err)
		}
		betaClient, err := svc.CreateClient(ctx, op, service.CreateClientInput{Name: "beta", OrgCode: "org_beta", Scopes: []string{"read:users"}})
		if err != nil {
			t.Fatal(err)
		}
		c := consoleCaller(t, svc, newPerson(t, st, "org_acme", "admin@acme.example", store.RoleAdmin, false))
		id := reader.Client.ClientID
		list, err := svc.DryRun(ctx, c, service.DryRunInput{ClientID: id, Tool: "list_users", Arguments: json.RawMessage(`{"limit": 5}`)})
		if err != nil || !list.Request.Allow || !list.Call.Allow || list.Call.NeedsApproval || !slices.Equal(list.Call.Policies, []string{"tools"}) {
			t.Errorf("list_users: %+v %v", list, err)
		}
		del, err := svc.DryRun(ctx, c, service.DryRunInput{ClientID: id, Tool: "delete_user", Arguments: json.RawMessage(`{"user_id":"` + someUser + `"}`)})
		if err != nil || !del.Call.Allow || !del.Call.NeedsApproval || !slices.Equal(del.Call.Policies, []string{"delete-with-approval"}) {
			t.Errorf("delete_user: %+v %v", del, err)
		}
		rules := service.New(service.Options{Store: st}) // the catalog's rules
		t.Cleanup(rules.Close)
		create, err := rules.DryRun(ctx, c, service.DryRunInput{ClientID: id, Tool: "create_user", Arguments: json.RawMessage(`{"email":"a@acme.example"}`)})
		// The policy cannot widen what the client's scopes allow.
		reader2, err2 := svc.CreateClient(ctx, op, service.CreateClientInput{Name: "reader only", OrgCode: "org_acme", Scopes: []string{"read:users"}})
		if err2 != nil {
			t.Fatal(err2)
		}
		if narrow, err := svc.DryRun(ctx, c, service.DryRunInput{ClientID: reader2.Client.ClientID, Tool: "delete_user",
			Arguments: json.RawMessage(`{"user_id":"` + someUser + `"}`)}); err != nil || narrow.Call.Allow || narrow.Call.Reason != authz.ReasonInsufficientScope {
			t.Errorf("delete_user by a client without delete:users, under a policy that permits it with approval: %+v %v", narrow, err)
		}
		if err != nil || create.Request.Allow || create.Request.Reason != authz.ReasonInsufficientScope || !slices.Equal(create.Request.Missing, []string{"write:users"}) {
			t.Errorf("create_user without write:users: %+v %v", create, err)
		}
		for name, in := range map[string]service.DryRunInput{
			"another org's client":  {ClientID: betaClient.Client.ClientID, Tool: "list_users"},
			"naming another org":    {OrgArg: service.OrgArg{OrgCode: "org_beta"}, ClientID: betaClient.Client.ClientID, Tool: "list_users"},
			"an operator action":    {ClientID: id, Tool: "set_platform_admin"},
			"arguments not objects": {ClientID: id, Tool: "list_users", Arguments: json.RawMessage(`[1]`)},
		} {
			if _, err := svc.DryRun(ctx, c, in); err == nil {
				t.Errorf("%s: no error", name)
			} else if k := kindOf(err); k != service.KindNotFound && k != service.KindDenied && k != service.KindInvalid {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}

// TestApprovalsInTheConsole: the approvals page lists the organization's
// pending approvals for its administrators and for a platform
// administrator (who may decide them too), and for nobody else.
func TestApprovalsInTheConsole(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store, _ *service.Service) {
		ctx := t.Context()
		svc := approvalService(t, st, nil)
		if _, err := st.CreateOrg(ctx, store.Org{Code: "org_beta", Name: "Beta"}); err != nil {
			t.Fatal(err)
		}
		_, e := deleteUser(svc, t, acmeCaller(), someUser)
		if e == nil || e.Approval == nil {
			t.Fatalf("no approval asked: %+v", e)
		}
		caller := func(u store.User) service.Caller { return consoleCaller(t, svc, u) }
		admin := caller(newPerson(t, st, "org_acme", "admin@acme.example", store.RoleAdmin, false))
		root := caller(newPerson(t, st, "org_beta", "root@beta.example", store.RoleMember, true))
		betaAdmin := caller(newPerson(t, st, "org_beta", "admin@beta.example", store.RoleAdmin, false))
		acme := service.OrgArg{OrgCode: "org_acme"}
		for name, c := range map[string]service.Caller{"Acme's administrator": admin, "a platform administrator": root} {
			list, err := svc.ListApprovals(ctx, c, service.ListApprovalsInput{OrgArg: acme})
			if err != nil || len(list.Approvals) != 1 || list.Approvals[0].Approval.ID != e.Approval.ID || list.Approvals[0].Approval.Tool != "delete_user" {
				t.Errorf("%s lists: %+v %v", name, list, err)
			}
		}
		if list, err := svc.ListApprovals(ctx, betaAdmin, service.ListApprovalsInput{OrgArg: acme}); kindOf(err) != service.KindDenied || len(list.Approvals) != 0 {
			t.Errorf("Beta's administrator lists Acme's: %+v %v", list, err)
		}
		if _, err := svc.ApproveCall(ctx, betaAdmin, service.ApprovalInput{OrgArg: acme, ApprovalID: e.Approval.ID}); kindOf(err) != service.KindDenied {
			t.Errorf("Beta's administrator approves Acme's: %v", err)
		}
		a, err := svc.ApproveCall(ctx, root, service.ApprovalInput{OrgArg: acme, ApprovalID: e.Approval.ID})
		if err != nil || a.Status != store.ApprovalApproved || a.DecidedBy != root.Principal.Subject {
			t.Errorf("the platform administrator approves: %+v %v", a, err)
		}
		if list, err := svc.ListApprovals(ctx, admin, service.ListApprovalsInput{OrgArg: acme}); err != nil || len(list.Approvals) != 0 {
			t.Errorf("after the decision: %+v %v", list, err)
		}
	})
}
