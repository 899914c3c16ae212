package store_test

import (
	"errors"
	"testing"

	"github.com/orgscope/orgscope/store"
)

func TestCursorRoundTrip(t *testing.T) {
	c := store.EncodeCursor(store.ListUsers, "org_a", "usr_1")
	if got, err := store.DecodeCursor(c, store.ListUsers, "org_a"); err != nil || got != "usr_1" {
		t.Fatalf("DecodeCursor = %q, %v", got, err)
	}
	if store.EncodeCursor(store.ListUsers, "org_a", "") != "" {
		t.Fatal("the cursor of the last page is not empty")
	}
	for _, bad := range []string{
		"x", c + "x",
		store.EncodeCursor(store.ListAudit, "org_a", "usr_1"), // another listing
		store.EncodeCursor(store.ListUsers, "org_b", "usr_1"), // another org
		store.EncodeCursor(store.ListUsers, "org_a", "usr\x00"),
	} {
		if _, err := store.DecodeCursor(bad, store.ListUsers, "org_a"); !errors.Is(err, store.ErrInvalidCursor) {
			t.Errorf("DecodeCursor(%q) = %v, want ErrInvalidCursor", bad, err)
		}
	}
}

func TestOrgUpdateApply(t *testing.T) {
	name, v := "New", "x"
	o := store.OrgUpdate{Name: &name, Properties: map[string]*string{"a": nil, "b": &v}}.Apply(
		store.Org{Name: "Old", Properties: map[string]string{"a": "1", "c": "3"}})
	if o.Name != "New" || len(o.Properties) != 2 || o.Properties["b"] != "x" || o.Properties["c"] != "3" {
		t.Errorf("%+v", o)
	}
	if o := (store.OrgUpdate{Properties: map[string]*string{"a": nil}}).Apply(store.Org{Properties: map[string]string{"a": "1"}}); o.Properties != nil {
		t.Errorf("emptied properties = %v, want nil", o.Properties)
	}
}

func TestLikePrefix(t *testing.T) {
	if got := store.LikePrefix(`Ann_%\`); got != `ann\_\%\\%` {
		t.Errorf("LikePrefix = %q", got)
	}
}

func TestFlagTypeNormalize(t *testing.T) {
	for _, tc := range []struct {
		typ  store.FlagType
		in   string
		want string // "" means refused
	}{
		{store.FlagBoolean, ` true `, `true`},
		{store.FlagBoolean, `"true"`, ``},
		{store.FlagString, `"a b"`, `"a b"`},
		{store.FlagString, `1`, ``},
		{store.FlagInteger, `9007199254740991`, `9007199254740991`},
		{store.FlagInteger, `-9007199254740991`, `-9007199254740991`},
		{store.FlagInteger, `9007199254740992`, ``}, // would be rounded by float64 clients
		{store.FlagInteger, `1.5`, ``},
		{store.FlagJSON, `{ "a" : [1, 2] }`, `{"a":[1,2]}`},
		{store.FlagJSON, `{`, ``},
		{"color", `"red"`, ``},
	} {
		got, err := tc.typ.Normalize([]byte(tc.in))
		if tc.want == "" && err == nil || tc.want != "" && (err != nil || string(got) != tc.want) {
			t.Errorf("%s.Normalize(%s) = %s, %v; want %q", tc.typ, tc.in, got, err, tc.want)
		}
	}
}
