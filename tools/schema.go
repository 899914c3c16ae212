package tools

import (
	"fmt"

	"github.com/google/jsonschema-go/jsonschema"
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

// Patterns of identifiers, shared by schemas and handler checks.
const (
	orgCodePattern = `^org_[a-z0-9][a-z0-9_]{0,59}$`
	flagKeyPattern = `^[a-z][a-z0-9_]{0,63}$`
	userIDPattern  = `^usr_[0-9a-f]{32}$`
)

// Constraints shared by several tools.
var (
	orgCodeConstraint = pattern(orgCodePattern, 64)
	pageLimit         = intRange(1, 100)
)
