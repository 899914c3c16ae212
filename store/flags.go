package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Valid reports whether t is one of the four flag types.
func (t FlagType) Valid() bool {
	switch t {
	case FlagBoolean, FlagString, FlagInteger, FlagJSON:
		return true
	}
	return false
}

// Normalize checks that v is a JSON value of type t and returns it in
// compact form. Integers must be whole numbers that fit in 64 bits.
func (t FlagType) Normalize(v json.RawMessage) (json.RawMessage, error) {
	if !t.Valid() {
		return nil, fmt.Errorf("unknown flag type %q (want boolean, string, integer or json)", t)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, v); err != nil || buf.Len() == 0 {
		return nil, fmt.Errorf("value is not valid JSON")
	}
	compact := buf.Bytes()
	var ok bool
	switch t {
	case FlagBoolean:
		ok = string(compact) == "true" || string(compact) == "false"
	case FlagString:
		ok = compact[0] == '"'
	case FlagInteger:
		_, err := strconv.ParseInt(string(compact), 10, 64)
		ok = err == nil
	case FlagJSON:
		ok = true
	}
	if !ok {
		return nil, fmt.Errorf("value %s is not a %s", compact, t)
	}
	return json.RawMessage(compact), nil
}
