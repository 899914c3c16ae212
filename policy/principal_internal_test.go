package policy

import (
	"testing"

	"github.com/orgscope/orgscope/auth"
)

// TestViewsAreKeptByContent: copies of a principal (the resource server
// hands out a fresh one per call for interactive tokens) share a view; a
// principal that differs in any field the policy reads gets its own.
func TestViewsAreKeptByContent(t *testing.T) {
	p := &auth.Principal{ClientID: "claude", Subject: "usr_ann", OrgCode: "org_acme", GrantType: "authorization_code",
		Scopes: []string{"read:users"}, PersonRole: "admin", Properties: map[string]string{"plan": "pro"}}
	cp := *p
	if viewOf(p) != viewOf(&cp) {
		t.Error("a copy of the principal built another view")
	}
	for name, change := range map[string]func(*auth.Principal){
		"role":       func(q *auth.Principal) { q.PersonRole = "member" },
		"scopes":     func(q *auth.Principal) { q.Scopes = []string{"read:users", "write:users"} },
		"org":        func(q *auth.Principal) { q.OrgCode = "org_beta" },
		"properties": func(q *auth.Principal) { q.Properties = map[string]string{"plan": "free"} },
		"purpose":    func(q *auth.Principal) { q.Purpose = "support" },
		"actors":     func(q *auth.Principal) { q.ActorChain = []string{"bot"} },
	} {
		q := *p
		change(&q)
		v := viewOf(&q)
		if v == viewOf(p) || !v.matches(&q) || v.matches(p) {
			t.Errorf("a principal with another %s shares a view", name)
		}
	}
}
