package allot_test

import (
	"go/build"
	"slices"
	"testing"
)

// The root package holds the domain only: its types and rules say nothing
// of any transport, so it imports none. HTTP statuses and wire shapes of
// the error codes live in package provider; Protocol and Tap too.
func TestRootImportsNoTransport(t *testing.T) {
	t.Parallel()
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, banned := range []string{"net", "net/http", "net/url"} {
		if slices.Contains(pkg.Imports, banned) {
			t.Errorf("the domain root imports %s (in %v): it must not depend on a transport", banned, pkg.GoFiles)
		}
	}
}
