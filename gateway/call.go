package gateway

import (
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/budget"
	"github.com/allot-dev/allot/provider"
)

// callState is how far a call has gone through its lifecycle (see serve
// and docs/design.md "A call's lifecycle"). It only moves forward, and
// every later phase asks it rather than guessing from the event's fields,
// so no phase runs twice and none is skipped.
type callState uint8

const (
	// callParsed: authenticated, read and routed; nothing is owed yet.
	callParsed callState = iota
	// callAdmitted: rationing let a metered call through, its worst case
	// reserved: from here it gets exactly one event.
	callAdmitted
	// callSent: the provider was handed the call but never answered (the
	// client left, or the call timed out): it may bill the prompt.
	callSent
	// callForwarded: the provider answered with headers.
	callForwarded
	// callRelayed: relaying the answer ended: it went to the client whole
	// (all but the tail held until the event is recorded), or was cut short.
	callRelayed
	// callPriced: usage, served model and cost are final; reached keeps
	// how far the call had got with the provider.
	callPriced
	// callSettled: the budget reservation is settled with the real cost,
	// or released if the provider never got the call.
	callSettled
	// callRecorded: the call's one event is recorded; nothing more happens to it.
	callRecorded
)

var callStateNames = [...]string{"parsed", "admitted", "sent", "forwarded", "relayed", "priced", "settled", "recorded"}

func (s callState) String() string {
	if int(s) < len(callStateNames) {
		return callStateNames[s]
	}
	return "unknown"
}

// call is one proxied call, from request to usage event.
type call struct {
	state   callState
	reached callState // how far the call got with the provider: its state when priced
	route   allot.Route
	metered bool // the route is billed: admitted, priced, settled and recorded
	start   time.Time
	body    []byte
	info    allot.RequestInfo
	up      *Upstream
	served  string            // the model asked of the provider (a downgrade changes it)
	res     *budget.Admission // the budget reservation, nil without rationing
	event   allot.Event       // the call's one event, filled in phase by phase

	status   int          // as the client saw it
	upStatus int          // as the provider answered
	tap      provider.Tap // usage tapped from the answer, nil until the provider answered
	firstAt  time.Time    // first response body byte sent to the client
}

// advance moves the call to state s; a call never goes back.
func (c *call) advance(s callState) {
	if s > c.state {
		c.state = s
	}
}

// mayBill reports whether the provider may bill the call even without
// reporting usage: it received the prompt and either answered with
// success or never answered (the client left, the call timed out). Then
// what it did not report is estimated.
func (c *call) mayBill() bool {
	if c.reached == callSent {
		return true
	}
	return c.reached >= callForwarded && c.upStatus < 300
}

// meteredRoute reports whether calls on route are billed by the provider
// and so get an event: listing models and counting tokens are free.
func meteredRoute(route allot.Route) bool {
	return route != allot.RouteModels && route != allot.RouteCountTokens
}
