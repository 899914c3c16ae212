package service

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/store"
)

// A dry run asks the decision point — the very Authorizer every call goes
// through, with the policy in force — how it would decide a tool call by
// one of the organization's machine clients, without running anything.

// MaxDryRunArgsBytes bounds a dry run's arguments.
const MaxDryRunArgsBytes = 8 << 10

// DryRunInput names the principal (a machine client of the organization,
// as its client_credentials token would carry it), the tool and the
// arguments.
type DryRunInput struct {
	OrgArg
	ClientID  string          `json:"client_id"`
	Tool      string          `json:"tool"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
	args      map[string]any
}

// DryRunDecision is the decision at one stage.
type DryRunDecision struct {
	Allow         bool     `json:"allow"`
	NeedsApproval bool     `json:"needs_approval,omitempty"`
	Reason        string   `json:"reason"`
	Message       string   `json:"message,omitempty"`
	Missing       []string `json:"missing,omitempty"`
	// Policies are the ids of the policies that decided.
	Policies []string `json:"policies,omitempty"`
}

// DryRunOutput is how the decision point decides the call: before
// dispatch (without the arguments, as the HTTP layer asks) and at the call
// (with them, as the service asks).
type DryRunOutput struct {
	Client  ClientInfo     `json:"client"`
	Org     string         `json:"org_code"`
	Request DryRunDecision `json:"request"`
	Call    DryRunDecision `json:"call"`
}

// DryRun decides a call without making it. The arguments are given to the
// decision point as JSON values, as a tool's arguments are; a real call's
// are first checked and normalised by the tool (trimmed text, defaults),
// so a policy reading them may see them slightly differently.
func (s *Service) DryRun(ctx context.Context, c Caller, in DryRunInput) (DryRunOutput, error) {
	op := &operation[DryRunInput, DryRunOutput]{
		name:   "dry_run_call",
		org:    orgOf[DryRunInput],
		target: func(in *DryRunInput, _ *DryRunOutput) string { return in.Tool },
		check: func(in *DryRunInput) error {
			if err := checkClientID(in.ClientID); err != nil {
				return err
			}
			if a, ok := authz.Lookup(in.Tool); !ok || a.OperatorOnly {
				return invalid("tool %q is not one of OrgScope's tools", in.Tool)
			}
			if len(in.Arguments) > MaxDryRunArgsBytes {
				return invalid("arguments are larger than %d bytes", MaxDryRunArgsBytes)
			}
			in.args = map[string]any{}
			if raw := bytes.TrimSpace(in.Arguments); len(raw) > 0 {
				dec := json.NewDecoder(bytes.NewReader(raw))
				dec.UseNumber()
				if err := dec.Decode(&in.args); err != nil || dec.More() || in.args == nil {
					return invalid("arguments must be one JSON object, like {\"limit\": 5}")
				}
			}
			return nil
		},
		do: func(ctx context.Context, q store.Tx, org string, in *DryRunInput) (DryRunOutput, error) {
			cl, err := findClient(ctx, q, org, in.ClientID)
			if err != nil {
				return DryRunOutput{}, err
			}
			p := &auth.Principal{Issuer: "dry-run", Subject: cl.ID, ClientID: cl.ID, OrgCode: cl.OrgCode,
				Scopes: cl.Scopes, GrantType: "client_credentials", Properties: cl.Properties}
			action, _ := authz.Lookup(in.Tool)
			callOrg := cl.OrgCode
			if named, ok := in.args["org_code"].(string); ok && named != "" {
				callOrg = named
			}
			out := DryRunOutput{Client: clientInfo(cl), Org: callOrg}
			out.Request = dryRunDecision(s.authz.Authorize(ctx, authz.Request{Principal: p, Action: action, Stage: authz.StageRequest}))
			out.Call = dryRunDecision(s.authz.Authorize(ctx, authz.Request{Principal: p, Action: action, Org: callOrg,
				Args: in.args, Stage: authz.StageCall}))
			return out, nil
		},
	}
	return run(ctx, s, c, op, in)
}

func dryRunDecision(d authz.Decision) DryRunDecision {
	return DryRunDecision{Allow: d.Allow, NeedsApproval: d.NeedsApproval, Reason: d.Reason, Message: d.Message,
		Missing: d.Missing, Policies: d.Policies}
}
