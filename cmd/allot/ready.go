package main

import (
	"context"
	"fmt"

	"github.com/allot-dev/allot/budget"
	"github.com/allot-dev/allot/ledger"
)

// readiness is the gateway's /readyz check beyond the key directory: the
// replica is not ready while usage events wait in the spool (the ledger
// store refuses them) or while the shared budget counters are unreachable
// (calls are then refused, or counted in this process only). Either way
// it still serves what its failure_policy allows; load balancers should
// prefer a replica that is whole. The reasons name no host: /readyz is
// not authenticated, and the logs say more.
// fo is nil when the counters live in this process's memory.
func readiness(w *ledger.Writer, fo *budget.Failover) func(context.Context) error {
	return func(context.Context) error {
		if n := w.Spooled(); n > 0 {
			return fmt.Errorf("the ledger store is unreachable: %d usage events wait in the spool for it", n)
		}
		if fo != nil && !fo.Reachable() {
			return fmt.Errorf("the budget counters are unreachable: calls are counted under failure_policy until they answer")
		}
		return nil
	}
}
