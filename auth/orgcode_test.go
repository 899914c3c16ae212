package auth_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/orgscope/orgscope/auth"
)

func TestCheckOrgCode(t *testing.T) {
	valid := []struct{ who, code string }{
		{"Kinde", "org_1ccfb819462"},
		{"Kinde", "org_1a2b"},
		{"Auth0", "org_9ybsU1dN2dKfDkBi"},
		{"Auth0", "org_AbC12"},
		{"Clerk", "org_2Pv5Q"},
		{"Clerk", "org_2NNEqL2nrIRdJ194ndJqAHwEfxC"},
		{"WorkOS", "org_01EHZNVPK3SFK441A1RGBFSHRT"},
		{"Entra ID tenant", "72f988bf-86f1-41af-91ab-2d7cd011db47"},
		{"Entra ID consumer tenant", "9188040d-6c67-4c5b-b112-36a304b66dad"},
		{"OrgScope demo", "org_acme"},
		{"plain word", "acme"},
		{"capitalised", "Delta"},
		{"dotted", "eu.acme-1"},
		{"one character", "a"},
		{"64 characters", strings.Repeat("a", 64)},
	}
	for _, tt := range valid {
		if err := auth.CheckOrgCode(tt.code); err != nil {
			t.Errorf("%s %q refused: %v", tt.who, tt.code, err)
		}
	}

	invalid := []struct {
		name, code, problem string
	}{
		{"empty", "", "it is empty"},
		{"space", "org_has space", "character 8 is not allowed"},
		{"NUL", "org_\x00acme", "character 5 is not allowed"},
		{"newline at the end", "org_acme\n", "character 9 is not allowed"},
		{"non-ASCII letter", "org_café", "character 8 is not allowed"},
		{"non-ASCII after a multi-byte one", "çorg", "first character"},
		{"fullwidth letters", "ｏｒｇ", "first character"},
		{"invalid UTF-8", "org_\xff", "character 5 is not allowed"},
		{"too long", strings.Repeat("a", 65), "it has 65 characters"},
		{"leading '-'", "-org", "first character"},
		{"leading '_'", "_org", "first character"},
		{"leading '.'", ".org", "first character"},
		{"slash", "org/acme", "character 4 is not allowed"},
		{"colon", "org:acme", "character 4 is not allowed"},
		{"quote", `org"acme`, "character 4 is not allowed"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			err := auth.CheckOrgCode(tt.code)
			if err == nil {
				t.Fatalf("%q accepted", tt.code)
			}
			if !errors.Is(err, auth.ErrInvalidOrgCode) {
				t.Errorf("error %v does not wrap ErrInvalidOrgCode", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.problem) || !strings.Contains(msg, "1 to 64 characters") {
				t.Errorf("error %q: want it to say %q and state the rule", msg, tt.problem)
			}
			if len(tt.code) > 1 && strings.Contains(msg, tt.code) {
				t.Errorf("error %q repeats the code", msg)
			}
		})
	}
}

// FuzzCheckOrgCode keeps OrgCodePattern, which JSON Schemas carry, in
// agreement with CheckOrgCode, which is the rule.
func FuzzCheckOrgCode(f *testing.F) {
	for _, s := range []string{"org_acme", "", "-a", "a b", "org_é", strings.Repeat("a", 64), strings.Repeat("a", 65), "a\n", "A.b-c_d"} {
		f.Add(s)
	}
	pattern := regexp.MustCompile(auth.OrgCodePattern)
	f.Fuzz(func(t *testing.T, s string) {
		err := auth.CheckOrgCode(s)
		if matched := pattern.MatchString(s); matched != (err == nil) {
			t.Fatalf("%q: pattern matched=%v, CheckOrgCode=%v", s, matched, err)
		}
	})
}
