package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/orgscope/orgscope"

// repoRoot is two directories up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s", root)
	}
	return root
}

// packages maps every package of the module (by import path) to the
// module-internal packages its non-test files import.
func packages(t *testing.T) map[string][]string {
	t.Helper()
	root := repoRoot(t)
	pkgs := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		importPath := module
		if rel != "." {
			importPath += "/" + filepath.ToSlash(rel)
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		deps := pkgs[importPath]
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, module+"/") && !slices.Contains(deps, p) {
				deps = append(deps, p)
			}
		}
		pkgs[importPath] = deps
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// reach returns every module package pkg imports, directly or not.
func reach(pkgs map[string][]string, pkg string) map[string]bool {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(p string) {
		for _, d := range pkgs[p] {
			if !seen[d] {
				seen[d] = true
				walk(d)
			}
		}
	}
	walk(pkg)
	return seen
}

func under(pkg, prefix string) bool {
	return pkg == module+"/"+prefix || strings.HasPrefix(pkg, module+"/"+prefix+"/")
}

// TestImportDirection: an external issuer replaces the embedded one without
// touching the resource server, so nothing but cmd (and tests) imports
// authserver; store is the bottom of the graph; auth and wellknown know
// nothing of tools or of each other's callers; the decision point (authz)
// depends on nothing but auth, and the service on nothing that serves a
// way in (tools, mcpserver, the issuer), so every way in can use it. The
// policy engine is one more authorizer (it knows authz and auth only), and
// the console a way in beside mcpserver, which mounts it as a handler.
func TestImportDirection(t *testing.T) {
	pkgs := packages(t)
	if len(pkgs) < 8 {
		t.Fatalf("found only %d packages; is the walk broken?", len(pkgs))
	}
	rules := []struct {
		pkg       string // prefix
		forbidden []string
		onlyStore bool
	}{
		{pkg: "mcpserver", forbidden: []string{"authserver", "cmd", "console", "policy"}},
		{pkg: "tools", forbidden: []string{"authserver", "mcpserver", "wellknown", "cmd", "store/sqlite", "store/postgres"}},
		{pkg: "auth", forbidden: []string{"authserver", "tools", "mcpserver", "store", "wellknown", "cmd", "service", "authz"}},
		{pkg: "authz", forbidden: []string{"authserver", "tools", "mcpserver", "store", "wellknown", "cmd", "service"}},
		{pkg: "service", forbidden: []string{"authserver", "tools", "mcpserver", "wellknown", "cmd", "policy", "console"}},
		{pkg: "policy", forbidden: []string{"authserver", "tools", "mcpserver", "store", "wellknown", "cmd", "service", "console"}},
		{pkg: "console", forbidden: []string{"authserver", "tools", "mcpserver", "wellknown", "cmd", "store/sqlite", "store/postgres", "policy"}},
		{pkg: "wellknown", forbidden: []string{"authserver", "tools", "mcpserver", "auth", "store", "cmd"}},
		{pkg: "authserver", forbidden: []string{"mcpserver", "tools", "wellknown", "cmd"}},
		{pkg: "store", onlyStore: true},
	}
	for pkg := range pkgs {
		for _, rule := range rules {
			if !under(pkg, rule.pkg) {
				continue
			}
			for dep := range reach(pkgs, pkg) {
				if rule.onlyStore && !under(dep, "store") {
					t.Errorf("%s imports %s: store packages may import only store packages", pkg, dep)
				}
				for _, f := range rule.forbidden {
					if under(dep, f) {
						t.Errorf("%s imports %s (directly or not); %s must not depend on %s", pkg, dep, rule.pkg, f)
					}
				}
			}
		}
	}
}

// TestPackageDocs: every package has a doc.go with its package comment, and
// no other file of it has one.
func TestPackageDocs(t *testing.T) {
	root := repoRoot(t)
	for pkg := range packages(t) {
		dir := filepath.Join(root, strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/"))
		entries, _ := os.ReadDir(dir)
		var withDoc []string
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, e.Name()), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if f.Doc != nil {
				withDoc = append(withDoc, e.Name())
			}
		}
		if pkg == module+"/cmd/orgscope" { // a main package documents itself in main.go
			continue
		}
		if !slices.Equal(withDoc, []string{"doc.go"}) {
			t.Errorf("%s: package comment in %v, want exactly doc.go", pkg, withDoc)
		}
	}
}
