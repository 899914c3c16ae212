package tools

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/orgscope/orgscope/store"
)

// FlagOutput is a feature flag as one organization sees it.
type FlagOutput struct {
	Key          string         `json:"key"`
	Type         store.FlagType `json:"type"`
	Value        any            `json:"value" jsonschema:"The value in effect for the organization."`
	Source       string         `json:"source" jsonschema:"override when the organization set its own value, default otherwise."`
	DefaultValue any            `json:"default_value" jsonschema:"The value for organizations without an override."`
	Description  string         `json:"description,omitempty"`
}

// ListFlagsInput selects a page of flags.
type ListFlagsInput struct {
	OrgArg
	Cursor string `json:"cursor,omitempty" jsonschema:"The next_cursor of the previous page; omit for the first page."`
	Limit  int    `json:"limit,omitempty" jsonschema:"Flags per page, 1 to 100 (default 20)."`
}

// ListFlagsOutput is a page of flags.
type ListFlagsOutput struct {
	Flags      []FlagOutput `json:"flags"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// FlagKeyInput names one flag of the organization.
type FlagKeyInput struct {
	OrgArg
	Key string `json:"key" jsonschema:"The flag's key."`
}

// SetFlagInput overrides a flag's value for the organization.
type SetFlagInput struct {
	OrgArg
	Key   string          `json:"key" jsonschema:"The flag's key."`
	Value json.RawMessage `json:"value" jsonschema:"The new value; its JSON type must match the flag's type (boolean, string, integer, or any JSON for json flags)."`
}

// ResetFlagOutput is the flag after its override was removed.
type ResetFlagOutput struct {
	FlagOutput
	Removed bool `json:"removed" jsonschema:"Whether there was an override to remove."`
}

// CreateFlagInput defines a new flag for every organization.
type CreateFlagInput struct {
	Key          string          `json:"key" jsonschema:"Lower-case letters, digits and underscores, starting with a letter."`
	Type         string          `json:"type" jsonschema:"The type of the flag's values."`
	DefaultValue json.RawMessage `json:"default_value" jsonschema:"The value for organizations without an override; must match type."`
	Description  string          `json:"description,omitempty"`
}

// DeleteFlagInput names a flag definition.
type DeleteFlagInput struct {
	Key string `json:"key"`
}

// DeleteFlagOutput confirms a deletion.
type DeleteFlagOutput struct {
	Deleted bool   `json:"deleted"`
	Key     string `json:"key"`
}

var (
	flagKeyRE = regexp.MustCompile(flagKeyPattern)
	flagKey   = pattern(flagKeyPattern, 64)
	// anyJSON accepts any JSON value. It keeps a description: an empty
	// schema would be written as the boolean true, which the MCP Tool type
	// (and the TypeScript SDK) refuses as a property schema.
	anyJSON = func(s *jsonschema.Schema) {
		*s = jsonschema.Schema{Description: cmp.Or(s.Description, "Any JSON value.")}
	}
	flagTypeEnum   = enum(string(store.FlagBoolean), string(store.FlagString), string(store.FlagInteger), string(store.FlagJSON))
	maxFlagValueSz = 8 << 10
)

func (t *toolset) registerFlags(s *mcp.Server) {
	add(s, t, &mcp.Tool{
		Name:  "list_feature_flags",
		Title: "List feature flags",
		Description: "List the feature flags in effect for the organization, ordered by key, with each flag's " +
			"value, whether it comes from the organization's override or the default, and its type.",
		InputSchema: inputSchema[ListFlagsInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "limit": pageLimit, "cursor": length(0, 512),
		}),
		Annotations: readOnly,
	}, t.listFlags)

	add(s, t, &mcp.Tool{
		Name:        "get_feature_flag",
		Title:       "Get feature flag",
		Description: "Get one feature flag's value for the organization and where it comes from (override or default).",
		InputSchema: inputSchema[FlagKeyInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "key": flagKey,
		}),
		Annotations: readOnly,
	}, t.getFlag)

	add(s, t, &mcp.Tool{
		Name:  "set_feature_flag",
		Title: "Set feature flag",
		Description: "Override a feature flag's value for the organization. The value must match the flag's " +
			"type (see get_feature_flag). Tokens issued afterwards carry the new value in feature_flags.",
		InputSchema: inputSchema[SetFlagInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "key": flagKey, "value": anyJSON,
		}),
		Annotations: overwrite,
	}, t.setFlag)

	add(s, t, &mcp.Tool{
		Name:        "reset_feature_flag",
		Title:       "Reset feature flag",
		Description: "Remove the organization's override of a feature flag so the default applies again.",
		InputSchema: inputSchema[FlagKeyInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "key": flagKey,
		}),
		Annotations: overwrite,
	}, t.resetFlag)

	add(s, t, &mcp.Tool{
		Name:  "create_feature_flag",
		Title: "Create feature flag",
		Description: "Define a new feature flag for all organizations: key, type (boolean, string, integer or " +
			"json), default value and description. Needs a global token.",
		InputSchema: inputSchema[CreateFlagInput](map[string]func(*jsonschema.Schema){
			"key": flagKey, "type": flagTypeEnum, "default_value": anyJSON, "description": length(0, 500),
		}),
		OutputSchema: inputSchema[store.FlagDefinition](map[string]func(*jsonschema.Schema){"default_value": anyJSON}), // json.RawMessage alone infers an array
		Annotations:  additive,
	}, t.createFlag)

	add(s, t, &mcp.Tool{
		Name:  "delete_feature_flag",
		Title: "Delete feature flag",
		Description: "Delete a feature flag definition and every organization's override of it. This cannot " +
			"be undone. Needs a global token.",
		InputSchema: inputSchema[DeleteFlagInput](map[string]func(*jsonschema.Schema){"key": flagKey}),
		Annotations: destructive,
	}, t.deleteFlag)
}

func (t *toolset) listFlags(ctx context.Context, c caller, in ListFlagsInput) (ListFlagsOutput, error) {
	if in.Limit < 0 || in.Limit > store.MaxPageSize {
		return ListFlagsOutput{}, fmt.Errorf("limit must be between 1 and %d", store.MaxPageSize)
	}
	flags, next, err := t.store.ListEffectiveFlags(ctx, c.org, store.Page{Cursor: in.Cursor, Limit: in.Limit})
	if err != nil {
		return ListFlagsOutput{}, t.storeError(ctx, err, errOrgNotFound(c.org))
	}
	out := ListFlagsOutput{Flags: make([]FlagOutput, 0, len(flags)), NextCursor: next}
	for _, f := range flags {
		out.Flags = append(out.Flags, flagOutput(f))
	}
	return out, nil
}

func (t *toolset) getFlag(ctx context.Context, c caller, in FlagKeyInput) (FlagOutput, error) {
	f, err := t.store.GetEffectiveFlag(ctx, c.org, in.Key)
	if err != nil {
		return FlagOutput{}, t.storeError(ctx, err, errFlagNotFound(in.Key))
	}
	return flagOutput(f), nil
}

func (t *toolset) setFlag(ctx context.Context, c caller, in SetFlagInput) (FlagOutput, error) {
	if len(in.Value) == 0 {
		return FlagOutput{}, errors.New("value is required")
	}
	if len(in.Value) > maxFlagValueSz {
		return FlagOutput{}, fmt.Errorf("value is larger than %d bytes", maxFlagValueSz)
	}
	f, err := t.store.GetEffectiveFlag(ctx, c.org, in.Key)
	if err != nil {
		return FlagOutput{}, t.storeError(ctx, err, errFlagNotFound(in.Key))
	}
	value, err := f.Definition.Type.Normalize(in.Value)
	if err != nil {
		return FlagOutput{}, fmt.Errorf("flag %q is of type %s: %v", in.Key, f.Definition.Type, err)
	}
	ov, err := t.store.SetFlagOverride(ctx, c.org, in.Key, value)
	if err != nil {
		return FlagOutput{}, t.storeError(ctx, err, errFlagNotFound(in.Key))
	}
	f.Override = &ov
	t.audit(ctx, c, c.org, "set_feature_flag", in.Key)
	return flagOutput(f), nil
}

func (t *toolset) resetFlag(ctx context.Context, c caller, in FlagKeyInput) (ResetFlagOutput, error) {
	removed, err := t.store.DeleteFlagOverride(ctx, c.org, in.Key)
	if err != nil {
		return ResetFlagOutput{}, t.storeError(ctx, err, errFlagNotFound(in.Key))
	}
	f, err := t.store.GetEffectiveFlag(ctx, c.org, in.Key)
	if err != nil {
		return ResetFlagOutput{}, t.storeError(ctx, err, errFlagNotFound(in.Key))
	}
	if removed {
		t.audit(ctx, c, c.org, "reset_feature_flag", in.Key)
	}
	return ResetFlagOutput{FlagOutput: flagOutput(f), Removed: removed}, nil
}

func (t *toolset) createFlag(ctx context.Context, c caller, in CreateFlagInput) (store.FlagDefinition, error) {
	if !flagKeyRE.MatchString(in.Key) {
		return store.FlagDefinition{}, fmt.Errorf("key %q is not valid: use up to 64 lower-case letters, digits and underscores, starting with a letter", in.Key)
	}
	typ := store.FlagType(in.Type)
	if len(in.DefaultValue) == 0 {
		return store.FlagDefinition{}, errors.New("default_value is required")
	}
	if len(in.DefaultValue) > maxFlagValueSz {
		return store.FlagDefinition{}, fmt.Errorf("default_value is larger than %d bytes", maxFlagValueSz)
	}
	def, err := typ.Normalize(in.DefaultValue)
	if err != nil {
		return store.FlagDefinition{}, fmt.Errorf("default_value: %v", err)
	}
	created, err := t.store.CreateFlag(ctx, store.FlagDefinition{
		Key: in.Key, Type: typ, DefaultValue: def, Description: strings.TrimSpace(in.Description),
	})
	if errors.Is(err, store.ErrConflict) {
		return store.FlagDefinition{}, fmt.Errorf("feature flag %q already exists", in.Key)
	}
	if err != nil {
		return store.FlagDefinition{}, t.storeError(ctx, err, nil)
	}
	t.audit(ctx, c, "", "create_feature_flag", in.Key)
	return created, nil
}

func (t *toolset) deleteFlag(ctx context.Context, c caller, in DeleteFlagInput) (DeleteFlagOutput, error) {
	if err := t.store.DeleteFlag(ctx, in.Key); err != nil {
		return DeleteFlagOutput{}, t.storeError(ctx, err, errFlagNotFound(in.Key))
	}
	t.audit(ctx, c, "", "delete_feature_flag", in.Key)
	return DeleteFlagOutput{Deleted: true, Key: in.Key}, nil
}

func errFlagNotFound(key string) error {
	return fmt.Errorf("feature flag %q not found; list_feature_flags shows the defined flags", key)
}

func flagOutput(f store.EffectiveFlag) FlagOutput {
	out := FlagOutput{
		Key:          f.Definition.Key,
		Type:         f.Definition.Type,
		Value:        decodeJSON(f.Value()),
		Source:       "default",
		DefaultValue: decodeJSON(f.Definition.DefaultValue),
		Description:  f.Definition.Description,
	}
	if f.Override != nil {
		out.Source = "override"
	}
	return out
}

// decodeJSON turns a stored JSON value into a Go value for structured
// output, keeping integers exact.
func decodeJSON(raw json.RawMessage) any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	return v
}
