package policy_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/policy"
)

const noDeletes = `
@id("no-deletes") @reason("nobody deletes users this week")
forbid (principal, action == OrgScope::Action::"delete_user", resource);`

func deleteAllowed(t *testing.T, e *policy.Engine) bool {
	t.Helper()
	return e.Authorize(t.Context(), authz.Request{Principal: acme, Action: mustAction(t, "delete_user"), Stage: authz.StageCall,
		Org: "org_acme", Args: map[string]any{"user_id": "usr_0123456789abcdef0123456789abcdef"}}).Allow
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReload: a reload puts a changed file in force and tells those who
// listen; a file that does not compile changes nothing, is logged and
// counted; an unchanged file is not reloaded.
func TestReload(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policy.cedar")
	writeFile(t, file, policy.Builtin())
	var logs bytes.Buffer
	e, err := policy.New(policy.Options{File: file, Logger: slog.New(slog.NewTextHandler(&logs, nil)), PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	var changes atomic.Int32
	e.OnChange(func() { changes.Add(1) })
	if !deleteAllowed(t, e) {
		t.Fatal("the built-in policy refuses delete_user")
	}

	writeFile(t, file, withBuiltin(noDeletes))
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	if deleteAllowed(t, e) || changes.Load() != 1 || e.Stats() != (policy.Stats{Reloads: 1}) {
		t.Fatalf("after a reload: allowed %v, %d changes, %+v", deleteAllowed(t, e), changes.Load(), e.Stats())
	}

	writeFile(t, file, []byte("@id(\"broken\")\npermit (principal, action, resource) when { principal == };\n"))
	err = e.Reload()
	var le *policy.LoadError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), file+":2:") {
		t.Fatalf("a broken file: %v", err)
	}
	if deleteAllowed(t, e) || changes.Load() != 1 || e.Stats() != (policy.Stats{Reloads: 1, Failures: 1}) {
		t.Errorf("a broken file changed something: allowed %v, %d changes, %+v", deleteAllowed(t, e), changes.Load(), e.Stats())
	}
	if !strings.Contains(logs.String(), "policy file refused") || !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("the refusal was not logged as an error:\n%s", logs.String())
	}

	writeFile(t, file, policy.Builtin())
	if err := e.Reload(); err != nil || e.Stats().Reloads != 2 || !deleteAllowed(t, e) {
		t.Fatalf("back to a good file: %v %+v", err, e.Stats())
	}
	if err := e.Reload(); err != nil || e.Stats().Reloads != 2 || changes.Load() != 2 {
		t.Errorf("an unchanged file was reloaded: %v %+v, %d changes", err, e.Stats(), changes.Load())
	}
}

// TestRefusedAtStart: a file that does not compile is refused when the
// engine starts, with the file, line and column.
func TestRefusedAtStart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policy.cedar")
	writeFile(t, file, []byte("@id(\"x\")\nforbid (principal, action, resource) when { principal.nope };\n"))
	_, err := policy.New(policy.Options{File: file})
	if err == nil || !strings.Contains(err.Error(), file+":1:1: policy \"x\"") {
		t.Fatalf("got %v", err)
	}
	if _, err := policy.New(policy.Options{File: filepath.Join(t.TempDir(), "missing.cedar")}); err == nil {
		t.Error("a missing file was accepted")
	}
}

// TestWatch: Watch notices a changed file (here, one renamed over the old
// one, as editors and config management do) without being told.
func TestWatch(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "policy.cedar")
	writeFile(t, file, policy.Builtin())
	e, err := policy.New(policy.Options{File: file, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { e.Watch(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	tmp := filepath.Join(dir, "policy.cedar.new")
	writeFile(t, tmp, withBuiltin(noDeletes))
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for deleteAllowed(t, e) {
		if time.Now().After(deadline) {
			t.Fatal("the changed file was not loaded within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A file that disappears is reported once and changes nothing.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if deleteAllowed(t, e) || e.Stats().Failures != 1 {
		t.Errorf("after the file vanished: allowed %v, %+v", deleteAllowed(t, e), e.Stats())
	}
}

// TestConcurrentReloads: decisions keep coming while the policy is swapped
// (run with -race): every decision is one policy's or the other's.
func TestConcurrentReloads(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policy.cedar")
	writeFile(t, file, policy.Builtin())
	e, err := policy.New(policy.Options{File: file, PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	var allowed, refused atomic.Int64
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if deleteAllowed(t, e) {
					allowed.Add(1)
				} else {
					refused.Add(1)
				}
			}
		})
	}
	for i := 0; ctx.Err() == nil; i++ {
		src := policy.Builtin()
		if i%2 == 0 {
			src = withBuiltin(noDeletes)
		}
		os.WriteFile(file, src, 0o644)
		e.Reload()
	}
	wg.Wait()
	if allowed.Load() == 0 || refused.Load() == 0 || e.Stats().Failures != 0 {
		t.Errorf("allowed %d, refused %d, %+v", allowed.Load(), refused.Load(), e.Stats())
	}
}

// TestInfo: the policy in force is described by its text's version, when
// this process put it in force and its policies; a reload changes them, a
// refused file does not, and the same text has the same version.
func TestInfo(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policy.cedar")
	writeFile(t, file, policy.Builtin())
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e, err := policy.New(policy.Options{File: file, PollInterval: -1, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	builtin, err := policy.New(policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	first := e.Info()
	if first.Name != file || len(first.Version) != 12 || first.Version != builtin.Info().Version || !first.LoadedAt.Equal(now) ||
		!bytes.Equal(first.Source, policy.Builtin()) || len(first.Policies) == 0 || builtin.Info().Name != policy.BuiltinName {
		t.Fatalf("info of the built-in text: %+v", first)
	}
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	writeFile(t, file, withBuiltin(noDeletes))
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	second := e.Info()
	if second.Version == first.Version || !second.LoadedAt.Equal(now) || second.Reloads != 1 || !strings.Contains(strings.Join(second.Policies, " "), "no-deletes") {
		t.Fatalf("after a reload: %+v", second)
	}
	writeFile(t, file, []byte("not cedar"))
	e.Reload()
	if third := e.Info(); third.Version != second.Version || !third.LoadedAt.Equal(second.LoadedAt) || third.Failures != 1 {
		t.Errorf("a refused file changed the info: %+v", third)
	}
}
