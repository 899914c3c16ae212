package sqlite

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/orgscope/orgscope/store"
)

// TestBackupUnderWrites: a backup taken while another connection writes
// holds every write committed before it began, opens as a store, and is
// readable by its owner only, whatever the umask.
func TestBackupUnderWrites(t *testing.T) {
	dir := t.TempDir()
	live := openAt(t, filepath.Join(dir, "live.db"), nil)
	ctx := t.Context()
	if _, err := live.CreateOrg(ctx, store.Org{Code: "org_a", Name: "A"}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var acked []string
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; !stop.Load(); i++ {
			u := store.User{ID: store.NewID(store.UserIDPrefix), OrgCode: "org_a", Status: store.UserActive, Role: store.RoleMember}
			u.Email = u.ID + "@a.example"
			if _, err := live.CreateUser(ctx, u); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			acked = append(acked, u.ID)
			mu.Unlock()
		}
	})
	defer func() { stop.Store(true); wg.Wait() }()
	snapshot := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), acked...)
	}
	for len(snapshot()) < 50 {
		runtime.Gosched()
	}

	old := syscall.Umask(0)
	defer syscall.Umask(old)
	before := snapshot()
	dest := filepath.Join(dir, "backup.db")
	if err := Backup(ctx, filepath.Join(dir, "live.db"), dest, nil); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	stop.Store(true)
	wg.Wait()
	fi, err := os.Stat(dest)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	copyStore := openAt(t, dest, nil)
	for _, id := range before {
		if _, err := copyStore.GetUser(ctx, "org_a", id); err != nil {
			t.Fatalf("user %s, acknowledged before the backup, is not in it: %v", id, err)
		}
	}
	t.Logf("%d users acknowledged before the backup, all in it", len(before))
	if matches, _ := filepath.Glob(filepath.Join(dir, ".backup.db.partial-*")); len(matches) > 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}

// TestBackupRefusals: an existing file is kept unless overwriting is asked
// for, the database itself is never a destination, and a missing database
// is not created.
func TestBackupRefusals(t *testing.T) {
	dir := t.TempDir()
	live := filepath.Join(dir, "live.db")
	openAt(t, live, nil)
	dest := filepath.Join(dir, "kept.db")
	if err := os.WriteFile(dest, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Backup(t.Context(), live, dest, nil); !errors.Is(err, ErrBackupExists) {
		t.Errorf("existing destination: %v, want ErrBackupExists", err)
	}
	if b, _ := os.ReadFile(dest); string(b) != "precious" {
		t.Errorf("existing destination changed: %q", b)
	}
	if err := Backup(t.Context(), live, dest, &BackupOptions{Overwrite: true}); err != nil {
		t.Errorf("overwrite: %v", err)
	}
	if b, _ := os.ReadFile(dest); string(b) == "precious" {
		t.Error("overwrite left the old file")
	}
	if err := Backup(t.Context(), live, live, &BackupOptions{Overwrite: true}); err == nil {
		t.Error("backed up onto the database itself")
	}
	missing := filepath.Join(dir, "missing.db")
	if err := Backup(t.Context(), missing, filepath.Join(dir, "x.db"), nil); err == nil {
		t.Error("backup of a missing database succeeded")
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the missing database was created: %v", err)
	}
}
