package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/x/exp/schema/resolved"
)

// maxArgDepth bounds how deep records nest when arguments become Cedar
// values. The schema's argument types are shallow; the bound keeps a
// change of schema from turning hostile input into deep recursion.
const maxArgDepth = 8

// cedarArgs converts a tool's validated arguments (canonical JSON values:
// objects as map[string]any, numbers as json.Number) to the Cedar record
// the schema declares for them. The declared type decides:
//
//   - String: a JSON string as is; any other value (an object, a flag's
//     value of any type, null) as its canonical JSON text, so that a
//     policy can still compare it;
//   - Long: an integer that fits in 64 bits; never a float, never a
//     decimal;
//   - Bool, Set<String>, records: as they are, records checked member by
//     member.
//
// Members the schema does not declare are left out (the schema test keeps
// the two in step); a null for an optional member leaves it absent.
func cedarArgs(rt resolved.RecordType, args map[string]any) (cedar.Record, error) {
	return cedarRecord(rt, args, "args", 0)
}

func cedarRecord(rt resolved.RecordType, m map[string]any, path string, depth int) (cedar.Record, error) {
	if depth > maxArgDepth {
		return cedar.Record{}, fmt.Errorf("%s nests deeper than %d levels", path, maxArgDepth)
	}
	out := make(cedar.RecordMap, len(m))
	for name, attr := range rt {
		v, present := m[string(name)]
		if !present || (v == nil && attr.Optional) {
			if !attr.Optional {
				return cedar.Record{}, fmt.Errorf("%s.%s is missing", path, name)
			}
			continue
		}
		cv, err := cedarValue(attr.Type, v, path+"."+string(name), depth)
		if err != nil {
			return cedar.Record{}, err
		}
		out[name] = cv
	}
	return cedar.NewRecord(out), nil
}

func cedarValue(t resolved.IsType, v any, path string, depth int) (cedar.Value, error) {
	switch t := t.(type) {
	case resolved.StringType:
		if s, ok := v.(string); ok {
			return cedar.String(s), nil
		}
		text, err := canonicalJSON(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return cedar.String(text), nil
	case resolved.LongType:
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%s is not a number", path)
		}
		i, err := n.Int64()
		if err != nil {
			return nil, fmt.Errorf("%s is not an integer that fits in 64 bits", path)
		}
		return cedar.Long(i), nil
	case resolved.BoolType:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("%s is not true or false", path)
		}
		return cedar.Boolean(b), nil
	case resolved.SetType:
		items, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%s is not an array", path)
		}
		vals := make([]cedar.Value, 0, len(items))
		for i, item := range items {
			cv, err := cedarValue(t.Element, item, fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			vals = append(vals, cv)
		}
		return cedar.NewSet(vals...), nil
	case resolved.RecordType:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s is not an object", path)
		}
		return cedarRecord(t, m, path, depth+1)
	}
	return nil, fmt.Errorf("%s has a type policies cannot be given", path)
}

// canonicalJSON writes v with object members sorted and no insignificant
// whitespace (encoding/json sorts map keys; numbers stay as written).
func canonicalJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// jsonArgs decodes raw JSON arguments into canonical JSON values, for the
// command line's `policy test` and `policy explain`. Numbers stay exact;
// a float is refused where the schema wants a Long by cedarArgs.
func jsonArgs(raw []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("arguments must be a JSON object: %w", err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}
