package tools

import (
	"context"
	"fmt"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/orgscope/orgscope/store"
)

// ListAuditInput selects a page of audit events.
type ListAuditInput struct {
	OrgArg
	Cursor string `json:"cursor,omitempty" jsonschema:"The next_cursor of the previous page; omit for the first page."`
	Limit  int    `json:"limit,omitempty" jsonschema:"Events per page, 1 to 100 (default 20)."`
}

// ListAuditOutput is a page of audit events, newest first.
type ListAuditOutput struct {
	Events     []store.AuditEvent `json:"events"`
	NextCursor string             `json:"next_cursor,omitempty"`
}

func (t *toolset) registerAudit(s *mcp.Server) {
	add(s, t, &mcp.Tool{
		Name:  "list_audit_events",
		Title: "List audit events",
		Description: "List what was changed in the organization through OrgScope, newest first: who (subject " +
			"and client), which tool, on what.",
		InputSchema: inputSchema[ListAuditInput](map[string]func(*jsonschema.Schema){
			"org_code": orgCodeConstraint, "limit": pageLimit, "cursor": length(0, 512),
		}),
		Annotations: readOnly,
	}, func(ctx context.Context, c caller, in ListAuditInput) (ListAuditOutput, error) {
		if in.Limit < 0 || in.Limit > store.MaxPageSize {
			return ListAuditOutput{}, fmt.Errorf("limit must be between 1 and %d", store.MaxPageSize)
		}
		events, next, err := t.store.ListAuditEvents(ctx, c.org, store.AuditFilter{}, store.Page{Cursor: in.Cursor, Limit: in.Limit})
		if err != nil {
			return ListAuditOutput{}, t.storeError(ctx, err, errOrgNotFound(c.org))
		}
		if events == nil {
			events = []store.AuditEvent{}
		}
		return ListAuditOutput{Events: events, NextCursor: next}, nil
	})
}
