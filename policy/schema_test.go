package policy_test

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/policy"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store/sqlite"
	"github.com/orgscope/orgscope/tools"
)

// toolSchemas lists the tools as a client sees them.
func toolSchemas(t *testing.T) map[string]map[string]any {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "s.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := service.New(service.Options{Store: st})
	t.Cleanup(svc.Close)
	server := mcp.NewServer(&mcp.Implementation{Name: "schemas"}, nil)
	tools.Register(server, tools.Options{Service: svc})
	ct, srv := mcp.NewInMemoryTransports()
	if _, err := server.Connect(t.Context(), srv, nil); err != nil {
		t.Fatal(err)
	}
	session, err := mcp.NewClient(&mcp.Implementation{Name: "c"}, nil).Connect(t.Context(), ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	list, err := session.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, tool := range list.Tools {
		b, _ := json.Marshal(tool.InputSchema)
		var m map[string]any
		json.Unmarshal(b, &m)
		out[tool.Name] = m
	}
	return out
}

var (
	actionLine = regexp.MustCompile(`action (\w+) in \[([\w, ]+)\] appliesTo[^}]*context: \{ args: (\w+),`)
	typeBlock  = regexp.MustCompile(`(?s)type (\w+Args) = \{(.*?)\};`)
	member     = regexp.MustCompile(`(\w+)(\??): (\w+(?:<\w+>)?)`)
)

// TestSchemaMatchesTheTools: the schema has one action per tool, in the
// catalog's group (and in tenant exactly when the tool acts on one
// organization), and declares each tool's arguments as the tool's input
// schema does: the same names, optional exactly when not required, and a
// type that holds the JSON value (integers as Long, booleans as Bool,
// anything else but a string as its JSON text).
func TestSchemaMatchesTheTools(t *testing.T) {
	text := string(policy.Schema())
	argTypes := map[string]map[string]string{}
	for _, m := range typeBlock.FindAllStringSubmatch(text, -1) {
		members := map[string]string{}
		for _, mm := range member.FindAllStringSubmatch(m[2], -1) {
			members[mm[1]] = mm[3] + mm[2]
		}
		argTypes[m[1]] = members
	}
	argTypes["NoArgs"] = map[string]string{}
	actions := map[string][]string{}
	argsOf := map[string]string{}
	for _, m := range actionLine.FindAllStringSubmatch(text, -1) {
		actions[m[1]] = strings.Split(strings.ReplaceAll(m[2], " ", ""), ",")
		argsOf[m[1]] = m[3]
	}
	schemas := toolSchemas(t)
	if len(actions) != len(authz.Tools()) || len(schemas) != len(authz.Tools()) {
		t.Fatalf("%d actions in the schema, %d tools listed, %d in the catalog", len(actions), len(schemas), len(authz.Tools()))
	}
	for _, a := range authz.Tools() {
		groups, ok := actions[a.Name]
		if !ok {
			t.Errorf("no action %s", a.Name)
			continue
		}
		want := []string{string(a.Group)}
		if a.Tenant {
			want = append(want, "tenant")
		}
		if !slices.Equal(groups, want) {
			t.Errorf("%s is in %v, want %v", a.Name, groups, want)
		}
		declared, ok := argTypes[argsOf[a.Name]]
		if !ok {
			t.Errorf("%s: no type %s", a.Name, argsOf[a.Name])
			continue
		}
		input := schemas[a.Name]
		props, _ := input["properties"].(map[string]any)
		var required []string
		reqList, _ := input["required"].([]any)
		for _, r := range reqList {
			required = append(required, r.(string))
		}
		for name, prop := range props {
			typ, _ := prop.(map[string]any)["type"].(string)
			want := "String"
			switch typ {
			case "integer":
				want = "Long"
			case "boolean":
				want = "Bool"
			case "array":
				if items, _ := prop.(map[string]any)["items"].(map[string]any); items["type"] == "string" {
					want = "Set<String>"
				}
			}
			if !slices.Contains(required, name) {
				want += "?"
			}
			if got := declared[name]; got != want {
				t.Errorf("%s argument %s: the schema declares %q, want %q", a.Name, name, got, want)
			}
		}
		for name := range declared {
			if _, ok := props[name]; !ok {
				t.Errorf("%s: the schema declares an argument %s the tool does not take", a.Name, name)
			}
		}
	}
}

// TestSchemaCompiles: the embedded schema resolves, and the built-in policy
// validates against it.
func TestSchemaCompiles(t *testing.T) {
	if _, err := policy.CompileBuiltin(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"namespace OrgScope", "entity Client in [Org]", "tags String", "action read, write, delete, admin, tenant"} {
		if !strings.Contains(string(policy.Schema()), want) {
			t.Errorf("the schema lacks %q", want)
		}
	}
}
