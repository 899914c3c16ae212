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
