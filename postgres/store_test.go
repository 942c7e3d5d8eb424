package postgres

import (
	"testing"

	"github.com/allot-dev/allot/internal/storetest"
)

// TestStoreContract runs the suite every allot store passes.
func TestStoreContract(t *testing.T) {
	t.Parallel()
	testDSN(t)
	storetest.Run(t, func(t *testing.T) storetest.Store { return openTest(t) })
}
