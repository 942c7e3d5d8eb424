package main

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
	"github.com/allot-dev/allot/budget"
)

// policyStore is what rationing reads from the database: the stored
// policy (settings), grants and the hourly rollups to rebuild spend from.
type policyStore interface {
	Setting(ctx context.Context, name string) ([]byte, error)
	allot.GrantStore
	allot.UsageByHour
}

// liveRationer is the gateway's Admitter: the rationer for the stored
// policy and grants, rebuilt and swapped in when an admin applies a new
// org.yaml or grants a top-up, over counters that outlive the swap so no
// spend or reservation is lost.
type liveRationer struct {
	cur      atomic.Pointer[budget.Rationer]
	store    policyStore
	counters budget.Counters
	pricer   allot.Pricer
	flush    func(context.Context) error // writes recorded events to the ledger before a replay
	logger   *slog.Logger
	clock    func() time.Time
	leaseTTL time.Duration // how long a reservation outlives a crashed process; 0 keeps the default

	mu         sync.Mutex // serializes refresh
	lastPolicy []byte
	lastGrants string
	unrebuilt  allot.Policy // budgets the first refresh did not rebuild from the ledger
}

// newLiveRationer loads the stored policy, rebuilds its budgets' spend
// from the ledger, and returns a rationer ready to admit calls.
// leaseTTL bounds how long a crashed replica's reservations stay held in
// shared counters; it must exceed the longest call (upstream_timeout).
func newLiveRationer(ctx context.Context, store policyStore, counters budget.Counters, pricer allot.Pricer, flush func(context.Context) error, logger *slog.Logger, leaseTTL time.Duration) (*liveRationer, error) {
	if counters == nil {
		counters = budget.NewMemoryCounters()
	}
	l := &liveRationer{store: store, counters: counters, pricer: pricer, flush: flush, logger: logger, clock: time.Now, leaseTTL: leaseTTL}
	if _, err := l.refresh(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// Admit implements gateway.Admitter with the current rationer.
func (l *liveRationer) Admit(ctx context.Context, c budget.Call) (*budget.Admission, error) {
	return l.cur.Load().Admit(ctx, c)
}

// current returns the rationer in force.
func (l *liveRationer) current() *budget.Rationer { return l.cur.Load() }

// run refreshes the policy every interval until ctx ends.
func (l *liveRationer) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if changed, err := l.refresh(ctx); err != nil {
				l.logger.Error("reload rationing policy", "err", err)
			} else if changed {
				l.logger.Info("rationing policy reloaded")
			}
		}
	}
}

// refresh rebuilds the rationer when the stored policy or grants changed.
// Budgets whose counters nobody has rebuilt (all of them at the first
// start with in-memory counters; new or re-scoped ones later) get their
// spend in the current period replayed from the ledger's hourly rollups
// before the new rationer takes calls.
func (l *liveRationer) refresh(ctx context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	raw, err := l.store.Setting(ctx, allot.PolicySetting)
	if err != nil {
		return false, fmt.Errorf("read stored policy: %w", err)
	}
	now := l.clock()
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
	r, err := budget.New(p, l.counters, l.pricer, l.clock)
	if err != nil {
		return false, fmt.Errorf("stored policy: %w", err)
	}
	if l.leaseTTL > 0 {
		r.SetLeaseTTL(l.leaseTTL)
	}
	for _, g := range grants {
		if err := r.Grant(g); err != nil {
			l.logger.Warn("grant no longer applies", "budget", g.Budget, "err", err)
		}
	}
	sub, err := l.rebuild(ctx, p, now)
	if err != nil {
		return false, err
	}
	if l.cur.Load() == nil {
		l.unrebuilt = budget.Unrebuilt(p, sub)
	}
	l.cur.Store(r)
	l.lastPolicy, l.lastGrants = raw, string(gj)
	return true, nil
}

// rebuild replays the ledger into the budgets of p that need it, and
// returns them.
func (l *liveRationer) rebuild(ctx context.Context, p allot.Policy, now time.Time) (allot.Policy, error) {
	sub, err := budget.ClaimRebuild(ctx, p, l.counters)
	if err != nil {
		return sub, err
	}
	if len(sub.Budgets) == 0 && sub.Defaults.UserBudget == nil {
		return sub, nil
	}
	if l.flush != nil {
		if err := l.flush(ctx); err != nil {
			return sub, fmt.Errorf("flush the ledger before rebuilding budgets: %w", err)
		}
	}
	rr, err := budget.New(sub, l.counters, l.pricer, l.clock)
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
	l.logger.Info("budget spend rebuilt from the ledger", "budgets", len(sub.Budgets), "hourly_rows", n, "since", from.Format(time.RFC3339))
	return sub, nil
}

// countRecovered counts events recovered from a dead run's journal (calls
// in flight when it died, see ledger.Writer.Recovered) against the budgets
// this start did not rebuild from the ledger. Those rebuilt have them (the
// ledger is flushed first); the others, whose counters replicas share and
// another rebuilt earlier, would not: the dead run's reservations for the
// calls lapse with their lease, and nothing settles them. A failure is
// logged: the events are in the ledger, and the next rebuild counts them.
func (l *liveRationer) countRecovered(ctx context.Context, events []allot.Event) {
	l.mu.Lock()
	p := l.unrebuilt
	l.mu.Unlock()
	if len(events) == 0 || (len(p.Budgets) == 0 && p.Defaults.UserBudget == nil) {
		return
	}
	r, err := budget.New(p, l.counters, l.pricer, l.clock)
	if err == nil {
		err = r.Replay(ctx, events)
	}
	if err != nil {
		l.logger.Error("count the calls in flight at the last crash against budgets", "events", len(events), "err", err)
		return
	}
	l.logger.Info("calls in flight at the last crash counted against budgets shared with other replicas", "events", len(events), "budgets", len(p.Budgets))
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

// budgetedRecorder records usage that did not pass through the gateway's
// admission (OTLP, POST /api/v1/usage) and also counts it against the
// budgets it belongs to, so telemetry-reported spend uses up budgets too.
// Counting happens on a goroutine in batches; when it falls far behind,
// events are only recorded (the next start rebuilds budgets from the
// ledger, which has them all).
type budgetedRecorder struct {
	next   allot.Recorder
	ration *liveRationer
	queue  chan allot.Event
	logger *slog.Logger
}

// newBudgetedRecorder starts counting until ctx ends.
func newBudgetedRecorder(ctx context.Context, next allot.Recorder, ration *liveRationer, logger *slog.Logger) *budgetedRecorder {
	b := &budgetedRecorder{next: next, ration: ration, queue: make(chan allot.Event, 8192), logger: logger}
	go b.run(ctx)
	return b
}

// Record implements allot.Recorder.
func (b *budgetedRecorder) Record(e allot.Event) {
	b.next.Record(e)
	select {
	case b.queue <- e:
	default:
		b.logger.Warn("budget counting is behind; this event counts against budgets from the next start", "id", e.ID)
	}
}

func (b *budgetedRecorder) run(ctx context.Context) {
	batch := make([]allot.Event, 0, 256)
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-b.queue:
			batch = append(batch[:0], e)
		drain:
			for len(batch) < cap(batch) {
				select {
				case e := <-b.queue:
					batch = append(batch, e)
				default:
					break drain
				}
			}
			if err := b.ration.current().Replay(ctx, batch); err != nil {
				b.logger.Error("count reported usage against budgets", "events", len(batch), "err", err)
			}
		}
	}
}
