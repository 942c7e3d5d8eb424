package allot_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The root package holds the domain only: its types and rules say nothing
// of any transport, so no file of it imports one. HTTP statuses and wire
// shapes of the error codes live in package provider; Protocol and Tap too.
func TestRootImportsNoTransport(t *testing.T) {
	t.Parallel()
	banned := []string{"net/http", "net/url", "net"}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, b := range banned {
				if path == b {
					t.Errorf("%s imports %s: the domain root must not depend on a transport", name, path)
				}
			}
		}
	}
}
