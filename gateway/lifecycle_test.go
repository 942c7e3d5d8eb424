package gateway_test

import (
	"context"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/allot-dev/allot"
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

// answering replaces the provider by one that answers every call with
// status and body.
func answering(status int, body string) func(http.Handler) http.Handler {
	return func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		})
	}
}

// TestEveryEndingIsOneEventAndOneSettlement: however an admitted call
// ends, it is recorded once, with the status its client saw, and its
// reservation is settled once: counted (here against a limit of one
// request a minute, so the next call is refused) when the provider got
// the call, released when it never did.
func TestEveryEndingIsOneEventAndOneSettlement(t *testing.T) {
	t.Parallel()
	chat := `{"model":"gpt-4o-mini","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`
	tests := []struct {
		name       string
		opts       harnessOptions
		wantStatus int
		counted    bool // the provider got the call: its request counts
	}{
		{"whole answer", harnessOptions{}, http.StatusOK, true},
		{"provider error", harnessOptions{wrapSim: answering(http.StatusInternalServerError, `{"error":{"message":"boom","type":"server_error"}}`)}, http.StatusInternalServerError, true},
		{"provider refused allot's key", harnessOptions{wrapSim: answering(http.StatusUnauthorized, `{"error":{"message":"bad key"}}`)}, http.StatusBadGateway, true},
		{"provider unreachable", harnessOptions{simURL: closedURL(t)}, http.StatusBadGateway, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.policy = &allot.Policy{RateLimits: []allot.RateLimit{{Scope: "user:alice", RequestsPerMinute: 1}}}
			h := newHarness(t, tt.opts)
			call := func() int {
				resp, err := h.post(context.Background(), "/v1/chat/completions", chat, nil)
				if err != nil {
					t.Fatalf("call: %v", err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode
			}
			if got := call(); got != tt.wantStatus {
				t.Fatalf("status %d, want %d", got, tt.wantStatus)
			}
			if ev := h.waitEvents(1)[0]; ev.Status != tt.wantStatus {
				t.Errorf("event status %d, want %d", ev.Status, tt.wantStatus)
			}
			next := call()
			if refused := next == http.StatusTooManyRequests; refused != tt.counted {
				t.Errorf("next call's status %d: the first call counted = %v, want %v", next, refused, tt.counted)
			}
		})
	}
}
