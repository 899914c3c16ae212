package tools_test

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/orgscope/orgscope/authz"
)

// propRule is what one input property must declare.
type propRule struct {
	enum           []any
	min, max       *float64
	pattern        string
	format         string
	minLen, maxLen *int
	described      bool // must have a description
}

func floatp(v float64) *float64 { return &v }
func intp(v int) *int           { return &v }

// inputRules lists, for every tool, its input properties with their
// constraints, and the required ones; written down here, not derived from
// the code.
func inputRules() map[string]struct {
	props    map[string]propRule
	required []string
} {
	var (
		orgCode  = propRule{pattern: `^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`, maxLen: intp(64), described: true}
		limit    = propRule{min: floatp(1), max: floatp(100), described: true}
		cursor   = propRule{minLen: intp(0), maxLen: intp(512), described: true}
		userID   = propRule{pattern: `^usr_[0-9a-f]{32}$`, maxLen: intp(36), described: true}
		key      = propRule{pattern: `^[a-z][a-z0-9_]{0,63}$`, maxLen: intp(64)}
		status   = propRule{enum: []any{"active", "suspended"}}
		role     = propRule{enum: []any{"admin", "member"}}
		email    = propRule{format: "email", maxLen: intp(254)}
		name     = propRule{minLen: intp(0), maxLen: intp(100)}
		orgName  = propRule{minLen: intp(1), maxLen: intp(200)}
		anyJSON  = propRule{described: true}
		clientID = propRule{pattern: `^[A-Za-z0-9._~-]{1,128}$`, maxLen: intp(128), described: true}
	)
	type rules = struct {
		props    map[string]propRule
		required []string
	}
	return map[string]rules{
		"whoami": {props: map[string]propRule{}},
		"list_users": {props: map[string]propRule{"org_code": orgCode, "cursor": cursor, "limit": limit, "status": status,
			"email_prefix": {minLen: intp(0), maxLen: intp(254), described: true}, "name_prefix": {minLen: intp(0), maxLen: intp(100), described: true}}},
		"get_user":    {props: map[string]propRule{"org_code": orgCode, "user_id": userID}, required: []string{"user_id"}},
		"create_user": {props: map[string]propRule{"org_code": orgCode, "email": email, "given_name": name, "family_name": name, "role": role}, required: []string{"email"}},
		"update_user": {props: map[string]propRule{"org_code": orgCode, "user_id": userID, "email": email, "given_name": name,
			"family_name": name, "status": status, "role": role}, required: []string{"user_id"}},
		"delete_user":         {props: map[string]propRule{"org_code": orgCode, "user_id": userID}, required: []string{"user_id"}},
		"get_organization":    {props: map[string]propRule{"org_code": orgCode}},
		"update_organization": {props: map[string]propRule{"org_code": orgCode, "name": orgName, "properties": {described: true}}},
		"list_organizations":  {props: map[string]propRule{"cursor": cursor, "limit": limit}},
		"create_organization": {props: map[string]propRule{"org_code": orgCode, "name": orgName, "properties": {}}, required: []string{"org_code", "name"}},
		"list_feature_flags":  {props: map[string]propRule{"org_code": orgCode, "cursor": cursor, "limit": limit}},
		"get_feature_flag":    {props: map[string]propRule{"org_code": orgCode, "key": key}, required: []string{"key"}},
		"set_feature_flag":    {props: map[string]propRule{"org_code": orgCode, "key": key, "value": anyJSON}, required: []string{"key", "value"}},
		"reset_feature_flag":  {props: map[string]propRule{"org_code": orgCode, "key": key}, required: []string{"key"}},
		"create_feature_flag": {props: map[string]propRule{"key": key, "type": {enum: []any{"boolean", "string", "integer", "json"}},
			"default_value": anyJSON, "description": {minLen: intp(0), maxLen: intp(500)}}, required: []string{"key", "type", "default_value"}},
		"delete_feature_flag": {props: map[string]propRule{"key": key}, required: []string{"key"}},
		"list_audit_events": {props: map[string]propRule{"org_code": orgCode, "cursor": cursor, "limit": limit,
			"since": {format: "date-time", maxLen: intp(64), described: true}, "until": {format: "date-time", maxLen: intp(64), described: true},
			"client_id": {described: true}, "subject": {described: true}, "action": {described: true},
			"decision": {enum: []any{"allow", "deny"}, described: true}}},
		"list_clients": {props: map[string]propRule{"org_code": orgCode, "cursor": cursor, "limit": limit, "global": {described: true}}},
		"create_client": {props: map[string]propRule{"org_code": orgCode, "name": {minLen: intp(1), maxLen: intp(200), described: true},
			"global": {described: true}, "scopes": {described: true}, "properties": {described: true},
			"token_ttl_seconds": {min: floatp(60), max: floatp(86400), described: true}, "delegate": {described: true},
			"jwks": {described: true}, "jwks_uri": {format: "uri", maxLen: intp(2048), described: true}},
			required: []string{"name", "scopes"}},
		"rotate_client_secret": {props: map[string]propRule{"org_code": orgCode, "client_id": clientID,
			"grace_seconds": {min: floatp(0), max: floatp(30 * 86400), described: true}}, required: []string{"client_id"}},
		"disable_client": {props: map[string]propRule{"org_code": orgCode, "client_id": clientID}, required: []string{"client_id"}},
		"list_delegations": {props: map[string]propRule{"org_code": orgCode, "cursor": cursor, "limit": limit, "user_id": userID,
			"email": {format: "email", maxLen: intp(254), described: true}, "include_revoked": {described: true}}},
		"revoke_delegation": {props: map[string]propRule{"org_code": orgCode,
			"grant_id": {pattern: `^grt_[0-9a-f]{32}$`, maxLen: intp(36), described: true}}, required: []string{"grant_id"}},
	}
}

// TestToolDefinitions checks what tools/list tells an agent about each
// tool: the set of tools, titles and descriptions, annotations, and the
// input schema's properties with their enums, bounds, patterns and formats.
func TestToolDefinitions(t *testing.T) {
	e := newEnv(t)
	res, err := e.session(globalP(all...)).ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]*mcp.Tool{}
	for _, tool := range res.Tools {
		listed[tool.Name] = tool
	}
	var want, catalog []string
	for _, tc := range toolTable {
		want = append(want, tc.name)
	}
	for _, s := range authz.Tools() {
		catalog = append(catalog, s.Name)
	}
	if got := slices.Sorted(maps.Keys(listed)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Fatalf("registered tools %v, want %v", got, want)
	}
	if !slices.Equal(catalog, want) {
		t.Errorf("catalog %v, want %v", catalog, want)
	}

	rules := inputRules()
	for _, tc := range toolTable {
		tool := listed[tc.name]
		t.Run(tc.name, func(t *testing.T) {
			if len(tool.Description) < 20 || tool.Title == "" {
				t.Errorf("description %q, title %q", tool.Description, tool.Title)
			}
			a := tool.Annotations
			if a == nil {
				t.Fatal("no annotations")
			}
			if a.ReadOnlyHint != tc.readOnly {
				t.Errorf("readOnlyHint %v, want %v", a.ReadOnlyHint, tc.readOnly)
			}
			if a.DestructiveHint == nil || *a.DestructiveHint != tc.destroys {
				t.Errorf("destructiveHint %v, want %v", a.DestructiveHint, tc.destroys)
			}
			if a.OpenWorldHint == nil || *a.OpenWorldHint {
				t.Errorf("openWorldHint %v, want false: the tools reach only OrgScope's database", a.OpenWorldHint)
			}
			if tc.readOnly && !a.IdempotentHint {
				t.Error("a read-only tool is not idempotent")
			}
			if slices.Contains([]string{"create_user", "create_organization", "create_feature_flag", "create_client", "rotate_client_secret"}, tc.name) && a.IdempotentHint {
				t.Error("a create tool claims to be idempotent")
			}

			var s jsonschema.Schema
			b, _ := json.Marshal(tool.InputSchema)
			if err := json.Unmarshal(b, &s); err != nil {
				t.Fatal(err)
			}
			want := rules[tc.name]
			if s.Type != "object" {
				t.Errorf("schema type %q", s.Type)
			}
			if s.AdditionalProperties == nil || s.AdditionalProperties.Not == nil {
				t.Errorf("additionalProperties %v: unknown arguments should be refused", s.AdditionalProperties)
			}
			if got, wantProps := slices.Sorted(maps.Keys(s.Properties)), slices.Sorted(maps.Keys(want.props)); !slices.Equal(got, wantProps) {
				t.Errorf("properties %v, want %v", got, wantProps)
			}
			if got := slices.Sorted(slices.Values(s.Required)); !slices.Equal(got, slices.Sorted(slices.Values(want.required))) {
				t.Errorf("required %v, want %v", got, want.required)
			}
			if _, ok := s.Properties["org_code"]; ok != tc.tenant && tc.name != "create_organization" {
				t.Errorf("has org_code: %v, want %v", ok, tc.tenant)
			}
			for name, rule := range want.props {
				p := s.Properties[name]
				if p == nil {
					continue
				}
				check := func(what string, got, want any) {
					t.Helper()
					gb, _ := json.Marshal(got)
					wb, _ := json.Marshal(want)
					if string(gb) != string(wb) {
						t.Errorf("%s.%s = %s, want %s", name, what, gb, wb)
					}
				}
				check("enum", p.Enum, rule.enum)
				check("minimum", p.Minimum, rule.min)
				check("maximum", p.Maximum, rule.max)
				check("pattern", p.Pattern, rule.pattern)
				check("format", p.Format, rule.format)
				check("minLength", p.MinLength, rule.minLen)
				check("maxLength", p.MaxLength, rule.maxLen)
				if rule.described && p.Description == "" {
					t.Errorf("%s has no description", name)
				}
			}
		})
	}
}
