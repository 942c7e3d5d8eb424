package upstreamsim

import (
	"net/http/httptest"
	"testing"
)

// The simulator the tests start; kept apart from the SDK tests (built
// without them under the nosdk tag, as .ci/run's fuzzing does).

const testKey = "sk-sim-test-key-0001"

// newSim starts a simulator that requires testKey.
func newSim(t *testing.T, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	if opts.RequireKey == "" {
		opts.RequireKey = testKey
	}
	sim := New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv
}
