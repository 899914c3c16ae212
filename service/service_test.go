package service_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/internal/testdeps"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/postgres/pgtest"
	"github.com/orgscope/orgscope/store/sqlite"
)

// backends runs fn against a service over each store backend.
func backends(t *testing.T, fn func(t *testing.T, st store.Store, svc *service.Service)) {
	t.Run("sqlite", func(t *testing.T) {
		st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "svc.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		run(t, st, fn)
	})
	t.Run("postgres", func(t *testing.T) {
		testdeps.RequirePostgres(t)
		run(t, pgtest.Open(t), fn)
	})
}

func run(t *testing.T, st store.Store, fn func(t *testing.T, st store.Store, svc *service.Service)) {
	if _, err := st.CreateOrg(t.Context(), store.Org{Code: "org_acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	svc := service.New(service.Options{Store: st})
	t.Cleanup(svc.Close)
	fn(t, st, svc)
}

func acmeCaller() service.Caller {
	return service.Caller{Via: service.ViaMCP, Principal: &auth.Principal{
		Subject: "agent", ClientID: "agent", OrgCode: "org_acme", Scopes: auth.AllScopes}}
}

// TestTextNoStoreCanHold: NUL and invalid UTF-8 are refused the same way on
// both backends, naming the field, and nothing is written (PostgreSQL used
// to answer an internal error for NUL, SQLite to store it; invalid UTF-8
// became U+FFFD).
func TestTextNoStoreCanHold(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store, svc *service.Service) {
		c := acmeCaller()
		for _, tc := range []struct {
			in   service.CreateUserInput
			want string
		}{
			{service.CreateUserInput{Email: "a@acme.example", GivenName: "Ad\x00a"}, "given_name contains a NUL character"},
			{service.CreateUserInput{Email: "a@acme.example", FamilyName: "Love\xfflace"}, "family_name is not valid UTF-8"},
			{service.CreateUserInput{Email: "a@acme.example", GivenName: "Ada\nLovelace"}, "given_name contains a control character"},
		} {
			_, err := svc.CreateUser(t.Context(), c, tc.in)
			var e *service.Error
			if !errors.As(err, &e) || e.Kind != service.KindInvalid || !strings.Contains(e.Message, tc.want) {
				t.Errorf("%+v: %v, want %q", tc.in, err, tc.want)
			}
		}
		_, err := svc.UpdateOrg(t.Context(), c, service.UpdateOrgInput{Properties: map[string]*string{"plan": ptr("x\x00")}})
		if err == nil || !strings.Contains(err.Error(), "properties.plan contains a NUL character") {
			t.Errorf("a NUL property value: %v", err)
		}
		users, _, err := st.ListUsers(t.Context(), "org_acme", store.UserFilter{}, store.Page{})
		if err != nil || len(users) != 0 {
			t.Errorf("users after refusals: %v %v", users, err)
		}
		denied, _, err := st.ListAuditEvents(t.Context(), "org_acme", store.AuditFilter{Decision: "deny"}, store.Page{})
		if err != nil || len(denied) != 4 || denied[0].Reason != "validation" {
			t.Errorf("denials recorded: %d %+v %v", len(denied), denied, err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// TestConcurrentCallsAreAllRecorded: reads under concurrency share audit
// transactions (group commit) and every one is recorded, exactly once.
func TestConcurrentCallsAreAllRecorded(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store, svc *service.Service) {
		const callers, each = 16, 25
		var wg sync.WaitGroup
		errs := make(chan error, callers*each)
		for i := range callers {
			wg.Go(func() {
				c := acmeCaller()
				c.RequestID = fmt.Sprintf("r%d", i)
				for range each {
					if _, err := svc.ListUsers(context.Background(), c, service.ListUsersInput{}); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		n := 0
		for page := (store.Page{Limit: store.MaxPageSize}); ; {
			evs, next, err := st.ListAuditEvents(t.Context(), "org_acme", store.AuditFilter{Action: "tools/call:list_users"}, page)
			if err != nil {
				t.Fatal(err)
			}
			n += len(evs)
			if page.Cursor = next; next == "" {
				break
			}
		}
		if n != callers*each {
			t.Errorf("%d events for %d calls", n, callers*each)
		}
	})
}

// TestArgumentHash: the recorded hash identifies the arguments, whatever
// their order or spacing, and is never the arguments themselves.
func TestArgumentHash(t *testing.T) {
	a := service.HashArguments([]byte(`{"b":1, "a":{"y":2,"x":"z"}}`))
	b := service.HashArguments([]byte(`{"a":{"x":"z","y":2},"b":1}`))
	c := service.HashArguments([]byte(`{"a":{"x":"z","y":3},"b":1}`))
	if a != b || a == c || len(a) != 64 {
		t.Errorf("hashes %s %s %s", a, b, c)
	}
	if service.HashArguments(nil) != service.HashArguments([]byte(`{}`)) {
		t.Error("absent arguments do not hash as an empty object")
	}
}
