package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/orgscope/orgscope/cmd/orgscope/app"
	"github.com/orgscope/orgscope/internal/testdeps"
)

// keysCommand runs `orgscope keys …` with args and --json against a
// database, and returns what it printed.
func keysCommand(t *testing.T, db []string, args ...string) map[string]any {
	t.Helper()
	var out, errOut bytes.Buffer
	full := append(append([]string{"keys"}, args...), db...)
	if args[0] != "retire" {
		full = append(full, "--json")
	}
	if code := app.Main(t.Context(), full, &out, &errOut); code != 0 {
		t.Fatalf("orgscope %s: exit %d: %s", strings.Join(full, " "), code, errOut.String())
	}
	var v map[string]any
	if args[0] != "retire" {
		if err := json.Unmarshal(out.Bytes(), &v); err != nil {
			t.Fatalf("orgscope %s printed %q", strings.Join(full, " "), out.String())
		}
	}
	return v
}

// headerKid reads the kid from a token's header, whatever its algorithm.
func headerKid(t *testing.T, token string) string {
	t.Helper()
	seg, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	var header struct {
		Kid string `json:"kid"`
	}
	if err != nil || json.Unmarshal(raw, &header) != nil {
		t.Fatalf("not a JWS header: %q", seg)
	}
	return header.Kid
}

// jwksKids lists the kids base's JWKS publishes, in its order.
func jwksKids(t *testing.T, base string) []string {
	t.Helper()
	type jwks struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	var out []string
	for _, k := range getJSON[jwks](t, base+"/oauth2/jwks").Keys {
		out = append(out, k.Kid)
	}
	return out
}

// accepts reports whether s accepts token on a tool call (200) or refuses
// it as a bad token (401); anything else fails the test.
func (s *testServer) accepts(t *testing.T, token string) bool {
	t.Helper()
	resp, body := s.callTool(t, token, "whoami", nil)
	switch resp.StatusCode {
	case http.StatusOK:
		return true
	case http.StatusUnauthorized:
		if !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("401 without invalid_token: %q", resp.Header.Get("WWW-Authenticate"))
		}
		return false
	}
	t.Fatalf("whoami: HTTP %d %s", resp.StatusCode, body)
	return false
}

// rotationOverlap is the overlap the tests rotate with: the shortest
// allowed, three polls of the servers.
const rotationOverlap = "3s"

// TestKeyRotation: `keys rotate` publishes a new key before anything is
// signed with it, tokens signed before stay valid, new tokens carry the
// new kid after the overlap, and `keys retire` makes the server refuse the
// old key's tokens within its poll interval.
func TestKeyRotation(t *testing.T) {
	s := startServer(t, serverOptions{})
	db := []string{"--db", s.DBPath}
	acme := s.Clients["org_acme"]
	before := s.token(t, acme)
	old := headerKid(t, before)

	rotated := keysCommand(t, db, "rotate", "--key-overlap", rotationOverlap, "--signing-algorithm", "ES256")
	next := rotated["key"].(map[string]any)["kid"].(string)
	rotatedAt := time.Now()
	var published time.Duration
	waitFor(t, "the server to publish the next key", func() bool {
		published = time.Since(rotatedAt)
		return slices.Contains(jwksKids(t, s.URL), next)
	})
	t.Logf("the next key was published %v after the rotation", published.Round(10*time.Millisecond))
	// Tokens keep coming from the old key until the new one signs; the
	// first one from the new key comes after it was published.
	waitFor(t, "a token signed by the new key", func() bool {
		tok := s.token(t, acme)
		switch headerKid(t, tok) {
		case next:
			return true
		case old:
			return false
		}
		t.Fatalf("a token signed by %s, neither the old key nor the new one", headerKid(t, tok))
		return false
	})
	t.Logf("the new key signed %v after the rotation", time.Since(rotatedAt).Round(10*time.Millisecond))
	after := s.token(t, acme)
	if !s.accepts(t, before) || !s.accepts(t, after) {
		t.Fatal("a token of the old or the new key is refused while both are published")
	}
	if got := jwksKids(t, s.URL); !slices.Equal(got, []string{next, old}) {
		t.Fatalf("JWKS %v, want the new key and the retiring one", got)
	}

	keysCommand(t, db, "retire", old)
	retiredAt := time.Now()
	waitFor(t, "the server to refuse the retired key's token", func() bool { return !s.accepts(t, before) })
	t.Logf("the retired key's token was refused %v after the retirement", time.Since(retiredAt).Round(10*time.Millisecond))
	if !s.accepts(t, after) {
		t.Error("the new key's token is refused after the old key's retirement")
	}
	if got := jwksKids(t, s.URL); !slices.Equal(got, []string{next}) {
		t.Errorf("JWKS after the retirement %v, want only %s", got, next)
	}
}

// TestKeyRotationAcrossReplicas: two replicas on PostgreSQL publish a
// rotated key before either signs with it, trust each other's tokens of
// either key, and both refuse a retired key's tokens within their poll
// interval.
func TestKeyRotationAcrossReplicas(t *testing.T) {
	c := startCluster(t, 2, testdeps.RequirePostgres(t))
	db := []string{"--database-url", c.dbURL, "--database-schema", c.schema}
	a, b := c.via(0), c.via(1)
	acme := a.Clients["org_acme"]
	before := a.token(t, acme)
	old := headerKid(t, before)

	next := keysCommand(t, db, "rotate", "--key-overlap", rotationOverlap)["key"].(map[string]any)["kid"].(string)
	rotatedAt := time.Now()
	// Watch both replicas until both sign with the new key: once either
	// has signed a token with it, every JWKS read after must publish it.
	var signedBy []string // replicas seen signing with the new key
	for len(signedBy) < 2 {
		if time.Since(rotatedAt) > 20*time.Second {
			t.Fatalf("after 20 s only %v sign with the new key", signedBy)
		}
		for _, r := range []*testServer{a, b} {
			if published := slices.Contains(jwksKids(t, r.URL), next); !published && len(signedBy) > 0 {
				t.Fatalf("%s does not publish the key %s already signs with", r.URL, signedBy[0])
			}
			if headerKid(t, r.token(t, acme)) == next && !slices.Contains(signedBy, r.URL) {
				signedBy = append(signedBy, r.URL)
				t.Logf("%s signs with the new key %v after the rotation", r.URL, time.Since(rotatedAt).Round(10*time.Millisecond))
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	fromA, fromB := a.token(t, acme), b.token(t, acme)
	for _, r := range []*testServer{a, b} {
		for name, tok := range map[string]string{"before the rotation": before, "from A": fromA, "from B": fromB} {
			if !r.accepts(t, tok) {
				t.Errorf("%s refuses the token signed %s", r.URL, name)
			}
		}
	}

	keysCommand(t, db, "retire", old)
	retiredAt := time.Now()
	for _, r := range []*testServer{a, b} {
		waitFor(t, "a replica to refuse the retired key's token", func() bool { return !r.accepts(t, before) })
		t.Logf("%s refused the retired key's token %v after the retirement", r.URL, time.Since(retiredAt).Round(10*time.Millisecond))
		if !r.accepts(t, fromA) || !r.accepts(t, fromB) {
			t.Errorf("%s refuses the new key's tokens after the retirement", r.URL)
		}
	}
}

// TestEncryptedKeysNeedTheirKey: with --key-encryption-key-file the key is
// stored encrypted; the database is then not served without that file (a
// clear error), and with it, it is, with the tokens signed before.
func TestEncryptedKeysNeedTheirKey(t *testing.T) {
	dir := t.TempDir()
	kek := filepath.Join(dir, "kek")
	if err := os.WriteFile(kek, []byte("3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	withKEK := func(c *app.Config) { c.KeyEncryptionKeyFile = kek }
	first := startServer(t, serverOptions{addr: addr, config: withKEK})
	token := first.token(t, first.Clients["org_acme"])
	keys, err := first.openStore(t).SigningKeys(t.Context())
	if err != nil || len(keys) != 1 || keys[0].KEKID == "" {
		t.Fatalf("stored keys %d, %v; want one, encrypted", len(keys), err)
	}
	first.stop()

	cfg := app.DefaultConfig()
	cfg.Listener, _ = net.Listen("tcp", "127.0.0.1:0")
	cfg.DBPath, cfg.PasswordCost = first.DBPath, bcrypt.MinCost
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	err = app.Run(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "the database's signing keys are encrypted: give their key-encryption key with "+
		"--key-encryption-key-file (ORGSCOPE_KEY_ENCRYPTION_KEY_FILE)") {
		t.Fatalf("serving the encrypted database without its key: %v", err)
	}

	second := startServer(t, serverOptions{addr: addr, dbPath: first.DBPath, config: withKEK})
	if !second.accepts(t, token) || headerKid(t, second.token(t, first.Clients["org_acme"])) != keys[0].ID {
		t.Fatal("with its key-encryption key the database does not serve as before")
	}
}
