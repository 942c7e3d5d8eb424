package budget

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/allot-dev/allot"
)

// FailurePolicy says what Failover does while the shared counters are
// unreachable.
type FailurePolicy string

// Failure policies (config failure_policy).
const (
	// FailClosed refuses calls (503, EUnavailable) until the store is back:
	// no budget can be overspent, at the price of availability.
	FailClosed FailurePolicy = "fail_closed"
	// FailOpen serves calls on counters in this process's memory and adds
	// what they spent to the shared store once it is back: availability
	// first; budgets may overshoot by what other replicas spend meanwhile.
	FailOpen FailurePolicy = "fail_open"
)

// FailoverOptions tune a Failover.
type FailoverOptions struct {
	Policy FailurePolicy // FailClosed (the default when empty) or FailOpen
	// Retry is how often the store is tried again while unreachable; calls
	// meanwhile do not wait on it. Default 2s.
	Retry  time.Duration
	Logger *slog.Logger // default slog.Default()
}

// maxPendingEnds caps the settlements and releases kept for a store that
// is down; beyond it, settlements keep only their spend and releases are
// dropped (the reservations lapse with their leases).
const maxPendingEnds = 100_000

// probeKey is the counter Failover reads to see whether the store is back.
const probeKey = "failover|probe"

// Failover is Counters over a shared store (Redis) with a failure policy
// for when the store cannot be reached (errors wrapping ErrUnreachable):
// under FailClosed, Reserve refuses with an EUnavailable *allot.Error;
// under FailOpen, calls are counted in local memory counters, seeded with
// the spend last seen in the store, and that local spend is added to the
// store (AddSpent) when it answers again, so budgets reconcile. Either
// way, settlements and releases of reservations held in the store wait in
// memory and are applied when it is back, and while it is down no call
// waits on it: one background loop retries it every Retry. Reservations
// made without a lease (alert and rebuild marks) and AddSpent during an
// outage stay local and are not reconciled. It is safe for concurrent use.
type Failover struct {
	shared Counters
	opts   FailoverOptions

	mu           sync.Mutex
	down         bool
	cause        error                      // why the store went down
	local        *MemoryCounters            // this outage's counters (fail open)
	seeded       map[string]bool            // keys seeded in local this outage
	known        map[string]knownSpend      // spend last seen in the store, by key
	localLeases  map[string]*MemoryCounters // leases reserved locally, and where
	pendingSpent map[cellID]*Charge         // local spend not yet added to the store
	pendingEnds  []pendingEnd               // settlements and releases the store missed
	stop         chan struct{}
	closed       bool
}

// knownSpend is a counter's spend over its window as last seen in the store.
type knownSpend struct {
	bucket int64
	spent  int64
}

// cellID names one cell.
type cellID struct {
	key    string
	bucket int64
}

// pendingEnd is a Settle or Release the store missed.
type pendingEnd struct {
	settle  bool
	charges []Charge
}

var _ Counters = (*Failover)(nil)

// ParseFailurePolicy parses the config value; empty is FailClosed.
func ParseFailurePolicy(s string) (FailurePolicy, error) {
	switch FailurePolicy(s) {
	case "", FailClosed:
		return FailClosed, nil
	case FailOpen:
		return FailOpen, nil
	}
	return "", allot.Errorf(allot.EInvalid, "failure_policy %q is not fail_open or fail_closed", s)
}

// NewFailover wraps the shared counters with the failure policy in opts.
func NewFailover(shared Counters, opts FailoverOptions) (*Failover, error) {
	p, err := ParseFailurePolicy(string(opts.Policy))
	if err != nil {
		return nil, err
	}
	opts.Policy = p
	if opts.Retry <= 0 {
		opts.Retry = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Failover{
		shared: shared, opts: opts, known: map[string]knownSpend{}, localLeases: map[string]*MemoryCounters{},
		pendingSpent: map[cellID]*Charge{}, stop: make(chan struct{}),
	}, nil
}

// Reachable reports whether calls are counted in the shared store (false
// while it is unreachable), e.g. for /readyz or a metric.
func (f *Failover) Reachable() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.down
}

// Close stops retrying the store; it does not close the store.
func (f *Failover) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.stop)
	}
	return nil
}

// outage returns the local counters when the store is down (nil when up).
func (f *Failover) outage() *MemoryCounters {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.down {
		return nil
	}
	return f.local
}

// fallback returns the local counters of the current or last outage.
func (f *Failover) fallback() *MemoryCounters {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.local
}

// markDown records that the store is unreachable and starts retrying it.
func (f *Failover) markDown(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return
	}
	f.down, f.cause = true, err
	f.local, f.seeded = NewMemoryCounters(), map[string]bool{}
	f.opts.Logger.Error("budget counters unreachable", "policy", string(f.opts.Policy), "retry", f.opts.Retry.String(), "err", err)
	if !f.closed {
		go f.recover(f.stop)
	}
}

// refusal is the error of a call refused under FailClosed.
func (f *Failover) refusal() error {
	f.mu.Lock()
	cause := f.cause
	f.mu.Unlock()
	return &allot.Error{
		Code:       allot.EUnavailable,
		Message:    "allot's budget store is unreachable, so the call was refused rather than risk overspending a budget; retry in a few seconds, and tell an admin if it persists",
		RetryAfter: max(int(f.opts.Retry/time.Second), 1),
		Err:        cause,
	}
}

// Reserve implements Counters.
func (f *Failover) Reserve(ctx context.Context, charges []Charge) (int, error) {
	if f.outage() == nil {
		failed, err := f.shared.Reserve(ctx, charges)
		if err == nil {
			f.remember(charges, failed)
			return failed, nil
		}
		if !errors.Is(err, ErrUnreachable) {
			return failed, err
		}
		f.markDown(err)
	}
	if f.opts.Policy == FailClosed {
		return -1, f.refusal()
	}
	return f.reserveLocal(ctx, charges)
}

// reserveLocal reserves on this outage's local counters, first seeding
// them with the spend last seen in the store for the charges' counters.
func (f *Failover) reserveLocal(ctx context.Context, charges []Charge) (int, error) {
	f.mu.Lock()
	local := f.local
	for i := range charges {
		ch := &charges[i]
		k, ok := f.known[ch.Key]
		if !ok || f.seeded[ch.Key] || k.bucket > ch.Bucket || ch.Bucket-k.bucket >= int64(max(ch.Span, 1)) {
			continue
		}
		f.seeded[ch.Key] = true
		_ = local.AddSpent(ctx, []Charge{{Key: ch.Key, Bucket: k.bucket, Span: ch.Span, Actual: k.spent}})
	}
	f.mu.Unlock()
	failed, err := local.Reserve(ctx, charges)
	if err != nil || failed >= 0 {
		return failed, err
	}
	if len(charges) > 0 && charges[0].leased() {
		f.mu.Lock()
		f.localLeases[charges[0].Lease] = local
		f.mu.Unlock()
	}
	return -1, nil
}

// remember keeps the window spend the store reported for the first n
// charges (all when n < 0), to seed local counters in an outage.
func (f *Failover) remember(charges []Charge, n int) {
	if n < 0 || n >= len(charges) {
		n = len(charges) - 1
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 0; i <= n; i++ {
		ch := &charges[i]
		if k, ok := f.known[ch.Key]; !ok || ch.Bucket >= k.bucket {
			f.known[ch.Key] = knownSpend{bucket: ch.Bucket, spent: ch.Spent}
		}
	}
}

// localOf returns the local counters the charges' lease reserved on, and
// forgets the lease; nil if they were not reserved locally.
func (f *Failover) localOf(charges []Charge) *MemoryCounters {
	if len(charges) == 0 || !charges[0].leased() {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	local := f.localLeases[charges[0].Lease]
	if local != nil {
		delete(f.localLeases, charges[0].Lease)
	}
	return local
}

// Settle implements Counters.
func (f *Failover) Settle(ctx context.Context, charges []Charge) error {
	return f.end(ctx, charges, true)
}

// Release implements Counters.
func (f *Failover) Release(ctx context.Context, charges []Charge) error {
	return f.end(ctx, charges, false)
}

// end settles or releases charges where they were reserved: locally (and
// the spend goes on to the store), or in the store (queued while it is down).
func (f *Failover) end(ctx context.Context, charges []Charge, settle bool) error {
	if len(charges) == 0 {
		return nil
	}
	if local := f.localOf(charges); local != nil {
		if !settle {
			return local.Release(ctx, charges)
		}
		if err := local.Settle(ctx, charges); err != nil {
			return err
		}
		f.forward(ctx, charges)
		return nil
	}
	leased := charges[0].leased()
	if local := f.outage(); local != nil {
		if !leased { // a mark reserved during this outage
			if settle {
				return local.Settle(ctx, charges)
			}
			return local.Release(ctx, charges)
		}
		if f.queueEnd(settle, charges) {
			return nil
		}
		// The store came back meanwhile: apply it there.
	}
	var err error
	if settle {
		err = f.shared.Settle(ctx, charges)
	} else {
		err = f.shared.Release(ctx, charges)
	}
	if err == nil {
		if settle {
			f.remember(charges, -1)
		}
		return nil
	}
	if !errors.Is(err, ErrUnreachable) || !leased {
		return err
	}
	f.markDown(err)
	if !f.queueEnd(settle, charges) {
		return err
	}
	return nil
}

// forward adds the spend of locally settled charges to the store, or
// keeps it for when the store is back.
func (f *Failover) forward(ctx context.Context, charges []Charge) {
	for range 2 {
		f.mu.Lock()
		if f.down {
			f.addPendingSpent(charges)
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		err := f.shared.AddSpent(ctx, charges)
		if err == nil {
			return
		}
		if !errors.Is(err, ErrUnreachable) {
			f.opts.Logger.Error("add locally counted spend to the budget store; the ledger still has it", "err", err)
			return
		}
		f.markDown(err)
	}
}

// addPendingSpent adds the charges' Actual to what the store must get.
// f.mu must be held.
func (f *Failover) addPendingSpent(charges []Charge) {
	for i := range charges {
		ch := &charges[i]
		if ch.Actual <= 0 {
			continue
		}
		id := cellID{ch.Key, ch.Bucket}
		if p := f.pendingSpent[id]; p != nil {
			p.Actual = addSpent(p.Actual, ch.Actual)
			if ch.Keep.After(p.Keep) {
				p.Keep = ch.Keep
			}
			continue
		}
		f.pendingSpent[id] = &Charge{Key: ch.Key, Bucket: ch.Bucket, Span: ch.Span, Actual: ch.Actual, Keep: ch.Keep}
	}
}

// queueEnd keeps a settlement or release for the store while it is down;
// it returns false, keeping nothing, when the store is up.
func (f *Failover) queueEnd(settle bool, charges []Charge) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.down {
		return false
	}
	if len(f.pendingEnds) < maxPendingEnds {
		f.pendingEnds = append(f.pendingEnds, pendingEnd{settle: settle, charges: append([]Charge(nil), charges...)})
	} else if settle {
		f.addPendingSpent(charges)
	}
	return true
}

// Read implements Counters. While the store is down it reads the local
// counters under FailOpen (this replica's view) and fails under FailClosed.
func (f *Failover) Read(ctx context.Context, key string, bucket int64, span int) (int64, int64, error) {
	if f.outage() == nil {
		spent, reserved, err := f.shared.Read(ctx, key, bucket, span)
		if err == nil || !errors.Is(err, ErrUnreachable) {
			return spent, reserved, err
		}
		f.markDown(err)
	}
	if f.opts.Policy == FailClosed {
		return 0, 0, f.refusal()
	}
	return f.fallback().Read(ctx, key, bucket, span)
}

// AddSpent implements Counters. While the store is down, FailOpen adds to
// the local counters only (a rebuild from the ledger during an outage
// must not be added to the store again later) and FailClosed fails.
func (f *Failover) AddSpent(ctx context.Context, charges []Charge) error {
	if f.outage() == nil {
		err := f.shared.AddSpent(ctx, charges)
		if err == nil || !errors.Is(err, ErrUnreachable) {
			return err
		}
		f.markDown(err)
	}
	if f.opts.Policy == FailClosed {
		return f.refusal()
	}
	return f.fallback().AddSpent(ctx, charges)
}

// recover retries the store every Retry until it answers and everything
// it missed has been applied, then switches back to it.
func (f *Failover) recover(stop chan struct{}) {
	t := time.NewTicker(f.opts.Retry)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, _, err := f.shared.Read(ctx, probeKey, 0, 1)
		if err == nil {
			err = f.flush(ctx)
		}
		cancel()
		if err != nil {
			if !errors.Is(err, ErrUnreachable) {
				f.opts.Logger.Error("budget counters: apply what the store missed; will retry", "err", err)
			}
			continue
		}
		f.mu.Lock()
		if len(f.pendingSpent) == 0 && len(f.pendingEnds) == 0 {
			f.down, f.cause = false, nil
			f.mu.Unlock()
			f.opts.Logger.Info("budget counters reachable again; local spend added to the store")
			return
		}
		f.mu.Unlock()
	}
}

// flush applies what the store missed: local spend, then settlements and
// releases in order. What fails is kept for the next try.
func (f *Failover) flush(ctx context.Context) error {
	f.mu.Lock()
	spent, ends := f.pendingSpent, f.pendingEnds
	f.pendingSpent, f.pendingEnds = map[cellID]*Charge{}, nil
	f.mu.Unlock()
	putBack := func(from int) {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, p := range spent {
			f.addPendingSpent([]Charge{*p})
		}
		f.pendingEnds = append(ends[from:len(ends):len(ends)], f.pendingEnds...)
	}
	if len(spent) > 0 {
		list := make([]Charge, 0, len(spent))
		for _, p := range spent {
			list = append(list, *p)
		}
		if err := f.shared.AddSpent(ctx, list); err != nil {
			putBack(0)
			return fmt.Errorf("add %d locally counted spends: %w", len(list), err)
		}
		spent = nil
	}
	for i, e := range ends {
		var err error
		if e.settle {
			err = f.shared.Settle(ctx, e.charges)
		} else {
			err = f.shared.Release(ctx, e.charges)
		}
		if err != nil {
			putBack(i)
			return fmt.Errorf("apply a missed settlement: %w", err)
		}
	}
	return nil
}
