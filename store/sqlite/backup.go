package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// BackupOptions configures Backup. A nil *BackupOptions means every default.
type BackupOptions struct {
	// Overwrite replaces dest if it exists; otherwise an existing dest is
	// refused and left as it was.
	Overwrite bool
	// BusyTimeout is how long to wait for a lock held by another process
	// (a checkpoint of the running server). Zero means DefaultBusyTimeout.
	BusyTimeout time.Duration
}

// ErrBackupExists is returned by Backup when dest exists and
// BackupOptions.Overwrite is not set.
var ErrBackupExists = errors.New("sqlite: backup file exists")

// Backup writes a consistent copy of the database file at path to dest
// while other processes (the server) go on reading and writing it: VACUUM
// INTO copies one read transaction's snapshot, which in WAL mode blocks no
// writer. It migrates nothing and creates no database at path.
//
// The copy holds what the live database does — signing keys, secret and
// password hashes — so it is created 0600 whatever the umask. It is written
// to a temporary file beside dest, synced, and only then moved into place,
// so dest is never a partial copy; without Overwrite an existing dest is
// refused (ErrBackupExists), even one that appears while the copy is made.
func Backup(ctx context.Context, path, dest string, opts *BackupOptions) error {
	var o BackupOptions
	if opts != nil {
		o = *opts
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = DefaultBusyTimeout
	}
	if fi, err := os.Stat(path); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	} else if !fi.Mode().IsRegular() {
		return fmt.Errorf("sqlite: backup: %s is not a database file", path)
	}
	if !o.Overwrite {
		if _, err := os.Lstat(dest); err == nil {
			return fmt.Errorf("%w: %s", ErrBackupExists, dest)
		}
	}
	if abs, err := filepath.Abs(path); err == nil {
		if absDest, err := filepath.Abs(dest); err == nil && absDest == abs {
			return fmt.Errorf("sqlite: backup: %s is the database itself", dest)
		}
	}

	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".partial-*")
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // a no-op once it is moved into place
	err = tmp.Chmod(0o600)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}

	// mode=rw: never create the database; the connection reads only.
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+url.Values{
		"mode":    {"rw"},
		"_pragma": {fmt.Sprintf("busy_timeout(%d)", o.BusyTimeout.Milliseconds())},
	}.Encode())
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	// VACUUM INTO writes into an empty existing file, keeping its mode.
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmpName); err != nil {
		return fmt.Errorf("sqlite: backup %s: %w", path, err)
	}
	if err := syncFile(tmpName); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	if o.Overwrite {
		err = os.Rename(tmpName, dest)
	} else {
		// A hard link fails if dest exists: no race can overwrite it.
		err = os.Link(tmpName, dest)
		if errors.Is(err, fs.ErrExist) {
			err = fmt.Errorf("%w: %s", ErrBackupExists, dest)
		}
	}
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	return syncFile(filepath.Dir(dest))
}

func syncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}
