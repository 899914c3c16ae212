package sqlstore

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// Migration is one step of a backend's schema, from a file named
// NNNN_name.sql.
type Migration struct {
	Version int
	Name    string // the file name, for the record and for errors
	SQL     string
}

// Migrations reads the steps in dir of fsys, in version order. fs.ReadDir
// sorts by name, and the zero-padded numbers make that the version order.
func Migrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var steps []Migration
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(prefix)
		if !ok || err != nil || version <= 0 || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", e.Name())
		}
		if n := len(steps); n > 0 && steps[n-1].Version == version {
			return nil, fmt.Errorf("migration %s: version %d used twice", e.Name(), version)
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		steps = append(steps, Migration{Version: version, Name: e.Name(), SQL: string(body)})
	}
	return steps, nil
}
