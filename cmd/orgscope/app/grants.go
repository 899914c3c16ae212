package app

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/orgscope/orgscope/service"
)

// The grants commands: what acts for people — the grants they gave the
// apps they signed in with, and the agents that got tokens from them by
// token exchange — listed and revoked through the service like the
// list_delegations and revoke_delegation tools, recorded as cli:grants
// <subcommand>.

func (c cli) listGrants(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	var org, email string
	var revoked, asJSON bool
	cmd := newCommand("grants list", "orgscope grants list [--org org_x] [--user EMAIL] [--revoked] [--json] [--db …]")
	cmd.fs.StringVar(&org, "org", "", "only this organization's grants (default: every organization's)")
	cmd.fs.StringVar(&email, "user", "", "only the grants of the person with this email")
	cmd.fs.BoolVar(&revoked, "revoked", false, "list revoked grants too")
	cmd.fs.BoolVar(&asJSON, "json", false, `print {"grants": […]} for scripts`)
	cmd.about = "Lists the grants people gave the apps they signed in with, and under each the agents acting for the " +
		"person through it (their live tokens from token exchange: actor chain, scopes, purpose, expiry)."
	storeFlags(cmd.fs, &cfg)
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	return c.withService(ctx, cfg, "grants list", func(svc *service.Service, caller service.Caller) error {
		in := service.ListDelegationsInput{OrgArg: service.OrgArg{OrgCode: org}, Email: email, IncludeRevoked: revoked, Limit: 100}
		all := []service.GrantInfo{}
		for {
			page, err := svc.ListDelegations(ctx, caller, in)
			if err != nil {
				return err
			}
			all = append(all, page.Grants...)
			if in.Cursor = page.NextCursor; in.Cursor == "" {
				break
			}
		}
		if asJSON {
			return jsonOut(c.stdout, map[string]any{"grants": all})
		}
		if len(all) == 0 {
			fmt.Fprintln(c.stdout, "no grants")
			return nil
		}
		return printGrants(c.stdout, all)
	})
}

// printGrants writes one line per grant, then one per live token agents
// got from them: the actor chain (the holder first), scopes, expiry and
// purpose.
func printGrants(w io.Writer, grants []service.GrantInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GRANT_ID\tORG\tPERSON\tCLIENT\tSCOPES\tCREATED\tSTATUS")
	delegated := 0
	for _, g := range grants {
		state := "active"
		if g.RevokedAt != nil {
			state = "revoked " + g.RevokedAt.UTC().Format(time.RFC3339)
		}
		client := g.ClientID
		if g.ClientName != "" {
			client = fmt.Sprintf("%s (%s)", g.ClientName, g.ClientID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", g.GrantID, g.OrgCode, cmpOr(g.Email, g.UserID), client,
			strings.Join(g.Scopes, " "), g.CreatedAt.UTC().Format(time.RFC3339), state)
		delegated += len(g.Delegations)
	}
	if err := tw.Flush(); err != nil || delegated == 0 {
		return err
	}
	fmt.Fprintln(w, "\nActing for them (live tokens from token exchange):")
	fmt.Fprintln(tw, "GRANT_ID\tACTORS (HOLDER FIRST)\tSCOPES\tEXPIRES\tPURPOSE")
	for _, g := range grants {
		for _, d := range g.Delegations {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", g.GrantID, strings.Join(d.ActorChain, " < "), strings.Join(d.Scopes, " "),
				d.ExpiresAt.UTC().Format(time.RFC3339), d.Purpose)
		}
		if g.More {
			fmt.Fprintf(tw, "%s\t… more (list_delegations shows them all)\t\t\t\n", g.GrantID)
		}
	}
	return tw.Flush()
}

func (c cli) revokeGrant(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	var asJSON bool
	cmd := newCommand("grants revoke", "orgscope grants revoke GRANT_ID [--json] [--db …]")
	cmd.positional = "GRANT_ID"
	cmd.fs.BoolVar(&asJSON, "json", false, "print the revoked grant as JSON")
	cmd.about = "Revokes a grant: the person's sign-in with that app, and every token agents got from it, are refused " +
		"at their next call on every running server."
	storeFlags(cmd.fs, &cfg)
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	return c.withService(ctx, cfg, "grants revoke", func(svc *service.Service, caller service.Caller) error {
		out, err := svc.RevokeDelegation(ctx, caller, service.RevokeDelegationInput{GrantID: cmd.arg})
		if err != nil {
			return err
		}
		if asJSON {
			return jsonOut(c.stdout, out)
		}
		g := out.Grant
		if out.AlreadyRevoked {
			fmt.Fprintf(c.stdout, "grant %s (%s, %s) was already revoked at %s\n", g.GrantID, cmpOr(g.Email, g.UserID), g.OrgCode,
				g.RevokedAt.UTC().Format(time.RFC3339))
			return nil
		}
		fmt.Fprintf(c.stdout, "revoked grant %s of %s (%s) to %s; it and %d live delegated token(s) are refused from their next call\n",
			g.GrantID, cmpOr(g.Email, g.UserID), g.OrgCode, cmpOr(g.ClientName, g.ClientID), len(g.Delegations))
		return nil
	})
}
