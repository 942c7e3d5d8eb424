package gateway

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/pricing"
	"github.com/allot-dev/allot/provider/openai"
)

// reportedTap is a tap whose provider reported fixed usage.
type reportedTap struct {
	t               allot.Tokens
	haveIn, haveOut bool
	model, text     string
}

func (reportedTap) Event(string, []byte) bool { return true }
func (reportedTap) Body([]byte)               {}
func (r reportedTap) Usage() (allot.Tokens, bool, bool) {
	return r.t, r.haveIn, r.haveOut
}
func (r reportedTap) Model() string      { return r.model }
func (r reportedTap) OutputText() string { return r.text }

var fuzzPricer = pricing.Default()

// FuzzPrice is the accounting path of one call: whatever the provider
// reports, and however far the call got, pricing keeps a count the
// provider reported within one call's bounds exactly, estimates only
// what the provider may bill, never leaves one call's bounds, and runs
// once.
func FuzzPrice(f *testing.F) {
	f.Add(int64(120), int64(0), int64(0), int64(9), int64(0), true, true, uint8(callRelayed), 200, "gpt-4o-mini", "Hello!")
	f.Add(int64(1)<<62, int64(-5), int64(1)<<40, int64(1)<<62, int64(7), true, true, uint8(callRelayed), 200, "gpt-4o", "")
	f.Add(int64(0), int64(0), int64(0), int64(0), int64(0), false, false, uint8(callSent), 0, "", "")
	f.Add(int64(50), int64(10), int64(0), int64(0), int64(0), true, false, uint8(callRelayed), 200, "o3", "a cut answer")
	f.Add(int64(0), int64(0), int64(0), int64(0), int64(0), false, false, uint8(callAdmitted), 0, "", "")
	f.Add(int64(30), int64(0), int64(0), int64(3), int64(0), true, true, uint8(callRelayed), 429, "gpt-4o", "")
	f.Fuzz(func(t *testing.T, in, cacheRead, cacheWrite, out, reasoning int64, haveIn, haveOut bool, reached uint8, upStatus int, model, text string) {
		reported := allot.Tokens{Input: in, CacheRead: cacheRead, CacheWrite1h: cacheWrite, Output: out, Reasoning: reasoning}
		g := &Gateway{opts: Options{Pricer: fuzzPricer, Estimator: byteEstimator{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
		c := &call{
			state:    callState(reached % uint8(callRelayed+1)),
			route:    allot.RouteChat,
			metered:  true,
			start:    time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC),
			body:     []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"What is allot?"}]}`),
			up:       &Upstream{Name: "openai", Protocol: openai.Protocol{}},
			served:   "gpt-4o",
			upStatus: upStatus,
		}
		if c.state >= callForwarded {
			c.tap = reportedTap{t: reported, haveIn: haveIn, haveOut: haveOut, model: model, text: text}
		}
		was := c.state
		cost := g.price(c)
		ev := c.event

		if c.state != callPriced || c.reached != was {
			t.Fatalf("after price: state %s reached %s, want priced reached %s", c.state, c.reached, was)
		}
		if cost != ev.Cost || cost < 0 || cost > allot.MaxCallCost {
			t.Fatalf("cost %s (event %s) outside 0..%s", cost, ev.Cost, allot.MaxCallCost)
		}
		if clamped, _ := ev.Tokens.ClampCall(); clamped != ev.Tokens {
			t.Fatalf("tokens %+v outside one call's bounds", ev.Tokens)
		}
		switch {
		case c.tap == nil && !c.mayBill() && ev.Tokens != (allot.Tokens{}):
			t.Fatalf("a call the provider never got counts %+v", ev.Tokens)
		case c.tap != nil && haveIn && haveOut:
			if want, changed := reported.ClampCall(); ev.Tokens != want || (!changed && ev.Estimated) {
				t.Fatalf("reported %+v recorded %+v estimated=%v, want %+v", reported, ev.Tokens, ev.Estimated, want)
			}
		}
		if !c.mayBill() && !ev.Estimated && c.tap != nil {
			if want, _ := reported.ClampCall(); ev.Tokens != want {
				t.Fatalf("nothing billable to estimate, yet %+v became %+v", reported, ev.Tokens)
			}
		}

		// Pricing again (the deferred finish) changes nothing.
		if again := g.price(c); again != cost || c.event != ev {
			t.Fatalf("second price changed the event: %s -> %s", cost, again)
		}
	})
}
