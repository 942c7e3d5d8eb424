package notify

import (
	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/budget"
)

// Observer turns what the gateway's rationing decided into notices for a
// Sink: it implements gateway.RationObserver. Its methods only build the
// notice and queue it, so they never block a call.
type Observer struct {
	Sink *Sink
	// Rationer returns the rationer in force, which explains budget
	// refusals; nil (or returning nil) raises no refusal notices.
	Rationer func() *budget.Rationer
}

// Alerts queues a notice per threshold crossed, naming the caller.
func (o *Observer) Alerts(p allot.Principal, alerts []budget.Alert) {
	for _, a := range alerts {
		n := a.Notice()
		n.User = p.User
		o.Sink.Notify(n)
	}
}

// Refused queues a refusal notice when a budget refused the call (rate
// limits and model access raise none).
func (o *Observer) Refused(_ allot.Principal, c budget.Call, e *allot.Error) {
	if e == nil || e.Code != allot.EBudget || o.Rationer == nil {
		return
	}
	r := o.Rationer()
	if r == nil {
		return
	}
	if n, ok := r.RefusalNotice(c, e); ok {
		o.Sink.Notify(n)
	}
}

// Downgraded queues a downgrade notice for the budget that rewrote the call.
func (o *Observer) Downgraded(_ allot.Principal, c budget.Call, a *budget.Admission) {
	if n, ok := a.DowngradeNotice(c); ok {
		o.Sink.Notify(n)
	}
}
