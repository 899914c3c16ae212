package tools

import (
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/internal/clientkeys"
	"github.com/orgscope/orgscope/service"
)

// registerClients adds the tools for agents that administer agents: one
// machine identity per customer (Kinde's onboarding flow), rotated on a
// schedule, cut off when needed.
func registerClients(s *mcp.Server, svc *service.Service) {
	add(s, svc, &mcp.Tool{
		Name:  "list_clients",
		Title: "List machine clients",
		Description: "List the organization's machine clients (client_credentials identities), ordered by id, a " +
			"page at a time: name, scopes, token lifetime, properties, whether disabled, when last used, and their " +
			"working secrets' dates (never the secrets). A global token lists every client, one org's, or the " +
			"global ones (global: true).",
		InputSchema: inputSchema[service.ListClientsInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "limit": pageLimit, "cursor": cursorConstraint,
		}),
		Annotations: readOnly,
	}, svc.ListClients)

	add(s, svc, &mcp.Tool{
		Name:  "create_client",
		Title: "Create machine client",
		Description: "Create a machine client for the organization (one per agent or integration) and return its " +
			"client_id and client_secret; the secret is shown only in this answer. Give it the fewest scopes it " +
			"needs: only scopes this token holds itself. Its tokens live token_ttl_seconds (default 900). A global " +
			"token names the org_code, or sets global for an administration client. Given its public keys (jwks, " +
			"or a jwks_uri), the client gets no secret and authenticates with assertions signed by its private key " +
			"(private_key_jwt).",
		InputSchema: inputSchema[service.CreateClientInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "name": orgNameLength, "scopes": scopeList,
			"token_ttl_seconds": clientTokenTTL, "properties": propertyMap,
			"jwks": jwksConstraint, "jwks_uri": format("uri", clientkeys.MaxURILength),
		}),
		Annotations: additive,
	}, svc.CreateClient)

	add(s, svc, &mcp.Tool{
		Name:  "rotate_client_secret",
		Title: "Rotate client secret",
		Description: "Give a machine client a new secret, returned only in this answer. Its current secrets keep " +
			"working for grace_seconds (default 0: they stop at once), so its agents can switch. Only for a client " +
			"whose scopes this token holds itself.",
		InputSchema: inputSchema[service.RotateSecretInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "client_id": clientIDConstraint, "grace_seconds": secretGrace,
		}),
		Annotations: replaces,
	}, svc.RotateClientSecret)

	add(s, svc, &mcp.Tool{
		Name:  "disable_client",
		Title: "Disable machine client",
		Description: "Disable a machine client: it gets no new token, and the tokens it holds are refused from their " +
			"next call, on every server. Use it to cut off one agent without touching the others. A client cannot " +
			"disable itself; the operator enables it again (orgscope clients enable).",
		InputSchema: inputSchema[service.ClientIDInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "client_id": clientIDConstraint,
		}),
		Annotations: destructive,
	}, svc.DisableClient)
}

// Constraints of the client tools (service/clients.go states the rules).
var (
	clientIDConstraint = pattern(service.ClientIDPattern, 128)
	scopeList          = func(s *jsonschema.Schema) {
		s.Type, s.Types, s.MinItems = "array", nil, ptr(1)
		s.Items = &jsonschema.Schema{Type: "string", Enum: anySlice(auth.AllScopes)}
	}
	clientTokenTTL = intRange(service.MinClientTokenTTL.Seconds(), service.MaxClientTokenTTL.Seconds())
	secretGrace    = intRange(0, service.MaxSecretGrace.Seconds())
	// jwksConstraint: a JWKS of public keys (json.RawMessage alone infers
	// an array); clientkeys checks each key.
	jwksConstraint = func(s *jsonschema.Schema) {
		*s = jsonschema.Schema{Type: "object", Description: s.Description, Required: []string{"keys"},
			Properties: map[string]*jsonschema.Schema{"keys": {Type: "array", MinItems: ptr(1), MaxItems: ptr(clientkeys.MaxKeys),
				Items: &jsonschema.Schema{Type: "object"}}}}
	}
	propertyMap = func(s *jsonschema.Schema) {
		s.MaxProperties = ptr(service.MaxProperties)
		s.PropertyNames = &jsonschema.Schema{Pattern: service.FlagKeyPattern}
		s.AdditionalProperties = &jsonschema.Schema{Type: "string", MaxLength: ptr(service.MaxPropertyLength)}
	}
)

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
