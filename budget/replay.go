package budget

import (
	"context"
	"fmt"

	"github.com/allot-dev/allot"
)

// Replay adds events' spend to every budget they count against, in the
// period of each event's time, without reservations: for rebuilding
// counters from the ledger at start (MemoryCounters forget at restart) and
// for usage that reached the ledger without passing through Admit (OTLP,
// imports). Calls admitted by Admit are counted by their Settle; replaying
// them as well would count them twice.
//
// Charges to one counter cell are summed here first, saturated at the
// int64 range (allot.SatAdd), so that replaying a ledger whose sums reached
// allot.MaxMoney (stored before the ingest bounds, or past them) counts the
// cell as spent to the bound rather than wrapping it negative, and the
// counters get one charge per cell rather than one per event.
func (r *Rationer) Replay(ctx context.Context, events []allot.Event) error {
	type cell struct {
		key    string
		bucket int64
	}
	var charges []Charge
	at := map[cell]int{}
	for i := range events {
		e := &events[i]
		model := e.ServedModel
		if model == "" {
			model = e.RequestedModel
		}
		var inBuf [8]*instance
		for _, in := range r.ix.budgets(inBuf[:0], e.Principal, e.Task, model) {
			bucket, span := in.rule.win.cell(e.Time)
			ch := Charge{Key: in.key, Bucket: bucket, Span: span, Actual: allot.SatAdd(max(e.Tokens.Input, 0), max(e.Tokens.Output, 0))}
			if in.rule.usd {
				ch.Actual = int64(max(e.Cost, 0))
			}
			if ch.Actual == 0 {
				continue
			}
			if j, ok := at[cell{ch.Key, ch.Bucket}]; ok {
				charges[j].Actual = allot.SatAdd(charges[j].Actual, ch.Actual)
				continue
			}
			at[cell{ch.Key, ch.Bucket}] = len(charges)
			charges = append(charges, ch)
		}
	}
	if len(charges) == 0 {
		return nil
	}
	if err := r.counters.AddSpent(ctx, charges); err != nil {
		return fmt.Errorf("replay %d events into budget counters: %w", len(events), err)
	}
	return nil
}
