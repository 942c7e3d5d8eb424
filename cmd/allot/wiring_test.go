package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// cmd/allot only wires: it builds the parts from what it opened and knows
// their types, so it never asks a value at run time what it can do. A type
// assertion here means a contract (allot.Store, budget.Counters) is not
// honest about what its implementations do: put the method in the
// contract, or keep the concrete value where it was made.
func TestWiringAssertsNoTypes(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if ta, ok := n.(*ast.TypeAssertExpr); ok && ta.Type != nil {
				t.Errorf("%s: a type assertion to %s", fset.Position(ta.Pos()), types(ta.Type))
			}
			return true
		})
	}
}

// types renders a type expression for a failure message.
func types(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return types(e.X) + "." + e.Sel.Name
	case *ast.StarExpr:
		return "*" + types(e.X)
	case *ast.InterfaceType:
		return "interface{...}"
	}
	return "a type"
}
