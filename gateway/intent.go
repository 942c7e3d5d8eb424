package gateway

import "github.com/allot-dev/allot"

// intend journals the call's intent just before it goes to the provider
// (see allot.IntentRecorder): the event recorded in its place, flagged
// estimated with status allot.StatusCrashed, if allot dies before the call
// settles, because the provider bills a call it received either way. It
// holds what the call's event would, minus what only the answer tells,
// and never prompt text:
//   - input: the request's size at four bytes a token, the gateway's
//     fallback estimate. The tokenizer would be closer but costs
//     milliseconds on a long prompt, too much for every call; the body's
//     JSON syntax makes this an over-estimate for short prompts.
//   - output: the reservation's worst case, the max_tokens the request set
//     or else the model's maximum (worstCase): what the budgets held for
//     the call while it was in flight, so a crash never frees spend that
//     may have happened.
//
// It does nothing for unmetered calls, or when the Recorder keeps no journal.
func (g *Gateway) intend(c *call) {
	if !c.metered || g.intents == nil {
		return
	}
	ev := c.event
	ev.ServedModel = c.served
	ev.Tokens = allot.Tokens{
		Input:  (int64(len(c.body)) + 3) / 4,
		Output: g.worstCase(c, c.info.Model).Output,
	}
	ev.Cost, ev.CostKnown = g.opts.Pricer.Cost(c.up.Name, ev.ServedModel, c.start, ev.Tokens)
	ev.Status, ev.Estimated = allot.StatusCrashed, true
	g.intents.Intend(ev)
}
