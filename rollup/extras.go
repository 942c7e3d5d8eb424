package rollup

import "github.com/allot-dev/allot"

// Extras is what an attribution's calls add to insight usage beyond the
// report rollups (one row of insight extras): failed, repeated and
// unlimited calls, indexed by the constants below in column order.
type Extras [ExtrasValues]int64

// Positions in Extras.
const (
	FailedRequests = iota
	FailedInput
	FailedOutput
	FailedCost
	DupRequests
	DupInput
	DupOutput
	DupCost
	NoMaxRequests
	NoMaxOutput
	Long         // allot.LongOutputBuckets pairs of (requests, output)
	ExtrasValues = Long + 2*allot.LongOutputBuckets
)

// Counts reports whether a call counts in Extras at all: it failed,
// repeats a call (dup), or set no output limit.
func Counts(status, maxTokens int64, dup bool) bool {
	return allot.FailedStatus(int(status)) || dup || maxTokens == 0
}

// Add counts one call with e's figures, dup saying whether it repeats a
// call (Duplicate).
func (x *Extras) Add(e *Event, dup bool) { x.AddCall(e.Status, e.MaxTokens, &e.Tokens, e.Cost, dup) }

// AddCall counts one call: its status, output limit, tokens and cost, dup
// saying whether it repeats a call (Duplicate).
func (x *Extras) AddCall(status, maxTokens int64, t *allot.Tokens, cost int64, dup bool) {
	if allot.FailedStatus(int(status)) {
		x[FailedRequests]++
		x[FailedInput] = allot.SatAdd(x[FailedInput], t.Input)
		x[FailedOutput] = allot.SatAdd(x[FailedOutput], t.Output)
		x[FailedCost] = allot.SatAdd(x[FailedCost], cost)
	}
	if dup {
		x[DupRequests]++
		x[DupInput] = allot.SatAdd(x[DupInput], t.Input)
		x[DupOutput] = allot.SatAdd(x[DupOutput], t.Output)
		x[DupCost] = allot.SatAdd(x[DupCost], cost)
	}
	if maxTokens == 0 {
		x[NoMaxRequests]++
		x[NoMaxOutput] = allot.SatAdd(x[NoMaxOutput], t.Output)
		if c := allot.LongOutputBucket(t.Output); c >= 0 {
			x[Long+2*c]++
			x[Long+2*c+1] = allot.SatAdd(x[Long+2*c+1], t.Output)
		}
	}
}

// AddExtras adds b to a.
func AddExtras(a, b *Extras) {
	for i := range b {
		a[i] = allot.SatAdd(a[i], b[i])
	}
}

// SetUsage adds x's figures to u.
func (x *Extras) SetUsage(u *allot.InsightUsage) {
	u.Failed = u.Failed.Add(allot.UsageSum{Requests: x[FailedRequests], Input: x[FailedInput], Output: x[FailedOutput], Cost: allot.Money(x[FailedCost])})
	u.Duplicates = u.Duplicates.Add(allot.UsageSum{Requests: x[DupRequests], Input: x[DupInput], Output: x[DupOutput], Cost: allot.Money(x[DupCost])})
	u.NoMaxTokens = allot.SatAdd(u.NoMaxTokens, x[NoMaxRequests])
	u.NoMaxOutput = allot.SatAdd(u.NoMaxOutput, x[NoMaxOutput])
	for c := range u.LongOutputs {
		u.LongOutputs[c].Requests = allot.SatAdd(u.LongOutputs[c].Requests, x[Long+2*c])
		u.LongOutputs[c].Output = allot.SatAdd(u.LongOutputs[c].Output, x[Long+2*c+1])
	}
}
