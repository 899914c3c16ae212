package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"

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

func flagNotFound(key string) *Error {
	return notFound("feature flag %q not found; list_feature_flags shows the defined flags", key)
}

var listFlags = &operation[ListFlagsInput, ListFlagsOutput]{
	name: "list_feature_flags",
	org:  orgOf[ListFlagsInput],
	check: func(in *ListFlagsInput) error {
		if err := checkLimit(in.Limit); err != nil {
			return err
		}
		return checkCursor(in.Cursor)
	},
	do: func(ctx context.Context, q store.Tx, org string, in *ListFlagsInput) (ListFlagsOutput, error) {
		flags, next, err := q.ListEffectiveFlags(ctx, org, store.Page{Cursor: in.Cursor, Limit: in.Limit})
		if errors.Is(err, store.ErrNotFound) {
			return ListFlagsOutput{}, orgNotFound(org)
		}
		out := ListFlagsOutput{Flags: make([]FlagOutput, 0, len(flags)), NextCursor: next}
		for _, f := range flags {
			out.Flags = append(out.Flags, flagOutput(f))
		}
		return out, err
	},
}

// ListFlags pages through the flags in effect for an organization.
func (s *Service) ListFlags(ctx context.Context, c Caller, in ListFlagsInput) (ListFlagsOutput, error) {
	return run(ctx, s, c, listFlags, in)
}

var getFlag = &operation[FlagKeyInput, FlagOutput]{
	name:   "get_feature_flag",
	org:    orgOf[FlagKeyInput],
	check:  func(in *FlagKeyInput) error { return checkFlagKey("key", in.Key) },
	target: func(in *FlagKeyInput, _ *FlagOutput) string { return in.Key },
	do: func(ctx context.Context, q store.Tx, org string, in *FlagKeyInput) (FlagOutput, error) {
		f, err := q.GetEffectiveFlag(ctx, org, in.Key)
		if errors.Is(err, store.ErrNotFound) {
			return FlagOutput{}, flagNotFound(in.Key)
		}
		return flagOutput(f), err
	},
}

// GetFlag reads one flag's value for an organization.
func (s *Service) GetFlag(ctx context.Context, c Caller, in FlagKeyInput) (FlagOutput, error) {
	return run(ctx, s, c, getFlag, in)
}

var setFlag = &operation[SetFlagInput, FlagOutput]{
	name:  "set_feature_flag",
	org:   orgOf[SetFlagInput],
	write: true,
	check: func(in *SetFlagInput) error {
		if err := checkFlagKey("key", in.Key); err != nil {
			return err
		}
		if len(in.Value) == 0 {
			return invalid("value is required")
		}
		if len(in.Value) > MaxFlagValueBytes {
			return invalid("value is larger than %d bytes", MaxFlagValueBytes)
		}
		return nil
	},
	target: func(in *SetFlagInput, _ *FlagOutput) string { return in.Key },
	do: func(ctx context.Context, q store.Tx, org string, in *SetFlagInput) (FlagOutput, error) {
		f, err := q.GetEffectiveFlag(ctx, org, in.Key)
		if errors.Is(err, store.ErrNotFound) {
			return FlagOutput{}, flagNotFound(in.Key)
		}
		if err != nil {
			return FlagOutput{}, err
		}
		value, err := f.Definition.Type.Normalize(in.Value)
		if err != nil {
			return FlagOutput{}, invalid("flag %q is of type %s: %v", in.Key, f.Definition.Type, err)
		}
		ov, err := q.SetFlagOverride(ctx, org, in.Key, value)
		if err != nil {
			return FlagOutput{}, err
		}
		f.Override = &ov
		return flagOutput(f), nil
	},
}

// SetFlag overrides a flag's value for an organization.
func (s *Service) SetFlag(ctx context.Context, c Caller, in SetFlagInput) (FlagOutput, error) {
	return run(ctx, s, c, setFlag, in)
}

var resetFlag = &operation[FlagKeyInput, ResetFlagOutput]{
	name:   "reset_feature_flag",
	org:    orgOf[FlagKeyInput],
	write:  true,
	check:  func(in *FlagKeyInput) error { return checkFlagKey("key", in.Key) },
	target: func(in *FlagKeyInput, _ *ResetFlagOutput) string { return in.Key },
	do: func(ctx context.Context, q store.Tx, org string, in *FlagKeyInput) (ResetFlagOutput, error) {
		removed, err := q.DeleteFlagOverride(ctx, org, in.Key)
		if errors.Is(err, store.ErrNotFound) {
			return ResetFlagOutput{}, flagNotFound(in.Key)
		}
		if err != nil {
			return ResetFlagOutput{}, err
		}
		f, err := q.GetEffectiveFlag(ctx, org, in.Key)
		if err != nil {
			return ResetFlagOutput{}, err
		}
		return ResetFlagOutput{FlagOutput: flagOutput(f), Removed: removed}, nil
	},
}

// ResetFlag removes an organization's override of a flag.
func (s *Service) ResetFlag(ctx context.Context, c Caller, in FlagKeyInput) (ResetFlagOutput, error) {
	return run(ctx, s, c, resetFlag, in)
}

var createFlag = &operation[CreateFlagInput, store.FlagDefinition]{
	name:  "create_feature_flag",
	write: true,
	check: func(in *CreateFlagInput) error {
		if err := checkFlagKey("key", in.Key); err != nil {
			return err
		}
		if len(in.DefaultValue) == 0 {
			return invalid("default_value is required")
		}
		if len(in.DefaultValue) > MaxFlagValueBytes {
			return invalid("default_value is larger than %d bytes", MaxFlagValueBytes)
		}
		def, err := store.FlagType(in.Type).Normalize(in.DefaultValue)
		if err != nil {
			return invalid("default_value: %v", err)
		}
		in.DefaultValue = def
		in.Description, err = plainText("description", in.Description, MaxDescriptionLength)
		return err
	},
	target: func(in *CreateFlagInput, _ *store.FlagDefinition) string { return in.Key },
	do: func(ctx context.Context, q store.Tx, _ string, in *CreateFlagInput) (store.FlagDefinition, error) {
		created, err := q.CreateFlag(ctx, store.FlagDefinition{
			Key: in.Key, Type: store.FlagType(in.Type), DefaultValue: in.DefaultValue, Description: in.Description,
		})
		if errors.Is(err, store.ErrConflict) {
			return created, conflict("feature flag %q already exists", in.Key)
		}
		return created, err
	},
}

// CreateFlag defines a flag for every organization.
func (s *Service) CreateFlag(ctx context.Context, c Caller, in CreateFlagInput) (store.FlagDefinition, error) {
	return run(ctx, s, c, createFlag, in)
}

var deleteFlag = &operation[DeleteFlagInput, DeleteFlagOutput]{
	name:   "delete_feature_flag",
	write:  true,
	check:  func(in *DeleteFlagInput) error { return checkFlagKey("key", in.Key) },
	target: func(in *DeleteFlagInput, _ *DeleteFlagOutput) string { return in.Key },
	do: func(ctx context.Context, q store.Tx, _ string, in *DeleteFlagInput) (DeleteFlagOutput, error) {
		err := q.DeleteFlag(ctx, in.Key)
		if errors.Is(err, store.ErrNotFound) {
			return DeleteFlagOutput{}, flagNotFound(in.Key)
		}
		return DeleteFlagOutput{Deleted: err == nil, Key: in.Key}, err
	},
}

// DeleteFlag removes a flag definition and every override of it.
func (s *Service) DeleteFlag(ctx context.Context, c Caller, in DeleteFlagInput) (DeleteFlagOutput, error) {
	return run(ctx, s, c, deleteFlag, in)
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
