package budget

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allot-dev/allot"
)

// PolicyStore is what rationing reads from the database: the stored
// policy (settings), grants and the hourly rollups to rebuild spend from.
type PolicyStore interface {
	Setting(ctx context.Context, name string) ([]byte, error)
	allot.GrantStore
	allot.UsageByHour
}

// Live is the gateway's Admitter: the rationer for the stored policy and
// grants, rebuilt and swapped in when an admin applies a new org.yaml or
// grants a top-up, over counters that outlive the swap so no spend or
// reservation is lost.
type Live struct {
	cur   atomic.Pointer[Rationer]
	store PolicyStore
	opts  LiveOptions

	mu         sync.Mutex // serializes refresh
	lastPolicy []byte
	lastGrants string
	unrebuilt  allot.Policy // budgets the first refresh did not rebuild from the ledger
}

// LiveOptions are Live's collaborators; only Pricer is required.
type LiveOptions struct {
	Counters Counters                    // nil: in this process's memory
	Pricer   allot.Pricer                // prices calls' worst cases and replayed usage
	Flush    func(context.Context) error // writes recorded events to the ledger before a replay; nil: nothing to write
	Logger   *slog.Logger                // nil: slog.Default()
	Clock    func() time.Time            // nil: time.Now
	// LeaseTTL bounds how long a crashed replica's reservations stay held
	// in shared counters; it must exceed the longest call
	// (upstream_timeout). 0 keeps the default.
	LeaseTTL time.Duration
}

// NewLive loads the stored policy, rebuilds its budgets' spend from the
// ledger, and returns a rationer ready to admit calls.
func NewLive(ctx context.Context, store PolicyStore, opts LiveOptions) (*Live, error) {
	if opts.Counters == nil {
		opts.Counters = NewMemoryCounters()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	l := &Live{store: store, opts: opts}
	if _, err := l.Refresh(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// Admit implements gateway.Admitter with the current rationer.
func (l *Live) Admit(ctx context.Context, c Call) (*Admission, error) {
	return l.cur.Load().Admit(ctx, c)
}

// Current returns the rationer in force.
func (l *Live) Current() *Rationer { return l.cur.Load() }

// Run refreshes the policy every interval until ctx ends.
func (l *Live) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if changed, err := l.Refresh(ctx); err != nil {
				l.opts.Logger.Error("reload rationing policy", "err", err)
			} else if changed {
				l.opts.Logger.Info("rationing policy reloaded")
			}
		}
	}
}

// Refresh rebuilds the rationer when the stored policy or grants changed,
// and reports whether it did.
// Budgets whose counters nobody has rebuilt (all of them at the first
// start with in-memory counters; new or re-scoped ones later) get their
// spend in the current period replayed from the ledger's hourly rollups
// before the new rationer takes calls.
func (l *Live) Refresh(ctx context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	raw, err := l.store.Setting(ctx, allot.PolicySetting)
	if err != nil {
		return false, fmt.Errorf("read stored policy: %w", err)
	}
	now := l.opts.Clock()
	grants, err := l.store.Grants(ctx, now)
	if err != nil {
		return false, fmt.Errorf("read budget grants: %w", err)
	}
	gj, _ := json.Marshal(grants)
	if l.cur.Load() != nil && bytes.Equal(raw, l.lastPolicy) && string(gj) == l.lastGrants {
		return false, nil
	}
	var p allot.Policy
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &p); err != nil {
			return false, fmt.Errorf("decode stored policy: %w", err)
		}
	}
	r, err := New(p, l.opts.Counters, l.opts.Pricer, l.opts.Clock)
	if err != nil {
		return false, fmt.Errorf("stored policy: %w", err)
	}
	if l.opts.LeaseTTL > 0 {
		r.SetLeaseTTL(l.opts.LeaseTTL)
	}
	for _, g := range grants {
		if err := r.Grant(g); err != nil {
			l.opts.Logger.Warn("grant no longer applies", "budget", g.Budget, "err", err)
		}
	}
	sub, err := l.rebuild(ctx, p, now)
	if err != nil {
		return false, err
	}
	if l.cur.Load() == nil {
		l.unrebuilt = Unrebuilt(p, sub)
	}
	l.cur.Store(r)
	l.lastPolicy, l.lastGrants = raw, string(gj)
	return true, nil
}

// rebuild replays the ledger into the budgets of p that need it, and
// returns them.
func (l *Live) rebuild(ctx context.Context, p allot.Policy, now time.Time) (allot.Policy, error) {
	sub, err := ClaimRebuild(ctx, p, l.opts.Counters)
	if err != nil {
		return sub, err
	}
	if len(sub.Budgets) == 0 && sub.Defaults.UserBudget == nil {
		return sub, nil
	}
	if l.opts.Flush != nil {
		if err := l.opts.Flush(ctx); err != nil {
			return sub, fmt.Errorf("flush the ledger before rebuilding budgets: %w", err)
		}
	}
	rr, err := New(sub, l.opts.Counters, l.opts.Pricer, l.opts.Clock)
	if err != nil {
		return sub, fmt.Errorf("rebuild budgets: %w", err)
	}
	from := now.Add(-lookback(p))
	batch := make([]allot.Event, 0, 1024)
	n := 0
	err = l.store.EachHour(ctx, from, now.Add(time.Hour), func(e allot.Event) error {
		batch = append(batch, e)
		n++
		if len(batch) == cap(batch) {
			err := rr.Replay(ctx, batch)
			batch = batch[:0]
			return err
		}
		return nil
	})
	if err == nil {
		err = rr.Replay(ctx, batch)
	}
	if err != nil {
		return sub, fmt.Errorf("rebuild budget spend from the ledger: %w", err)
	}
	l.opts.Logger.Info("budget spend rebuilt from the ledger", "budgets", len(sub.Budgets), "hourly_rows", n, "since", from.Format(time.RFC3339))
	return sub, nil
}

// CountRecovered counts events recovered from a dead run's journal (calls
// in flight when it died, see ledger.Writer.Recovered) against the budgets
// this start did not rebuild from the ledger. Those rebuilt have them (the
// ledger is flushed first); the others, whose counters replicas share and
// another rebuilt earlier, would not: the dead run's reservations for the
// calls lapse with their lease, and nothing settles them. A failure is
// logged: the events are in the ledger, and the next rebuild counts them.
func (l *Live) CountRecovered(ctx context.Context, events []allot.Event) {
	l.mu.Lock()
	p := l.unrebuilt
	l.mu.Unlock()
	if len(events) == 0 || (len(p.Budgets) == 0 && p.Defaults.UserBudget == nil) {
		return
	}
	r, err := New(p, l.opts.Counters, l.opts.Pricer, l.opts.Clock)
	if err == nil {
		err = r.Replay(ctx, events)
	}
	if err != nil {
		l.opts.Logger.Error("count the calls in flight at the last crash against budgets", "events", len(events), "err", err)
		return
	}
	l.opts.Logger.Info("calls in flight at the last crash counted against budgets shared with other replicas", "events", len(events), "budgets", len(p.Budgets))
}

// lookback is how far back the current periods of p's budgets reach.
func lookback(p allot.Policy) time.Duration {
	d := 32 * 24 * time.Hour // a month in any time zone
	budgets := p.Budgets
	if u := p.DefaultUserBudget(); u != nil {
		budgets = append(budgets[:len(budgets):len(budgets)], *u)
	}
	for _, b := range budgets {
		if per, err := allot.ParsePeriod(b.Period); err == nil && per.Rolling+time.Hour > d {
			d = per.Rolling + time.Hour
		}
	}
	return d
}
