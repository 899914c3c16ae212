package app

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/orgscope/orgscope/doctor"
)

const doctorAbout = `
Checks a deployment from outside, the way MCP clients see it, and prints each
check as ok, WARN or FAIL with what to do: the 401 challenge and its
resource_metadata, both Protected Resource Metadata URLs and their resource,
each authorization server's metadata (issuer, PKCE S256, keys), CORS for
browser clients, the clock, https. With --token it also lists the tools, as a
2025-11-25 client and as a 2026-07-28 one. Works against any MCP server.

Exit code 0 when no check failed (warnings do not fail), 1 otherwise.`

func (c cli) doctor(ctx context.Context, args []string) error {
	var token, origin string
	var asJSON bool
	cmd := newCommand("doctor", "orgscope doctor URL [--token T] [--json] [--origin O]")
	cmd.about = doctorAbout
	cmd.positional, cmd.missing = "URL", "need the URL of the MCP endpoint (like https://mcp.example.com/mcp)"
	cmd.fs.StringVar(&token, "token", "", "an access token for the server: also list its tools (prefer the environment variable, which ps does not show)")
	cmd.fs.StringVar(&origin, "origin", doctor.DefaultOrigin, "browser origin of the CORS checks")
	cmd.fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	report, err := doctor.Run(ctx, cmd.arg, &doctor.Options{Token: token, Origin: origin})
	if err != nil {
		return &usageError{err: err, hint: cmd.hint()}
	}
	if asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return err
		}
	} else {
		report.WriteText(c.stdout)
		if token == "" {
			fmt.Fprintln(c.stdout, "(give --token to list the tools too)")
		}
	}
	if report.Failed() {
		return fmt.Errorf("%d check(s) failed", report.Count(doctor.Fail))
	}
	return nil
}
