package e2e

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/orgscope/orgscope/cmd/orgscope/app"
	"github.com/orgscope/orgscope/doctor"
)

// runDoctor runs `orgscope doctor URL --json [--token T]` and returns its
// exit code and report.
func runDoctor(t *testing.T, url, token string) (int, doctor.Report) {
	t.Helper()
	args := []string{"doctor", url, "--json"}
	if token != "" {
		args = append(args, "--token", token)
	}
	var out, errOut strings.Builder
	code := app.Main(t.Context(), args, &out, &errOut)
	var r doctor.Report
	if err := json.Unmarshal([]byte(out.String()), &r); err != nil {
		t.Fatalf("doctor printed %q (stderr %q): %v", out.String(), errOut.String(), err)
	}
	for _, c := range r.Checks {
		if c.Status != doctor.OK {
			t.Logf("%s %s: %s → %s", c.Status, c.Name, c.Detail, c.Fix)
		}
	}
	return code, r
}

// wantHealthy checks that every check the doctor runs passed.
func wantHealthy(t *testing.T, code int, r doctor.Report, names ...string) {
	t.Helper()
	if code != 0 || r.Failed() {
		t.Errorf("exit %d, %d failed", code, r.Count(doctor.Fail))
	}
	for _, name := range names {
		cs := r.Find(name)
		if len(cs) == 0 {
			t.Errorf("no %q check", name)
		}
		for _, c := range cs {
			if c.Status != doctor.OK {
				t.Errorf("%s: %s %s", c.Name, c.Status, c.Detail)
			}
		}
	}
}

// TestDoctorEmbedded: OrgScope with its own issuer passes every check, and
// a token lists the tools in both protocol eras.
func TestDoctorEmbedded(t *testing.T) {
	s := startServer(t, serverOptions{})
	code, r := runDoctor(t, s.Resource, s.token(t, s.Clients["org_acme"]))
	wantHealthy(t, code, r, "challenge", "clock", "prm (path)", "prm (root)", "as-metadata", "pkce", "jwks",
		"cors preflight", "cors expose", "https", "tools/list 2025-11-25", "tools/list 2026-07-28")
	if c := r.Find("tools/list 2026-07-28"); len(c) == 1 && !strings.Contains(c[0].Detail, "protocol 2026-07-28") {
		t.Errorf("2026-07-28: %s", c[0].Detail)
	}

	// A token the server refuses fails the tools/list checks, saying why.
	code, r = runDoctor(t, s.Resource, "not-a-token")
	if code != 1 {
		t.Errorf("a bad token: exit %d, want 1", code)
	}
	if c := r.Find("tools/list 2025-11-25"); len(c) != 1 || c[0].Status != doctor.Fail || !strings.Contains(c[0].Detail, "HTTP 401") {
		t.Errorf("a bad token: %+v", c)
	}
}

// TestDoctorExternal: OrgScope in front of a third-party issuer (the
// oidc-provider harness) passes too: the checks follow the PRM to the
// provider's own metadata and keys.
func TestDoctorExternal(t *testing.T) {
	e := startExternal(t, idpOptions{}, nil, nil)
	code, r := runDoctor(t, e.s.Resource, e.token(t, idpAcmeID, idpAcmeSecret, "read:users"))
	wantHealthy(t, code, r, "challenge", "prm (path)", "prm (root)", "as-metadata "+e.idp.Issuer, "pkce "+e.idp.Issuer,
		"jwks "+e.idp.Issuer, "https", "tools/list 2025-11-25", "tools/list 2026-07-28")
}

// TestDoctorCommand: the text report, and the exit code of a wrong URL.
func TestDoctorCommand(t *testing.T) {
	s := startServer(t, serverOptions{})
	var out strings.Builder
	if code := app.Main(t.Context(), []string{"doctor", s.Resource}, &out, io.Discard); code != 0 {
		t.Errorf("exit %d:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "0 failed") || !strings.Contains(out.String(), "give --token") {
		t.Errorf("text report:\n%s", out.String())
	}
	out.Reset()
	// The PRM's resource is the public URL + /mcp; asked about another
	// path, the doctor finds the mismatch.
	if code := app.Main(t.Context(), []string{"doctor", s.URL + "/mcp/"}, &out, io.Discard); code != 1 {
		t.Errorf("a URL that is not the resource: exit %d:\n%s", code, out.String())
	}
	if code := app.Main(t.Context(), []string{"doctor", "not a url"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("not a URL: exit %d, want 2", code)
	}
}
