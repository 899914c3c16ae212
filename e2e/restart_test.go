package e2e

import (
	"net"
	"strings"
	"testing"
)

// TestRestartKeepsDataAndKey: after a restart on the same database and
// address, data is there, a token minted before the restart still works
// (the signing key persisted), and the demo is not seeded again.
func TestRestartKeepsDataAndKey(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	first := startServer(t, serverOptions{addr: addr})
	token := first.token(t, first.Clients["org_gamma"])
	created := first.tool(t, token, "create_user", map[string]any{"email": "persist@gamma.example"})
	if created.Result.IsError {
		t.Fatalf("create_user: %s", created.text())
	}
	first.stop()

	second := startServer(t, serverOptions{addr: addr, dbPath: first.DBPath})
	if len(second.Clients) != 0 || strings.Contains(second.Stdout.String(), "client_secret") {
		t.Fatalf("second start printed credentials again:\n%s", second.Stdout.String())
	}
	r := second.tool(t, token, "list_users", map[string]any{"email_prefix": "persist@"})
	if r.Result.IsError || !strings.Contains(r.text(), "persist@gamma.example") {
		t.Fatalf("after restart, with the old token: %s", r.text())
	}
	// The demo clients' secrets still work.
	if second.token(t, first.Clients["org_gamma"]) == "" {
		t.Fatal("no token after restart")
	}
}
