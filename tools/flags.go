package tools

import (
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
)

func registerFlags(s *mcp.Server, svc *service.Service) {
	add(s, svc, &mcp.Tool{
		Name:  "list_feature_flags",
		Title: "List feature flags",
		Description: "List the feature flags in effect for the organization, ordered by key, with each flag's " +
			"value, whether it comes from the organization's override or the default, and its type.",
		InputSchema: inputSchema[service.ListFlagsInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "limit": pageLimit, "cursor": cursorConstraint,
		}),
		Annotations: readOnly,
	}, svc.ListFlags)

	add(s, svc, &mcp.Tool{
		Name:        "get_feature_flag",
		Title:       "Get feature flag",
		Description: "Get one feature flag's value for the organization and where it comes from (override or default).",
		InputSchema: inputSchema[service.FlagKeyInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "key": flagKey,
		}),
		Annotations: readOnly,
	}, svc.GetFlag)

	add(s, svc, &mcp.Tool{
		Name:  "set_feature_flag",
		Title: "Set feature flag",
		Description: "Override a feature flag's value for the organization. The value must match the flag's " +
			"type (see get_feature_flag). Tokens issued afterwards carry the new value in feature_flags.",
		InputSchema: inputSchema[service.SetFlagInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "key": flagKey, "value": anyJSON,
		}),
		Annotations: overwrite,
	}, svc.SetFlag)

	add(s, svc, &mcp.Tool{
		Name:        "reset_feature_flag",
		Title:       "Reset feature flag",
		Description: "Remove the organization's override of a feature flag so the default applies again.",
		InputSchema: inputSchema[service.FlagKeyInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "key": flagKey,
		}),
		Annotations: overwrite,
	}, svc.ResetFlag)

	add(s, svc, &mcp.Tool{
		Name:  "create_feature_flag",
		Title: "Create feature flag",
		Description: "Define a new feature flag for all organizations: key, type (boolean, string, integer or " +
			"json), default value and description. Needs a global token.",
		InputSchema: inputSchema[service.CreateFlagInput](map[string]func(*jsonschema.Schema){
			"key": flagKey, "type": flagTypeEnum, "default_value": anyJSON, "description": length(0, service.MaxDescriptionLength),
		}),
		OutputSchema: inputSchema[store.FlagDefinition](map[string]func(*jsonschema.Schema){"default_value": anyJSON}), // json.RawMessage alone infers an array
		Annotations:  additive,
	}, svc.CreateFlag)

	add(s, svc, &mcp.Tool{
		Name:  "delete_feature_flag",
		Title: "Delete feature flag",
		Description: "Delete a feature flag definition and every organization's override of it. This cannot " +
			"be undone. Needs a global token.",
		InputSchema: inputSchema[service.DeleteFlagInput](map[string]func(*jsonschema.Schema){"key": flagKey}),
		Annotations: destructive,
	}, svc.DeleteFlag)
}
