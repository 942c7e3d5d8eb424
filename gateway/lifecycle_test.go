package gateway_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/allot-dev/allot/gateway"
	"github.com/allot-dev/allot/pricing"
	"github.com/allot-dev/allot/provider/anthropic"
	"github.com/allot-dev/allot/provider/openai"
)

// TestGatewayImportsNoWireFormat: the gateway is given its wire formats
// (Options.Protocols) and imports none of them, so adding a provider's
// format never touches the call's lifecycle.
func TestGatewayImportsNoWireFormat(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, format := range []string{"provider/openai", "provider/anthropic"} {
				if strings.HasSuffix(path, format) || strings.Contains(path, format+"/") {
					t.Errorf("%s imports %s: wire formats are passed in gateway.Options.Protocols", name, path)
				}
			}
		}
	}
}

// TestNewNeedsEveryRoutesWireFormat: a gateway missing the wire format
// of one of its routes is a wiring bug, refused at New rather than
// answered with a nil dereference on the first call.
func TestNewNeedsEveryRoutesWireFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		protocols gateway.Protocols
		wantPanic bool
	}{
		{"none", nil, true},
		{"openai only", gateway.Protocols{"openai": openai.Protocol{}}, true},
		{"anthropic only", gateway.Protocols{"anthropic": anthropic.Protocol{}}, true},
		{"both", gateway.Protocols{"openai": openai.Protocol{}, "anthropic": anthropic.Protocol{}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if got := recover() != nil; got != tt.wantPanic {
					t.Errorf("New panicked = %v, want %v", got, tt.wantPanic)
				}
			}()
			gateway.New(gateway.Options{Protocols: tt.protocols, Keys: staticKeys{}, Pricer: pricing.Default(), Recorder: discardRecorder{}})
		})
	}
}
