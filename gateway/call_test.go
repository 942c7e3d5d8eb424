package gateway

import (
	"net/http"
	"testing"

	"github.com/allot-dev/allot"
)

// TestCallStateOnlyMovesForward: a phase that runs late (the deferred
// finish after a whole answer was recorded) never moves a call back, so
// no phase runs twice.
func TestCallStateOnlyMovesForward(t *testing.T) {
	t.Parallel()
	c := &call{}
	for _, s := range []callState{callAdmitted, callForwarded, callSent, callRelayed, callAdmitted, callRecorded, callPriced} {
		before := c.state
		c.advance(s)
		if want := max(before, s); c.state != want {
			t.Fatalf("advance(%s) from %s left %s, want %s", s, before, c.state, want)
		}
	}
	if c.state != callRecorded {
		t.Errorf("state = %s, want recorded", c.state)
	}
}

// TestWhatTheProviderMayBill: usage the provider did not report is
// estimated exactly when it may bill the call: it got the prompt and
// answered with success, or got it and never answered (the client left,
// the call timed out). A call that never reached it, or that it refused,
// costs nothing.
func TestWhatTheProviderMayBill(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		reached  callState
		upStatus int
		want     bool
	}{
		{"never sent (unreachable, rewrite failed)", callAdmitted, 0, false},
		{"sent, never answered (client left, timeout)", callSent, 0, true},
		{"answered with success", callForwarded, http.StatusOK, true},
		{"answer relayed", callRelayed, http.StatusOK, true},
		{"answered with an error", callRelayed, http.StatusTooManyRequests, false},
		{"refused allot's key", callForwarded, http.StatusUnauthorized, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &call{route: allot.RouteChat, metered: true, reached: tt.reached, upStatus: tt.upStatus}
			if got := c.mayBill(); got != tt.want {
				t.Errorf("mayBill = %v, want %v", got, tt.want)
			}
		})
	}
}
