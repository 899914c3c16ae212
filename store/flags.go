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

// MaxFlagInteger bounds integer flags: JSON clients (the go-sdk and the
// TypeScript SDK among them) carry numbers as float64, which holds every
// integer up to 2^53-1 exactly and rounds larger ones silently.
const MaxFlagInteger = 1<<53 - 1

// Normalize checks that v is a JSON value of type t and returns it in
// compact form. Integers must be whole numbers within ±MaxFlagInteger.
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
		n, err := strconv.ParseInt(string(compact), 10, 64)
		ok = err == nil && n >= -MaxFlagInteger && n <= MaxFlagInteger
	case FlagJSON:
		ok = true
	}
	if !ok && t == FlagInteger {
		return nil, fmt.Errorf("value %s is not an integer between -%d and %d", compact, MaxFlagInteger, MaxFlagInteger)
	}
	if !ok {
		return nil, fmt.Errorf("value %s is not a %s", compact, t)
	}
	return json.RawMessage(compact), nil
}
