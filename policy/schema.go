package policy

import (
	_ "embed"
	"fmt"
	"slices"
	"sync"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/x/exp/schema"
	"github.com/cedar-policy/cedar-go/x/exp/schema/resolved"
	"github.com/cedar-policy/cedar-go/x/exp/schema/validate"

	"github.com/orgscope/orgscope/authz"
)

// The names policies rely on.
const (
	Namespace  = "OrgScope"
	ClientType = cedar.EntityType(Namespace + "::Client")
	OrgType    = cedar.EntityType(Namespace + "::Org")
	ActionType = cedar.EntityType(Namespace + "::Action")
)

// SchemaName and BuiltinName are the file names errors in the embedded
// schema and built-in policy are reported under.
const (
	SchemaName  = "schema.cedarschema"
	BuiltinName = "builtin.cedar"
)

//go:embed schema.cedarschema
var schemaSource []byte

//go:embed builtin.cedar
var builtinSource []byte

// Schema returns the text of OrgScope's policy schema (Cedar's
// human-readable schema format).
func Schema() []byte { return slices.Clone(schemaSource) }

// Builtin returns the text of the built-in policy: the rules OrgScope
// applies without --policy.
func Builtin() []byte { return slices.Clone(builtinSource) }

// compiledSchema is the schema, resolved once, with what decisions need
// from it.
type compiledSchema struct {
	resolved *resolved.Schema
	// mu serializes the validator, which is used only when a policy file
	// is loaded.
	mu        sync.Mutex
	validator *validate.Validator
	// actions holds every action entity with its groups as parents: a
	// policy's `action in OrgScope::Action::"write"` is true only when
	// they are in the entity store.
	actions cedar.EntityMap
	// tools maps each tool to its action and the type of its arguments.
	tools map[string]toolInfo
}

type toolInfo struct {
	// index numbers the tools, from 0, in catalog order.
	index int
	uid   cedar.EntityUID
	args  resolved.RecordType
	// ancestors are the action groups the tool is in.
	ancestors []cedar.EntityUID
}

var (
	schemaOnce sync.Once
	theSchema  *compiledSchema
)

// loadSchema returns the compiled schema. The embedded schema is tested;
// a broken one is a programming error.
func loadSchema() *compiledSchema {
	schemaOnce.Do(func() {
		cs, err := compileSchema(schemaSource)
		if err != nil {
			panic(fmt.Sprintf("policy: the embedded schema: %v", err))
		}
		theSchema = cs
	})
	return theSchema
}

func compileSchema(src []byte) (*compiledSchema, error) {
	var s schema.Schema
	s.SetFilename(SchemaName)
	if err := s.UnmarshalCedar(src); err != nil {
		return nil, err
	}
	rs, err := s.Resolve()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", SchemaName, err)
	}
	cs := &compiledSchema{resolved: rs, validator: validate.New(rs), actions: cedar.EntityMap{}, tools: map[string]toolInfo{}}
	for uid, a := range rs.Actions {
		cs.actions[uid] = a.Entity
	}
	for i, a := range authz.Tools() {
		uid := cedar.NewEntityUID(ActionType, cedar.String(a.Name))
		act, ok := rs.Actions[uid]
		if !ok || act.AppliesTo == nil {
			return nil, fmt.Errorf("%s: no action for the tool %s", SchemaName, a.Name)
		}
		argsAttr, ok := act.AppliesTo.Context["args"]
		args, isRecord := argsAttr.Type.(resolved.RecordType)
		if !ok || !isRecord {
			return nil, fmt.Errorf("%s: the context of %s has no args record", SchemaName, a.Name)
		}
		cs.tools[a.Name] = toolInfo{index: i, uid: uid, args: args, ancestors: ancestors(cs.actions, uid)}
	}
	return cs, nil
}

// ancestors returns the groups uid is in, transitively.
func ancestors(actions cedar.EntityMap, uid cedar.EntityUID) []cedar.EntityUID {
	var out []cedar.EntityUID
	var walk func(cedar.EntityUID)
	walk = func(u cedar.EntityUID) {
		for p := range actions[u].Parents.All() {
			if !slices.Contains(out, p) {
				out = append(out, p)
				walk(p)
			}
		}
	}
	walk(uid)
	return out
}
