package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/orgscope/orgscope/internal/testdeps"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/postgres"
	"github.com/orgscope/orgscope/store/postgres/pgtest"
	"github.com/orgscope/orgscope/store/sqlite"
)

// TestKillLeavesNoChangeWithoutItsEvent runs the real binary under a write
// load and kills it with SIGKILL, again and again; afterwards every user
// the tools created — acknowledged or not — has its audit event, and every
// acknowledged one exists. A change and its event commit together, so no
// crash can split them.
func TestKillLeavesNoChangeWithoutItsEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it repeatedly; skipped with -short")
	}
	bin := buildBinary(t)
	t.Run("sqlite", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "crash.db")
		killLoop(t, bin, []string{"--db", db}, func() store.Store {
			st, err := sqlite.Open(t.Context(), db, nil)
			if err != nil {
				t.Fatal(err)
			}
			return st
		})
	})
	t.Run("postgres", func(t *testing.T) {
		url := testdeps.RequirePostgres(t)
		schema := pgtest.Schema(t)
		killLoop(t, bin, []string{"--database-url", url, "--database-schema", schema}, func() store.Store {
			st, err := postgres.Open(t.Context(), url, &postgres.Options{Schema: schema})
			if err != nil {
				t.Fatal(err)
			}
			return st
		})
	})
}

// buildBinary builds the orgscope command into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "orgscope")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/orgscope").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// killLoop runs cycles of: start the binary on the database, write under
// load for a moment, kill -9. Then it checks the database it opens.
func killLoop(t *testing.T, bin string, dbFlags []string, open func() store.Store) {
	const cycles, writers = 5, 8
	var acked []string // ids of users whose creation was acknowledged
	var creds credentials
	for cycle := range cycles {
		base, banner, stop := startBinary(t, bin, append([]string{"--addr", "127.0.0.1:0", "--demo=true", "--rate-limit", "0"}, dbFlags...))
		if cycle == 0 {
			creds = parseCredentials(banner)["org_acme"]
			if creds.ID == "" {
				stop()
				t.Fatalf("no acme client in the first banner:\n%s", banner)
			}
		}
		s := &testServer{URL: base, Resource: base + "/mcp"}
		token := s.token(t, creds, "write:users")

		var mu sync.Mutex
		var wg sync.WaitGroup
		ctx, cancel := context.WithCancel(context.Background())
		for w := range writers {
			wg.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					id, ok := createUserQuietly(ctx, s, token, fmt.Sprintf("c%d-w%d-%d@crash.example", cycle, w, i))
					if ok {
						mu.Lock()
						acked = append(acked, id)
						mu.Unlock()
					}
				}
			})
		}
		time.Sleep(time.Duration(300+100*cycle) * time.Millisecond)
		stop() // SIGKILL, mid-load
		cancel()
		wg.Wait()
	}
	if len(acked) < cycles {
		t.Fatalf("only %d writes were acknowledged; the load did not run", len(acked))
	}

	st := open()
	defer st.Close()
	ctx := t.Context()
	users := map[string]store.User{}
	for _, u := range allUsers(t, st, "org_acme") {
		users[u.ID] = u
	}
	events := map[string]store.AuditEvent{}
	for page := (store.Page{Limit: store.MaxPageSize}); ; {
		evs, next, err := st.ListAuditEvents(ctx, "org_acme", store.AuditFilter{Action: "tools/call:create_user", Decision: "allow"}, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			events[e.Target] = e
		}
		if page.Cursor = next; next == "" {
			break
		}
	}
	for _, id := range acked {
		if _, ok := users[id]; !ok {
			t.Errorf("acknowledged user %s is gone", id)
		}
	}
	crashUsers := 0
	for id, u := range users {
		if !strings.HasSuffix(u.Email, "@crash.example") {
			continue
		}
		crashUsers++
		if e, ok := events[id]; !ok || e.Outcome != "ok" {
			t.Errorf("user %s (%s) exists without its audit event", id, u.Email)
		}
	}
	t.Logf("%d cycles of kill -9 under load: %d writes acknowledged, %d users stored, %d with their events",
		cycles, len(acked), crashUsers, len(events))
}

// createUserQuietly calls create_user and reports the new user's id when
// the call was acknowledged; a refused or broken call is not.
func createUserQuietly(ctx context.Context, s *testServer, token, email string) (string, bool) {
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call",
		"params": map[string]any{"name": "create_user", "arguments": map[string]any{"email": email}}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Resource, bytes.NewReader(body))
	if err != nil {
		return "", false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		return "", false
	}
	var r struct {
		Result struct {
			IsError           bool `json:"isError"`
			StructuredContent struct {
				ID string `json:"user_id"`
			} `json:"structuredContent"`
		} `json:"result"`
	}
	if json.Unmarshal(raw, &r) != nil || r.Result.IsError || r.Result.StructuredContent.ID == "" {
		return "", false
	}
	return r.Result.StructuredContent.ID, true
}

var endpointLine = regexp.MustCompile(`MCP endpoint:\s+(\S+)/mcp`)

// startBinary runs the binary with args and waits for its banner; stop
// kills it with SIGKILL and waits for it to die.
func startBinary(t *testing.T, bin string, args []string) (base, banner string, stop func()) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stdout, _ := cmd.StdoutPipe()
	var errBuf syncBuffer
	cmd.Stderr = &errBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop = func() {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var b strings.Builder
	deadline := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				stop()
				t.Fatalf("the binary exited; output:\n%s\nstderr:\n%s", b.String(), errBuf.String())
			}
			b.WriteString(line + "\n")
			if m := endpointLine.FindStringSubmatch(line); m != nil {
				base = m[1]
				// The banner is written at once; what follows the
				// endpoint line (the first start's credentials) arrives
				// with it.
				for quiet := false; !quiet; {
					select {
					case line, ok := <-lines:
						if !ok {
							quiet = true
						}
						b.WriteString(line + "\n")
					case <-time.After(300 * time.Millisecond):
						quiet = true
					}
				}
				go func() {
					for range lines {
					}
				}()
				waitHealthy(t, base, nil)
				return base, b.String(), stop
			}
		case <-deadline:
			stop()
			t.Fatalf("no banner after 30 s:\n%s", b.String())
		}
	}
}
