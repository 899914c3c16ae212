package tools_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/tools"
)

// flag is FlagOutput with its values kept as JSON, to compare exactly.
type flag struct {
	Key          string          `json:"key"`
	Type         string          `json:"type"`
	Value        json.RawMessage `json:"value"`
	Source       string          `json:"source"`
	DefaultValue json.RawMessage `json:"default_value"`
	Description  string          `json:"description,omitempty"`
	Removed      *bool           `json:"removed,omitempty"`
}

func (f flag) String() string {
	return f.Key + "=" + string(f.Value) + " (" + f.Source + ", " + f.Type + ", default " + string(f.DefaultValue) + ")"
}

type flagPage struct {
	Flags      []flag `json:"flags"`
	NextCursor string `json:"next_cursor"`
}

func TestListFeatureFlags(t *testing.T) {
	e := newEnv(t)
	p := orgP(acme, auth.ScopeReadFlags)
	want := []flag{
		{Key: "dark_mode", Type: "boolean", Value: raw(`false`), Source: "default", DefaultValue: raw(`false`), Description: "Dark theme."},
		{Key: "max_seats", Type: "integer", Value: raw(`50`), Source: "override", DefaultValue: raw(`10`)},
		{Key: "onboarding", Type: "json", Value: raw(`{"steps":3}`), Source: "default", DefaultValue: raw(`{"steps":3}`)},
		{Key: "theme", Type: "string", Value: raw(`"classic"`), Source: "default", DefaultValue: raw(`"classic"`)},
	}
	got := ok[flagPage](e, p, "list_feature_flags", nil)
	if !reflect.DeepEqual(got.Flags, want) || got.NextCursor != "" {
		t.Errorf("acme's flags:\n got %v\nwant %v", got.Flags, want)
	}
	// Beta has no override: it sees the default.
	gotBeta := ok[flagPage](e, orgP(beta, auth.ScopeWriteFlags), "list_feature_flags", nil)
	if len(gotBeta.Flags) != 4 || gotBeta.Flags[1].String() != "max_seats=10 (default, integer, default 10)" {
		t.Errorf("beta's flags: %v", gotBeta.Flags)
	}

	var paged []flag
	for cursor, n := "", 0; ; n++ {
		args := map[string]any{"limit": 3}
		if cursor != "" {
			args["cursor"] = cursor
		}
		page := ok[flagPage](e, p, "list_feature_flags", args)
		paged = append(paged, page.Flags...)
		if cursor = page.NextCursor; cursor == "" || n > 3 {
			break
		}
	}
	if !reflect.DeepEqual(paged, want) {
		t.Errorf("paged: %v", paged)
	}
	betaCursor := ok[flagPage](e, orgP(beta, auth.ScopeReadFlags), "list_feature_flags", map[string]any{"limit": 1}).NextCursor
	e.fails(p, "list_feature_flags", map[string]any{"cursor": betaCursor}, "cursor is not valid for this listing")
	e.fails(p, "list_feature_flags", map[string]any{"limit": -1}, "limit must be between 1 and 100")
	e.fails(p, "list_feature_flags", map[string]any{"limit": 1000}, "limit must be between 1 and 100")
	e.fails(p, "list_feature_flags", map[string]any{"org_code": beta}, `organization "org_beta" not found`)
	g := globalP(auth.ScopeReadFlags)
	e.fails(g, "list_feature_flags", nil, "org_code is required with a global token")
	if got := ok[flagPage](e, g, "list_feature_flags", map[string]any{"org_code": acme}); !reflect.DeepEqual(got.Flags, want) {
		t.Errorf("global, acme: %v", got.Flags)
	}
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func TestGetFeatureFlag(t *testing.T) {
	e := newEnv(t)
	p := orgP(acme, auth.ScopeReadFlags)
	if got := ok[flag](e, p, "get_feature_flag", map[string]any{"key": "max_seats"}); got.String() != "max_seats=50 (override, integer, default 10)" {
		t.Errorf("max_seats: %v", got)
	}
	if got := ok[flag](e, p, "get_feature_flag", map[string]any{"key": "dark_mode"}); got.String() != "dark_mode=false (default, boolean, default false)" ||
		got.Description != "Dark theme." {
		t.Errorf("dark_mode: %v", got)
	}
	e.fails(p, "get_feature_flag", map[string]any{"key": "nope"},
		`feature flag "nope" not found; list_feature_flags shows the defined flags`)
	e.fails(p, "get_feature_flag", map[string]any{"key": "Dark-Mode"}, "is not valid: use up to 64 lower-case letters")
	e.fails(p, "get_feature_flag", map[string]any{"key": "_x"}, "is not valid: use up to 64 lower-case letters")
	e.fails(p, "get_feature_flag", map[string]any{"key": strings.Repeat("k", 65)}, "key")
	e.fails(p, "get_feature_flag", nil, "key")
	e.fails(p, "get_feature_flag", map[string]any{"key": "max_seats", "org_code": beta}, `organization "org_beta" not found`)
	g := globalP(auth.ScopeReadFlags)
	if got := ok[flag](e, g, "get_feature_flag", map[string]any{"key": "max_seats", "org_code": beta}); got.Source != "default" {
		t.Errorf("global, beta: %v", got)
	}
}

func TestSetFeatureFlag(t *testing.T) {
	e := newEnv(t)
	p := orgP(acme, auth.ScopeWriteFlags)

	for _, tc := range []struct {
		key, value, want string
	}{
		{"dark_mode", `true`, `true`},
		{"max_seats", `42`, `42`},
		{"max_seats", `9007199254740991`, `9007199254740991`}, // 2^53-1: the largest the go-sdk keeps exact
		{"max_seats", `-3`, `-3`},
		{"theme", `"sunset"`, `"sunset"`},
		{"theme", `""`, `""`},
		{"onboarding", `{"steps": 5, "video": [true, null]}`, `{"steps":5,"video":[true,null]}`},
		{"onboarding", `"just a string"`, `"just a string"`},
		{"onboarding", `12.5`, `12.5`},
	} {
		got := ok[flag](e, p, "set_feature_flag", map[string]any{"key": tc.key, "value": raw(tc.value)})
		if string(got.Value) != tc.want || got.Source != "override" || got.Key != tc.key {
			t.Errorf("set %s to %s: %v", tc.key, tc.value, got)
		}
		e.lastEvent(acme, p, "set_feature_flag", tc.key)
		read := ok[flag](e, orgP(acme, auth.ScopeReadFlags), "get_feature_flag", map[string]any{"key": tc.key})
		if read.String() != got.String() {
			t.Errorf("get_feature_flag after set: %v, set returned %v", read, got)
		}
	}
	if got := ok[flag](e, orgP(beta, auth.ScopeReadFlags), "get_feature_flag", map[string]any{"key": "dark_mode"}); got.Source != "default" {
		t.Errorf("acme's override shows in beta: %v", got)
	}

	before := e.dump()
	for _, tc := range []struct {
		key, value, want string
	}{
		{"dark_mode", `"true"`, `flag "dark_mode" is of type boolean: value "true" is not a boolean`},
		{"dark_mode", `1`, `value 1 is not a boolean`},
		{"dark_mode", `null`, `value null is not a boolean`},
		{"max_seats", `4.5`, `flag "max_seats" is of type integer: value 4.5 is not an integer between`},
		{"max_seats", `"42"`, `value "42" is not an integer between`},
		{"max_seats", `99999999999999999999`, `is not an integer between`},
		{"max_seats", `true`, `value true is not an integer between`},
		{"theme", `5`, `flag "theme" is of type string: value 5 is not a string`},
		{"theme", `["a"]`, `is not a string`},
		{"theme", `null`, `is not a string`},
	} {
		e.fails(p, "set_feature_flag", map[string]any{"key": tc.key, "value": raw(tc.value)}, tc.want)
	}
	e.fails(p, "set_feature_flag", map[string]any{"key": "theme"}, "value")
	e.fails(p, "set_feature_flag", map[string]any{"key": "onboarding", "value": strings.Repeat("x", 9000)}, "value is larger than 8192 bytes")
	e.fails(p, "set_feature_flag", map[string]any{"key": "nope", "value": true}, `feature flag "nope" not found`)
	e.fails(p, "set_feature_flag", map[string]any{"key": "dark_mode", "value": true, "org_code": beta}, `organization "org_beta" not found`)
	e.fails(orgP(acme, auth.ScopeReadFlags), "set_feature_flag", map[string]any{"key": "dark_mode", "value": true},
		"set_feature_flag needs scope write:flags, which this access token lacks")
	e.unchanged(before, "refused set_feature_flag")

	g := globalP(auth.ScopeWriteFlags)
	if got := ok[flag](e, g, "set_feature_flag", map[string]any{"key": "theme", "value": "night", "org_code": beta}); got.String() != `theme="night" (override, string, default "classic")` {
		t.Errorf("global, beta: %v", got)
	}
	e.lastEvent(beta, g, "set_feature_flag", "theme")
}

func TestResetFeatureFlag(t *testing.T) {
	e := newEnv(t)
	p := orgP(acme, auth.ScopeWriteFlags)
	if _, err := e.st.SetFlagOverride(t.Context(), beta, "max_seats", raw(`7`)); err != nil {
		t.Fatal(err)
	}

	got := ok[flag](e, p, "reset_feature_flag", map[string]any{"key": "max_seats"})
	if got.String() != "max_seats=10 (default, integer, default 10)" || got.Removed == nil || !*got.Removed {
		t.Errorf("reset: %v removed=%v", got, got.Removed)
	}
	e.lastEvent(acme, p, "reset_feature_flag", "max_seats")
	if read := ok[flag](e, orgP(acme, auth.ScopeReadFlags), "get_feature_flag", map[string]any{"key": "max_seats"}); read.Source != "default" {
		t.Errorf("after reset: %v", read)
	}
	if f, _ := e.st.GetEffectiveFlag(t.Context(), beta, "max_seats"); f.Override == nil || string(f.Override.Value) != "7" {
		t.Errorf("beta's override was touched: %+v", f.Override)
	}

	// Nothing to remove: removed false, and the call is recorded all the same.
	again := ok[flag](e, p, "reset_feature_flag", map[string]any{"key": "max_seats"})
	if again.Removed == nil || *again.Removed || again.Source != "default" {
		t.Errorf("second reset: %v removed=%v", again, again.Removed)
	}
	e.lastEvent(acme, p, "reset_feature_flag", "max_seats")

	before := e.dump()
	e.fails(p, "reset_feature_flag", map[string]any{"key": "nope"}, `feature flag "nope" not found`)
	e.fails(p, "reset_feature_flag", map[string]any{"key": "max_seats", "org_code": beta}, `organization "org_beta" not found`)
	e.fails(p, "reset_feature_flag", map[string]any{"key": "Max"}, "is not valid: use up to 64 lower-case letters")
	e.unchanged(before, "refused reset_feature_flag")
}

func TestCreateFeatureFlag(t *testing.T) {
	e := newEnv(t)
	g := globalP(auth.ScopeWriteFlags)

	got := ok[store.FlagDefinition](e, g, "create_feature_flag", map[string]any{
		"key": "new_limit", "type": "integer", "default_value": 5, "description": "  A limit.  ",
	})
	if got.Key != "new_limit" || got.Type != store.FlagInteger || string(got.DefaultValue) != "5" || got.Description != "A limit." || got.CreatedAt.IsZero() {
		t.Errorf("create_feature_flag = %+v", got)
	}
	e.lastEvent("", g, "create_feature_flag", "new_limit")
	for _, org := range []string{acme, beta} {
		f := ok[flag](e, orgP(org, auth.ScopeReadFlags), "get_feature_flag", map[string]any{"key": "new_limit"})
		if f.String() != "new_limit=5 (default, integer, default 5)" {
			t.Errorf("%s sees %v", org, f)
		}
	}
	for _, tc := range []struct{ key, typ, value string }{
		{"b_flag", "boolean", `true`}, {"s_flag", "string", `"x"`}, {"j_flag", "json", `{"a":[1,2]}`}, {"j_null", "json", `null`},
	} {
		got := ok[store.FlagDefinition](e, g, "create_feature_flag", map[string]any{"key": tc.key, "type": tc.typ, "default_value": raw(tc.value)})
		if string(got.DefaultValue) != tc.value || string(got.Type) != tc.typ {
			t.Errorf("create %s: %+v", tc.key, got)
		}
	}

	before := e.dump()
	for _, tc := range []struct {
		args map[string]any
		want []string
	}{
		{map[string]any{"key": "dark_mode", "type": "boolean", "default_value": true}, []string{`feature flag "dark_mode" already exists`}},
		{map[string]any{"key": "x_bool", "type": "boolean", "default_value": "yes"}, []string{`default_value: value "yes" is not a boolean`}},
		{map[string]any{"key": "x_int", "type": "integer", "default_value": 1.5}, []string{`default_value: value 1.5 is not an integer between`}},
		{map[string]any{"key": "x_str", "type": "string", "default_value": 3}, []string{`default_value: value 3 is not a string`}},
		{map[string]any{"key": "x_float", "type": "float", "default_value": 1.5}, []string{`unknown flag type "float"`}},
		{map[string]any{"key": "x_none", "type": "string"}, []string{"default_value"}},
		{map[string]any{"key": "Bad-Key", "type": "string", "default_value": "x"}, []string{"is not valid: use up to 64 lower-case letters"}},
		{map[string]any{"key": "1abc", "type": "string", "default_value": "x"}, []string{"is not valid: use up to 64 lower-case letters"}},
		{map[string]any{"key": "x_desc", "type": "string", "default_value": "x", "description": strings.Repeat("d", 501)}, []string{"description is longer than 500 characters"}},
		{map[string]any{"key": "x_big", "type": "string", "default_value": strings.Repeat("v", 9000)}, []string{"default_value is larger than 8192 bytes"}},
		{map[string]any{"key": "x_org", "type": "string", "default_value": "x", "org_code": acme}, []string{`unknown argument "org_code"`}},
	} {
		e.fails(g, "create_feature_flag", tc.args, tc.want...)
	}
	e.fails(orgP(acme, all...), "create_feature_flag", map[string]any{"key": "x_mine", "type": "boolean", "default_value": true},
		"create_feature_flag is for administrators: it needs a global token (one without org_code); this token is bound to org_acme")
	e.fails(globalP(auth.ScopeReadFlags, auth.ScopeWriteUsers), "create_feature_flag", map[string]any{"key": "x_mine", "type": "boolean", "default_value": true},
		"create_feature_flag needs scope write:flags")
	e.unchanged(before, "refused create_feature_flag")
}

func TestDeleteFeatureFlag(t *testing.T) {
	e := newEnv(t)
	g := globalP(auth.ScopeWriteFlags)
	if _, err := e.st.SetFlagOverride(t.Context(), beta, "max_seats", raw(`7`)); err != nil {
		t.Fatal(err)
	}

	before := e.dump()
	e.fails(orgP(acme, all...), "delete_feature_flag", map[string]any{"key": "max_seats"},
		"delete_feature_flag is for administrators: it needs a global token")
	e.fails(globalP(auth.ScopeReadFlags), "delete_feature_flag", map[string]any{"key": "max_seats"},
		"delete_feature_flag needs scope write:flags")
	e.fails(g, "delete_feature_flag", map[string]any{"key": "nope"}, `feature flag "nope" not found`)
	e.fails(g, "delete_feature_flag", map[string]any{"key": "No"}, "is not valid: use up to 64 lower-case letters")
	e.unchanged(before, "refused delete_feature_flag")

	got := ok[service.DeleteFlagOutput](e, g, "delete_feature_flag", map[string]any{"key": "max_seats"})
	if got != (service.DeleteFlagOutput{Deleted: true, Key: "max_seats"}) {
		t.Errorf("delete_feature_flag = %+v", got)
	}
	e.lastEvent("", g, "delete_feature_flag", "max_seats")
	for _, org := range []string{acme, beta} {
		e.fails(orgP(org, auth.ScopeReadFlags), "get_feature_flag", map[string]any{"key": "max_seats"}, `feature flag "max_seats" not found`)
		page := ok[flagPage](e, orgP(org, auth.ScopeReadFlags), "list_feature_flags", nil)
		var keys []string
		for _, f := range page.Flags {
			keys = append(keys, f.Key)
		}
		if !slices.Equal(keys, []string{"dark_mode", "onboarding", "theme"}) {
			t.Errorf("%s: flags %v", org, keys)
		}
	}
	e.fails(g, "delete_feature_flag", map[string]any{"key": "max_seats"}, `feature flag "max_seats" not found`)
}

// TestAnswerOverTheCapIsRefused: a page whose answer would exceed
// tools.MaxResultBytes is not sent: the call gets a tool error asking for a
// smaller page and nothing else (no structured content, no part of the
// page); a smaller page of the same flags is answered.
func TestAnswerOverTheCapIsRefused(t *testing.T) {
	e := newEnv(t)
	value, _ := json.Marshal(strings.Repeat("v", service.MaxFlagValueBytes-2))
	// Each listed flag carries its value twice (effective and default).
	n := tools.MaxResultBytes/(2*service.MaxFlagValueBytes) + 1
	for i := range n {
		if _, err := e.st.CreateFlag(t.Context(), store.FlagDefinition{Key: fmt.Sprintf("big_%03d", i), Type: store.FlagString,
			DefaultValue: value}); err != nil {
			t.Fatal(err)
		}
	}
	cs := e.session(orgP(acme, auth.ScopeReadFlags))
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "list_feature_flags", Arguments: map[string]any{"limit": 100}})
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := json.Marshal(res)
	text := ""
	if len(res.Content) == 1 {
		if tc, ok := res.Content[0].(*mcp.TextContent); ok {
			text = tc.Text
		}
	}
	if !res.IsError || res.StructuredContent != nil || len(res.Content) != 1 ||
		!strings.Contains(text, "larger than 256 KiB: ask for a smaller page (limit)") {
		t.Errorf("%d flags of %d bytes in one page: %.300s, want only a tool error asking for a smaller page", n, len(value), answer)
	}
	if len(answer) > 1024 {
		t.Errorf("the refusal is %d bytes: part of the page was sent", len(answer))
	}

	page := call(t, cs, "list_feature_flags", map[string]any{"limit": 10})
	var got flagPage
	if page.isError || json.Unmarshal(page.raw, &got) != nil || len(got.Flags) != 10 || got.NextCursor == "" {
		t.Errorf("a page of 10: %.200s", page.text)
	}
}
