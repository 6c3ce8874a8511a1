package glasshouse_test

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoConflictMarkers fails when a merge left conflict markers in a
// source or documentation file (the compiler catches them in Go files, but
// not in README.md, docs or web assets).
func TestNoConflictMarkers(t *testing.T) {
	skip := map[string]bool{".git": true, ".models": true, ".cache": true, "bin": true, "node_modules": true, "testdata": true}
	exts := map[string]bool{".md": true, ".go": true, ".js": true, ".html": true, ".css": true, ".sh": true, ".sql": true, ".json": true, ".yml": true, ".yaml": true}
	checked := 0
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && (skip[d.Name()] || strings.HasPrefix(d.Name(), ".") && d.Name() != ".ci") {
				return filepath.SkipDir
			}
			return nil
		}
		if !exts[filepath.Ext(p)] && d.Name() != "Makefile" && filepath.Dir(p) != ".ci" {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		checked++
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for n := 1; sc.Scan(); n++ {
			l := sc.Text()
			if strings.HasPrefix(l, "<<<<<<< ") || strings.HasPrefix(l, ">>>>>>> ") || l == "=======" {
				t.Errorf("%s:%d: merge conflict marker %q", p, n, l)
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("checked only %d files; the walk is wrong", checked)
	}
}
