package counterstest_test

import (
	"testing"

	"github.com/allot-dev/allot/budget"
	"github.com/allot-dev/allot/budget/counterstest"
)

func TestMemoryCounters(t *testing.T) {
	t.Parallel()
	counterstest.Run(t, func(*testing.T) budget.Counters { return budget.NewMemoryCounters() })
}
