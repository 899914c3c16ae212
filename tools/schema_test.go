package tools_test

import (
	"encoding/json"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/tools"
)

// TestSchemasAreObjects: the MCP Tool type allows only objects as property
// schemas; the TypeScript SDK refuses a whole tools/list when one tool has a
// boolean schema (what an empty JSON Schema serialises to). Walk every
// input and output schema and find none.
func TestSchemasAreObjects(t *testing.T) {
	server := mcp.NewServer(&mcp.Implementation{Name: "schemas"}, nil)
	tools.Register(server, tools.Options{Service: newEnv(t).svc})
	ct, st := mcp.NewInMemoryTransports()
	if _, err := server.Connect(t.Context(), st, nil); err != nil {
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
	if len(list.Tools) != len(authz.Tools()) {
		t.Fatalf("%d tools listed, %d in the catalog", len(list.Tools), len(authz.Tools()))
	}
	for _, tool := range list.Tools {
		for name, schema := range map[string]any{"input": tool.InputSchema, "output": tool.OutputSchema} {
			b, _ := json.Marshal(schema)
			var v any
			json.Unmarshal(b, &v)
			if path, bad := booleanSubschema(v, tool.Name+"."+name); bad {
				t.Errorf("%s is a boolean schema", path)
			}
		}
	}
}

// booleanSubschema finds a property or items schema that is not an object.
func booleanSubschema(v any, path string) (string, bool) {
	obj, ok := v.(map[string]any)
	if !ok {
		return path, v != nil
	}
	if props, ok := obj["properties"].(map[string]any); ok {
		for k, p := range props {
			if where, bad := booleanSubschema(p, path+".properties."+k); bad {
				return where, true
			}
		}
	}
	for _, key := range []string{"items", "additionalProperties"} {
		if sub, ok := obj[key]; ok {
			if _, isBool := sub.(bool); isBool && key == "additionalProperties" {
				continue // additionalProperties: false is fine
			}
			if where, bad := booleanSubschema(sub, path+"."+key); bad {
				return where, true
			}
		}
	}
	return "", false
}
