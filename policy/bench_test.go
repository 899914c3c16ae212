package policy_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/policy"
)

// BenchmarkDecision is one decision by the compiled rules (authz.Rules)
// and by the built-in Cedar policy, in the same run: before dispatch and
// at call time (list_users by an org-scoped token, as the HTTP layer and
// the service ask), and the list of tools (17 list-time decisions, as
// tools/list and whoami ask). Decisions without the arguments are kept for
// the second they were made in (cedar); cedar-fresh has the clock move a
// second on every iteration, so none is kept: the cost of a token's first
// call in a second.
//
//	go test -run - -bench Decision -benchmem -count 6 ./policy/
func BenchmarkDecision(b *testing.B) {
	engine, err := policy.New(policy.Options{})
	if err != nil {
		b.Fatal(err)
	}
	tick := time.Now()
	fresh, err := policy.New(policy.Options{Now: func() time.Time { return tick }})
	if err != nil {
		b.Fatal(err)
	}
	p := &auth.Principal{ClientID: "c1", Subject: "c1", GrantType: "client_credentials", OrgCode: "org_acme",
		Scopes: []string{"read:users", "write:flags"}}
	a := mustAction(b, "list_users")
	for _, d := range []struct {
		name string
		az   authz.Authorizer
	}{{"rules", authz.Rules{}}, {"cedar", engine}, {"cedar-fresh", fresh}} {
		next := func() {
			if d.az == fresh {
				tick = tick.Add(time.Second)
			}
		}
		b.Run("request/"+d.name, func(b *testing.B) {
			req := authz.Request{Principal: p, Action: a, Stage: authz.StageRequest}
			for b.Loop() {
				next()
				if !d.az.Authorize(b.Context(), req).Allow {
					b.Fatal("refused")
				}
			}
		})
		b.Run("call/"+d.name, func(b *testing.B) {
			req := authz.Request{Principal: p, Action: a, Stage: authz.StageCall, Org: "org_acme", Args: map[string]any{"limit": json.Number("20")}}
			for b.Loop() {
				next()
				if !d.az.Authorize(b.Context(), req).Allow {
					b.Fatal("refused")
				}
			}
		})
		b.Run("list/"+d.name, func(b *testing.B) {
			for b.Loop() {
				next()
				if len(authz.Visible(b.Context(), d.az, p)) != 7 {
					b.Fatal("wrong list")
				}
			}
		})
	}
}
