package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/orgscope/orgscope/auth"
)

func principalOf(t *testing.T, payload string) (*auth.Principal, error) {
	t.Helper()
	var claims map[string]json.RawMessage
	if err := json.Unmarshal([]byte(payload), &claims); err != nil {
		t.Fatal(err)
	}
	return auth.ClaimMapping{}.Principal(claims)
}

// nested returns an act claim of n actors named agent<n>…agent1, the
// outermost (current) first.
func nested(n int) string {
	act := ""
	for i := 1; i <= n; i++ {
		inner := ""
		if act != "" {
			inner = `,"act":` + act
		}
		act = fmt.Sprintf(`{"sub":"agent%d","client_id":"agent%d"%s}`, i, i, inner)
	}
	return act
}

// TestActorChain: act (RFC 8693 §4.1) becomes the actor chain, the current
// actor (the outermost act) first; purpose comes along.
func TestActorChain(t *testing.T) {
	for _, tc := range []struct {
		name    string
		claims  string
		chain   []string
		purpose string
	}{
		{"not delegated", `{"sub":"usr_1","client_id":"app"}`, nil, ""},
		{"one actor", `{"sub":"usr_1","client_id":"agent1","act":{"sub":"agent1","client_id":"agent1"},"purpose":"triage"}`,
			[]string{"agent1"}, "triage"},
		{"a sub-agent", `{"sub":"usr_1","client_id":"agent2","act":` + nested(2) + `}`, []string{"agent2", "agent1"}, ""},
		{"an external actor named by sub", `{"sub":"user@idp","act":{"sub":"svc-7","act":{"sub":"svc-3"}}}`,
			[]string{"svc-7", "svc-3"}, ""},
		{"the deepest chain allowed", `{"sub":"usr_1","act":` + nested(auth.MaxActors) + `}`, nil, ""},
		{"a purpose of the longest length", `{"sub":"usr_1","purpose":"` + strings.Repeat("é", auth.MaxPurposeLength/2) + `"}`, nil,
			strings.Repeat("é", auth.MaxPurposeLength/2)},
	} {
		p, err := principalOf(t, tc.claims)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if tc.name == "the deepest chain allowed" {
			if len(p.ActorChain) != auth.MaxActors || p.ActorChain[0] != fmt.Sprintf("agent%d", auth.MaxActors) {
				t.Errorf("%s: chain %v", tc.name, p.ActorChain)
			}
			continue
		}
		if !slices.Equal(p.ActorChain, tc.chain) || p.Purpose != tc.purpose || p.Delegated() != (len(tc.chain) > 0) {
			t.Errorf("%s: chain %v purpose %q, want %v %q", tc.name, p.ActorChain, p.Purpose, tc.chain, tc.purpose)
		}
	}
}

// TestActorChainRefusals: an act, may_act or purpose that cannot be read,
// or a current actor that may_act does not allow, is an invalid token —
// never a principal with half a chain.
func TestActorChainRefusals(t *testing.T) {
	for name, claims := range map[string]string{
		"act is a string":           `{"sub":"usr_1","act":"agent1"}`,
		"act is null":               `{"sub":"usr_1","act":null}`,
		"act names nobody":          `{"sub":"usr_1","act":{"iss":"https://x"}}`,
		"a nested act names nobody": `{"sub":"usr_1","act":{"sub":"agent2","act":{}}}`,
		"a nested act is an array":  `{"sub":"usr_1","act":{"sub":"agent2","act":[{"sub":"agent1"}]}}`,
		"too deep":                  `{"sub":"usr_1","act":` + nested(auth.MaxActors+1) + `}`,
		"may_act names another":     `{"iss":"https://idp","sub":"usr_1","act":{"sub":"agent1"},"may_act":{"sub":"agent9"}}`,
		"may_act names another id":  `{"iss":"https://idp","sub":"usr_1","act":{"sub":"agent1","client_id":"c1"},"may_act":{"client_id":"c9"}}`,
		"may_act of another issuer": `{"iss":"https://idp","sub":"usr_1","act":{"sub":"agent1"},"may_act":{"sub":"agent1","iss":"https://other"}}`,
		"may_act is a string":       `{"sub":"usr_1","may_act":"agent1"}`,
		"may_act names nobody":      `{"sub":"usr_1","may_act":{}}`,
		"purpose is a number":       `{"sub":"usr_1","purpose":42}`,
		"purpose is too long":       `{"sub":"usr_1","purpose":"` + strings.Repeat("x", auth.MaxPurposeLength+1) + `"}`,
		"purpose spans lines":       `{"sub":"usr_1","purpose":"first\nsecond"}`,
		"purpose holds an escape":   `{"sub":"usr_1","purpose":"\u001b[31mred"}`,
	} {
		p, err := principalOf(t, claims)
		var te *auth.TokenError
		if !errors.As(err, &te) || !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("%s: accepted %+v (%v)", name, p, err)
			continue
		}
		if strings.Contains(te.Description, "agent") || strings.Contains(te.Description, "usr_1") {
			t.Errorf("%s: the description repeats the token: %q", name, te.Description)
		}
	}
}

// TestMayAct: may_act (RFC 8693 §4.4) lets the actor it names act, by sub,
// client_id and issuer (an actor without iss is the token issuer's); a
// token nobody acts for passes it.
func TestMayAct(t *testing.T) {
	for name, claims := range map[string]string{
		"by sub":              `{"iss":"https://idp","sub":"usr_1","act":{"sub":"agent1"},"may_act":{"sub":"agent1"}}`,
		"by client_id":        `{"iss":"https://idp","sub":"usr_1","act":{"sub":"x","client_id":"c1"},"may_act":{"client_id":"c1"}}`,
		"by the token issuer": `{"iss":"https://idp","sub":"usr_1","act":{"sub":"agent1"},"may_act":{"sub":"agent1","iss":"https://idp"}}`,
		"nobody acts yet":     `{"iss":"https://idp","sub":"usr_1","may_act":{"sub":"agent1"}}`,
	} {
		if p, err := principalOf(t, claims); err != nil {
			t.Errorf("%s: %v", name, err)
		} else if strings.Contains(claims, `"act"`) && len(p.ActorChain) != 1 {
			t.Errorf("%s: chain %v", name, p.ActorChain)
		}
	}
}

// sharedVerifier returns the same principal to everyone, like the cache.
type sharedVerifier struct{ p *auth.Principal }

func (f sharedVerifier) Verify(context.Context, string) (*auth.Principal, error) { return f.p, nil }

// TestRevocationVerifierStanding: a token with a grant is checked at every
// call; one that no longer stands is an invalid token, a check that cannot
// be made is unavailable, and the bounds read travel on a copy, never on
// the shared principal.
func TestRevocationVerifierStanding(t *testing.T) {
	shared := &auth.Principal{Subject: "usr_1", GrantID: "grt_1", ActorChain: []string{"agent1"}, Scopes: []string{"write:users"}}
	machine := &auth.Principal{Subject: "m2m", ClientID: "m2m"}
	bounds := []auth.Bound{{Party: auth.BoundRole, Name: "member", Scopes: []string{"read:users"}}}
	var asked []string
	standing := auth.Standing{Active: true, Bounds: bounds}
	var failure error
	check := func(_ context.Context, p *auth.Principal) (auth.Standing, error) {
		asked = append(asked, p.GrantID+"|"+strings.Join(p.ActorChain, ","))
		return standing, failure
	}

	got, err := auth.NewRevocationVerifier(sharedVerifier{shared}, check).Verify(t.Context(), "t")
	if err != nil || got == shared || !slices.Equal(asked, []string{"grt_1|agent1"}) {
		t.Fatalf("a standing token: %+v %v (asked %v)", got, err, asked)
	}
	if len(got.Bounds) != 1 || got.Bounds[0].Name != "member" || shared.Bounds != nil || got.Subject != "usr_1" {
		t.Errorf("bounds %+v on the copy, %+v on the shared principal", got.Bounds, shared.Bounds)
	}

	if p, err := auth.NewRevocationVerifier(sharedVerifier{machine}, check).Verify(t.Context(), "t"); err != nil || p != machine || len(asked) != 1 {
		t.Errorf("a token without a grant was checked or changed: %+v %v", p, err)
	}

	standing = auth.Standing{Why: "acting client agent1 is disabled"}
	if _, err := auth.NewRevocationVerifier(sharedVerifier{shared}, check).Verify(t.Context(), "t"); !errors.Is(err, auth.ErrInvalidToken) ||
		!strings.Contains(err.Error(), "revoked") {
		t.Errorf("a token that no longer stands: %v", err)
	}

	failure = errors.New("database down")
	if _, err := auth.NewRevocationVerifier(sharedVerifier{shared}, check).Verify(t.Context(), "t"); !errors.Is(err, auth.ErrUnavailable) ||
		errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("a failed check: %v", err)
	}
}
