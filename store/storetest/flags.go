package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
)

var flagTests = []test{
	{"FlagCreateGet", testFlagCreateGet},
	{"FlagEffective", testFlagEffective},
	{"FlagMissingOrgOrFlag", testFlagMissingOrgOrFlag},
	{"FlagDeleteOverride", testFlagDeleteOverride},
	{"FlagDelete", testFlagDelete},
	{"FlagList", testFlagList},
}

func createFlag(t *testing.T, s store.Store, key string, typ store.FlagType, def string) store.FlagDefinition {
	t.Helper()
	d, err := s.CreateFlag(t.Context(), store.FlagDefinition{Key: key, Type: typ, DefaultValue: json.RawMessage(def)})
	ok(t, err, "CreateFlag "+key)
	return d
}

func effective(t *testing.T, s store.Store, org, key string) store.EffectiveFlag {
	t.Helper()
	f, err := s.GetEffectiveFlag(t.Context(), org, key)
	ok(t, err, "GetEffectiveFlag "+key)
	return f
}

// definition reads a flag's definition, as an org sees it.
func definition(t *testing.T, s store.Store, key string) store.FlagDefinition {
	t.Helper()
	return effective(t, s, "org_a", key).Definition
}

func testFlagCreateGet(t *testing.T, s store.Store) {
	createOrg(t, s, "org_a")
	want := store.FlagDefinition{
		Key:          "new_dashboard",
		Type:         store.FlagJSON,
		DefaultValue: json.RawMessage(`{"columns":3,"theme":"dark"}`),
		Description:  "The new dashboard layout",
		CreatedAt:    past,
		UpdatedAt:    past.Add(time.Second),
	}
	got, err := s.CreateFlag(t.Context(), want)
	ok(t, err, "CreateFlag")
	equal(t, "CreateFlag result", got, want)
	equal(t, "stored definition", definition(t, s, "new_dashboard"), want)

	_, err = s.CreateFlag(t.Context(), store.FlagDefinition{Key: "new_dashboard", Type: store.FlagBoolean, DefaultValue: json.RawMessage("true")})
	wantErr(t, err, store.ErrConflict, "CreateFlag duplicate")
	equal(t, "flag after refused duplicate", definition(t, s, "new_dashboard"), want)

	fresh := createFlag(t, s, "beta", store.FlagBoolean, "false")
	if !isStamped(fresh.CreatedAt) || !fresh.UpdatedAt.Equal(fresh.CreatedAt) {
		t.Fatalf("CreatedAt %v, UpdatedAt %v: want equal, set, UTC microseconds", fresh.CreatedAt, fresh.UpdatedAt)
	}
	equal(t, "stored definition with default times", definition(t, s, "beta"), fresh)

	_, err = s.GetEffectiveFlag(t.Context(), "org_a", "nope")
	wantErr(t, err, store.ErrNotFound, "GetEffectiveFlag missing")
}

func testFlagEffective(t *testing.T, s store.Store) {
	createOrg(t, s, "org_a")
	def := createFlag(t, s, "limit", store.FlagInteger, "10")

	f := effective(t, s, "org_a", "limit")
	equal(t, "effective flag without override", f, store.EffectiveFlag{Definition: def})
	equal(t, "default value", string(f.Value()), "10")

	set, err := s.SetFlagOverride(t.Context(), "org_a", "limit", json.RawMessage("25"))
	ok(t, err, "SetFlagOverride")
	if !isStamped(set.UpdatedAt) {
		t.Fatalf("override UpdatedAt %v not set", set.UpdatedAt)
	}
	equal(t, "SetFlagOverride result", set, store.FlagOverride{OrgCode: "org_a", Key: "limit", Value: json.RawMessage("25"), UpdatedAt: set.UpdatedAt})
	f = effective(t, s, "org_a", "limit")
	equal(t, "effective flag with override", f, store.EffectiveFlag{Definition: def, Override: &set})
	equal(t, "overridden value", string(f.Value()), "25")
	listed := allFlags(t, s, "org_a", 10)
	equal(t, "listed flags", listed, []store.EffectiveFlag{f})

	// Setting again replaces the value.
	again, err := s.SetFlagOverride(t.Context(), "org_a", "limit", json.RawMessage("30"))
	ok(t, err, "SetFlagOverride again")
	if again.UpdatedAt.Before(set.UpdatedAt) {
		t.Fatalf("override UpdatedAt went back from %v to %v", set.UpdatedAt, again.UpdatedAt)
	}
	f = effective(t, s, "org_a", "limit")
	equal(t, "replaced override", f.Override, &again)
	equal(t, "definition after overrides", f.Definition, def)
}

func testFlagMissingOrgOrFlag(t *testing.T, s store.Store) {
	ctx := t.Context()
	createOrg(t, s, "org_a")
	def := createFlag(t, s, "beta", store.FlagBoolean, "false")

	_, err := s.SetFlagOverride(ctx, "org_nope", "beta", json.RawMessage("true"))
	wantErr(t, err, store.ErrNotFound, "SetFlagOverride missing org")
	_, err = s.SetFlagOverride(ctx, "org_a", "nope", json.RawMessage("true"))
	wantErr(t, err, store.ErrNotFound, "SetFlagOverride missing flag")
	_, err = s.DeleteFlagOverride(ctx, "org_nope", "beta")
	wantErr(t, err, store.ErrNotFound, "DeleteFlagOverride missing org")
	_, err = s.DeleteFlagOverride(ctx, "org_a", "nope")
	wantErr(t, err, store.ErrNotFound, "DeleteFlagOverride missing flag")
	_, err = s.GetEffectiveFlag(ctx, "org_nope", "beta")
	wantErr(t, err, store.ErrNotFound, "GetEffectiveFlag missing org")
	_, err = s.GetEffectiveFlag(ctx, "org_a", "nope")
	wantErr(t, err, store.ErrNotFound, "GetEffectiveFlag missing flag")
	_, _, err = s.ListEffectiveFlags(ctx, "org_nope", store.Page{})
	wantErr(t, err, store.ErrNotFound, "ListEffectiveFlags missing org")
	wantErr(t, s.DeleteFlag(ctx, "nope"), store.ErrNotFound, "DeleteFlag missing")

	equal(t, "flags after refused writes", allFlags(t, s, "org_a", 10), []store.EffectiveFlag{{Definition: def}})
	_, err = s.GetEffectiveFlag(ctx, "org_a", "nope")
	wantErr(t, err, store.ErrNotFound, "flag after refused override")
}

func testFlagDeleteOverride(t *testing.T, s store.Store) {
	createOrg(t, s, "org_a")
	def := createFlag(t, s, "beta", store.FlagBoolean, "false")
	_, err := s.SetFlagOverride(t.Context(), "org_a", "beta", json.RawMessage("true"))
	ok(t, err, "SetFlagOverride")

	deleted, err := s.DeleteFlagOverride(t.Context(), "org_a", "beta")
	ok(t, err, "DeleteFlagOverride")
	equal(t, "first delete deleted", deleted, true)
	deleted, err = s.DeleteFlagOverride(t.Context(), "org_a", "beta")
	ok(t, err, "DeleteFlagOverride again")
	equal(t, "second delete deleted", deleted, false)
	equal(t, "effective flag after delete", effective(t, s, "org_a", "beta"), store.EffectiveFlag{Definition: def})
}

func testFlagDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	createOrg(t, s, "org_a")
	createOrg(t, s, "org_b")
	createFlag(t, s, "doomed", store.FlagString, `"x"`)
	kept := createFlag(t, s, "kept", store.FlagString, `"y"`)
	for _, org := range []string{"org_a", "org_b"} {
		for _, key := range []string{"doomed", "kept"} {
			_, err := s.SetFlagOverride(ctx, org, key, json.RawMessage(`"`+org+`"`))
			ok(t, err, "SetFlagOverride")
		}
	}
	keptA := effective(t, s, "org_a", "kept")

	ok(t, s.DeleteFlag(ctx, "doomed"), "DeleteFlag")
	_, err := s.GetEffectiveFlag(ctx, "org_a", "doomed")
	wantErr(t, err, store.ErrNotFound, "GetEffectiveFlag after delete")
	equal(t, "flags of org_a after delete", allFlags(t, s, "org_a", 10), []store.EffectiveFlag{keptA})

	// A flag defined again under the same key starts without overrides.
	redefined := createFlag(t, s, "doomed", store.FlagString, `"z"`)
	for _, org := range []string{"org_a", "org_b"} {
		equal(t, "redefined flag in "+org, effective(t, s, org, "doomed"), store.EffectiveFlag{Definition: redefined})
	}
	equal(t, "other flag's override", effective(t, s, "org_a", "kept").Override.Value, json.RawMessage(`"org_a"`))
	equal(t, "other flag's definition", effective(t, s, "org_b", "kept").Definition, kept)
}

func testFlagList(t *testing.T, s store.Store) {
	ctx := t.Context()
	createOrg(t, s, "org_a")
	keyOrder := []string{"g", "c", "a", "f", "b", "e", "d"}
	for _, k := range keyOrder {
		createFlag(t, s, k, store.FlagBoolean, "false")
	}
	overridden := map[string]bool{"a": true, "d": true, "g": true}
	for k := range overridden {
		_, err := s.SetFlagOverride(ctx, "org_a", k, json.RawMessage("true"))
		ok(t, err, "SetFlagOverride")
	}
	want := sortedCopy(keyOrder)
	for _, limit := range []int{1, 2, 7, 0} {
		flags := allFlags(t, s, "org_a", limit)
		equal(t, fmt.Sprintf("keys listed with limit %d", limit), keys(flags, flagKey), want)
		for _, f := range flags {
			if (f.Override != nil) != overridden[f.Definition.Key] || string(f.Value()) != fmt.Sprint(overridden[f.Definition.Key]) {
				t.Fatalf("flag %s: override %+v, value %s", f.Definition.Key, f.Override, f.Value())
			}
		}
	}
	seedUsers(t, s, "org_a", 2)
	_, userCursor, err := s.ListUsers(ctx, "org_a", store.UserFilter{}, store.Page{Limit: 1})
	ok(t, err, "ListUsers")
	for _, c := range []string{"garbage", "e30", userCursor} {
		_, _, err := s.ListEffectiveFlags(ctx, "org_a", store.Page{Cursor: c})
		wantErr(t, err, store.ErrInvalidCursor, fmt.Sprintf("ListEffectiveFlags cursor %q", c))
	}
}
