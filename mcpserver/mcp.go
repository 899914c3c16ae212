package mcpserver

import (
	"context"
	"log/slog"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/tools"
)

const instructions = `OrgScope manages the users, organization settings and feature flags of one tenant of a multi-tenant SaaS.
Your access token decides the organization: with an org-scoped token every tool acts on that organization and org_code may be omitted; with a global (administration) token, pass org_code to name the organization.
Call whoami to see your organization, scopes and the tools you may call. Lists are paginated: pass next_cursor back as cursor.`

// toolListTTL is how long a client may keep a tools/list answer: it
// differs per token and changes with policy, so only the client that asked
// may keep it, and not for long.
const toolListTTL = 10_000 // milliseconds

// newMCPServer builds the one go-sdk server every request is served by.
func newMCPServer(opts Options, logger *slog.Logger) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "orgscope", Title: "OrgScope", Version: opts.Version},
		&mcp.ServerOptions{
			Instructions: instructions,
			// Declared as served: tools (whose list changes with policy), and
			// prompts and resources, of which there are none — the go-sdk
			// answers their lists either way, and a client must be able to
			// trust what a server declares (SEP-2575's discovery checks).
			Capabilities: &mcp.ServerCapabilities{
				// Logging is deprecated from 2026-07-28 but the go-sdk
				// serves logging/setLevel, and 2025-11-25 clients use it.
				//lint:ignore SA1019 declared because it is served
				Logging:   &mcp.LoggingCapabilities{},
				Tools:     &mcp.ToolCapabilities{ListChanged: true},
				Prompts:   &mcp.PromptCapabilities{},
				Resources: &mcp.ResourceCapabilities{},
			},
			Logger: slog.New(atLeast(slog.LevelWarn, logger.Handler())),
			SetCacheable: func(_ context.Context, req mcp.Request, c *mcp.Cacheable) {
				if _, ok := req.(*mcp.ListToolsRequest); ok {
					c.CacheScope, c.TTLMs = "private", toolListTTL
				}
			},
		})
	tools.Register(s, tools.Options{Service: opts.Service})
	s.AddReceivingMiddleware(filterToolList(opts.Service.Authorizer()))
	if opts.TracerProvider != nil {
		s.AddReceivingMiddleware(mcpSpans(opts.TracerProvider))
	}
	return s
}

// filterToolList shows each principal only the tools the decision point
// may let it call.
func filterToolList(az authz.Authorizer) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			res, err := next(ctx, method, req)
			if method != "tools/list" || err != nil {
				return res, err
			}
			list, ok := res.(*mcp.ListToolsResult)
			if !ok {
				return res, err
			}
			var p *auth.Principal
			if extra := req.GetExtra(); extra != nil {
				p, _ = auth.PrincipalFrom(extra.TokenInfo)
			}
			visible := make([]*mcp.Tool, 0, len(list.Tools))
			for _, t := range list.Tools {
				a, ok := authz.Lookup(t.Name)
				if ok && p != nil && az.Authorize(ctx, authz.Request{Principal: p, Action: a, Stage: authz.StageList}).Allow {
					visible = append(visible, t)
				}
			}
			filtered := *list
			filtered.Tools = visible
			return &filtered, nil
		}
	}
}
