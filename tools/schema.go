package tools

import (
	"cmp"
	"fmt"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
)

// inputSchema infers the JSON Schema of In, as the go-sdk would, and then
// applies the constraints struct tags cannot express (jsonschema-go reads
// only descriptions from tags): enums, bounds, formats, patterns.
func inputSchema[In any](constraints map[string]func(*jsonschema.Schema)) *jsonschema.Schema {
	s, err := jsonschema.For[In](nil)
	if err != nil {
		panic(fmt.Sprintf("tools: schema: %v", err))
	}
	for name, constrain := range constraints {
		prop, ok := s.Properties[name]
		if !ok {
			panic(fmt.Sprintf("tools: schema has no property %q", name))
		}
		constrain(prop)
	}
	return s
}

func ptr[T any](v T) *T { return &v }

func enum(values ...any) func(*jsonschema.Schema) {
	return func(s *jsonschema.Schema) { s.Enum = values }
}

func intRange(lo, hi float64) func(*jsonschema.Schema) {
	return func(s *jsonschema.Schema) { s.Minimum, s.Maximum = ptr(lo), ptr(hi) }
}

func pattern(re string, maxLen int) func(*jsonschema.Schema) {
	return func(s *jsonschema.Schema) { s.Pattern, s.MaxLength = re, ptr(maxLen) }
}

func format(f string, maxLen int) func(*jsonschema.Schema) {
	return func(s *jsonschema.Schema) { s.Format, s.MaxLength = f, ptr(maxLen) }
}

func length(lo, hi int) func(*jsonschema.Schema) {
	return func(s *jsonschema.Schema) { s.MinLength, s.MaxLength = ptr(lo), ptr(hi) }
}

// outputSchema infers the JSON Schema of Out, as the go-sdk would.
func outputSchema[Out any]() *jsonschema.Schema {
	s, err := jsonschema.For[Out](nil)
	if err != nil {
		panic(fmt.Sprintf("tools: output schema: %v", err))
	}
	return s
}

// Constraints shared by several tools. They state the service's rules
// (service/validate.go, auth.CheckOrgCode) for clients; the service checks
// them, so a client that ignores the schema gets the same answer as the
// command line.
var (
	orgCodeConstraint = pattern(auth.OrgCodePattern, 64)
	userIDConstraint  = pattern(service.UserIDPattern, 36)
	flagKey           = pattern(service.FlagKeyPattern, 64)
	pageLimit         = intRange(1, float64(store.MaxPageSize))
	cursorConstraint  = length(0, service.MaxCursorLength)
	nameConstraint    = length(0, service.MaxNameLength)
	emailConstraint   = format("email", service.MaxEmailLength)
	statusEnum        = enum(string(store.UserActive), string(store.UserSuspended))
	roleEnum          = enum(string(store.RoleAdmin), string(store.RoleMember))
	orgNameLength     = length(1, service.MaxOrgNameLength)
	flagTypeEnum      = enum(string(store.FlagBoolean), string(store.FlagString), string(store.FlagInteger), string(store.FlagJSON))
	decisionEnum      = enum("allow", "deny")
	// anyJSON accepts any JSON value. It keeps a description: an empty
	// schema would be written as the boolean true, which the MCP Tool type
	// (and the TypeScript SDK) refuses as a property schema.
	anyJSON = func(s *jsonschema.Schema) {
		*s = jsonschema.Schema{Description: cmp.Or(s.Description, "Any JSON value.")}
	}
)
