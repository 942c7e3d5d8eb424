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

	mu         sync.Mutex // serializes refresh
	lastPolicy []byte
	lastGrants string
}

// newLiveRationer loads the stored policy, rebuilds its budgets' spend
// from the ledger, and returns a rationer ready to admit calls.
func newLiveRationer(ctx context.Context, store policyStore, counters budget.Counters, pricer allot.Pricer, flush func(context.Context) error, logger *slog.Logger) (*liveRationer, error) {
	if counters == nil {
		counters = budget.NewMemoryCounters()
	}
	l := &liveRationer{store: store, counters: counters, pricer: pricer, flush: flush, logger: logger, clock: time.Now}
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
	raw, err := l.store.Setting(ctx, policySetting)
	if err != nil {
		return false, fmt.Errorf("read stored policy: %w", err)
	}
	now := l.clock()
	var grants []allot.Grant
	if gs, ok := l.store.(allot.GrantStore); ok {
		if grants, err = gs.Grants(ctx, now); err != nil {
			return false, fmt.Errorf("read budget grants: %w", err)
		}
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
	for _, g := range grants {
		if err := r.Grant(g); err != nil {
			l.logger.Warn("grant no longer applies", "budget", g.Budget, "err", err)
		}
	}
	if err := l.rebuild(ctx, p, now); err != nil {
		return false, err
	}
	l.cur.Store(r)
	l.lastPolicy, l.lastGrants = raw, string(gj)
	return true, nil
}

// rebuild replays the ledger into the budgets of p that need it.
func (l *liveRationer) rebuild(ctx context.Context, p allot.Policy, now time.Time) error {
	sub, err := budget.ClaimRebuild(ctx, p, l.counters)
	if err != nil {
		return err
	}
	if len(sub.Budgets) == 0 && sub.Defaults.UserBudget == nil {
		return nil
	}
	if l.flush != nil {
		if err := l.flush(ctx); err != nil {
			return fmt.Errorf("flush the ledger before rebuilding budgets: %w", err)
		}
	}
	rr, err := budget.New(sub, l.counters, l.pricer, l.clock)
	if err != nil {
		return fmt.Errorf("rebuild budgets: %w", err)
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
		return fmt.Errorf("rebuild budget spend from the ledger: %w", err)
	}
	l.logger.Info("budget spend rebuilt from the ledger", "budgets", len(sub.Budgets), "hourly_rows", n, "since", from.Format(time.RFC3339))
	return nil
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
