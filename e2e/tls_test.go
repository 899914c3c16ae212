package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/orgscope/orgscope/cmd/orgscope/app"
	"github.com/orgscope/orgscope/internal/tlstest"
)

// TestTLS: with --tls-cert and --tls-key the server speaks HTTPS only, its
// public URL and token audience are https, and replacing the certificate
// files takes effect at the next connection, without a restart.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	first, second := tlstest.New(t, "first"), tlstest.New(t, "second")
	first.Write(t, certFile, keyFile)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	cfg := app.DefaultConfig()
	cfg.Listener, cfg.DBPath, cfg.Stdout = ln, filepath.Join(dir, "o.db"), out
	cfg.TLSCertFile, cfg.TLSKeyFile = certFile, keyFile
	cfg.PasswordCost, cfg.RateLimits = bcrypt.MinCost, nil
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, cfg) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	base := "https://" + ln.Addr().String()
	waitFor(t, "the server to answer over TLS", func() bool {
		resp, err := first.Client().Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	if !strings.Contains(out.String(), "MCP endpoint:        "+base+"/mcp") {
		t.Errorf("banner does not give the https endpoint:\n%s", out.String())
	}
	if resp, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain http answered 200: %s", body)
		}
	}

	// A machine client's whole flow over TLS.
	acme := parseCredentials(out.String())["org_acme"]
	whoami := func(c *http.Client) string {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/oauth2/token", strings.NewReader(url.Values{
			"grant_type": {"client_credentials"}, "resource": {base + "/mcp"}}.Encode()))
		req.SetBasicAuth(acme.ID, acme.Secret)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("token: %v", err)
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		json.NewDecoder(resp.Body).Decode(&tok)
		resp.Body.Close()
		req, _ = http.NewRequest("POST", base+"/mcp",
			strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami"}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err = c.Do(req)
		if err != nil {
			t.Fatalf("whoami: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	if got := whoami(first.Client()); !strings.Contains(got, `org_acme`) {
		t.Fatalf("whoami over TLS: %s", got)
	}

	// New files: the new certificate is served, the old one no more.
	second.Write(t, certFile, keyFile)
	if got := whoami(second.Client()); !strings.Contains(got, `org_acme`) {
		t.Fatalf("whoami after the certificate was replaced: %s", got)
	}
	if resp, err := first.Client().Get(base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Error("the replaced certificate is still served")
	}
}

// waitFor polls cond until it holds, failing the test after 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
