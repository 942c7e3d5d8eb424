package budget

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider"
)

// switchable is a shared store that can be cut off: while down every call
// fails with ErrUnreachable, as a Redis behind a dead network would.
type switchable struct {
	*MemoryCounters
	down atomic.Bool
}

var errCut = errors.New("dial tcp 10.0.0.1:6379: connect: connection refused")

func (s *switchable) err() error {
	if s.down.Load() {
		return errors.Join(ErrUnreachable, errCut)
	}
	return nil
}
func (s *switchable) Reserve(ctx context.Context, c []Charge) (int, error) {
	if err := s.err(); err != nil {
		return -1, err
	}
	return s.MemoryCounters.Reserve(ctx, c)
}
func (s *switchable) Settle(ctx context.Context, c []Charge) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.MemoryCounters.Settle(ctx, c)
}
func (s *switchable) Release(ctx context.Context, c []Charge) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.MemoryCounters.Release(ctx, c)
}
func (s *switchable) Read(ctx context.Context, k string, b int64, span int) (int64, int64, error) {
	if err := s.err(); err != nil {
		return 0, 0, err
	}
	return s.MemoryCounters.Read(ctx, k, b, span)
}
func (s *switchable) AddSpent(ctx context.Context, c []Charge) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.MemoryCounters.AddSpent(ctx, c)
}

// failoverRationer is a Rationer for a team budget of ten worst-case calls
// over a Failover with the given policy on a switchable store.
func failoverRationer(t *testing.T, policy FailurePolicy) (*Rationer, *switchable, *Failover, *clock) {
	t.Helper()
	shared := &switchable{MemoryCounters: NewMemoryCounters()}
	f, err := NewFailover(shared, FailoverOptions{Policy: policy, Retry: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	clk := newClock("2026-11-15T12:00:00Z")
	r, err := New(allot.Policy{Budgets: []allot.Budget{{Name: "platform", Scope: "team:platform", LimitUSD: usd(10)}}}, f, flatPricer{}, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	return r, shared, f, clk
}

// waitReachable waits until f uses its store again.
func waitReachable(t *testing.T, f *Failover) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !f.Reachable(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the store came back but Failover still does not use it")
		}
	}
}

// sharedSpent reads the team budget from the store itself.
func sharedSpent(t *testing.T, r *Rationer, s *switchable, clk *clock) (spent, reserved int64) {
	t.Helper()
	in := r.ix.all[0]
	b, span := in.rule.win.cell(clk.Now())
	spent, reserved, err := s.MemoryCounters.Read(ctx, in.key, b, span)
	if err != nil {
		t.Fatal(err)
	}
	return spent, reserved
}

func TestFailoverFailClosedRefusesWhileTheStoreIsDown(t *testing.T) {
	t.Parallel()
	r, shared, f, clk := failoverRationer(t, FailClosed)
	inFlight, err := r.Admit(ctx, call(alice, "gpt-4o"))
	if err != nil {
		t.Fatal(err)
	}
	shared.down.Store(true)
	_, err = r.Admit(ctx, call(alice, "gpt-4o"))
	code, e := codeOf(err)
	if code != allot.EUnavailable || provider.Info(e.Code).Status != 503 {
		t.Fatalf("Admit with the store down = %v, want EUnavailable (503)", err)
	}
	if !strings.Contains(e.Message, "budget store is unreachable") || !strings.Contains(e.Message, "retry") || e.RetryAfter < 1 {
		t.Errorf("refusal %q (Retry-After %d) should say the budget store is unreachable and to retry", e.Message, e.RetryAfter)
	}
	if f.Reachable() {
		t.Error("Reachable() is true while the store is down")
	}
	// The call admitted before the outage settles while it lasts: the
	// settlement waits and reaches the store when it is back.
	if _, err := inFlight.Settle(inFlight.WorstCase, worst1k); err != nil {
		t.Fatalf("Settle during the outage: %v", err)
	}
	shared.down.Store(false)
	waitReachable(t, f)
	if spent, reserved := sharedSpent(t, r, shared, clk); spent != int64(inFlight.WorstCase) || reserved != 0 {
		t.Errorf("store after recovery: spent %d reserved %d, want %d 0", spent, reserved, inFlight.WorstCase)
	}
	a, err := r.Admit(ctx, call(alice, "gpt-4o"))
	if err != nil {
		t.Fatalf("Admit after recovery: %v", err)
	}
	a.Release()
}

func TestFailoverFailOpenServesLocallyAndReconciles(t *testing.T) {
	t.Parallel()
	r, shared, f, clk := failoverRationer(t, FailOpen)
	worst := func() int64 {
		a, _ := r.Admit(ctx, call(alice, "gpt-4o"))
		defer a.Release()
		return int64(a.WorstCase)
	}()
	// Six calls settle in the store before the outage, one is in flight.
	for range 6 {
		a, err := r.Admit(ctx, call(alice, "gpt-4o"))
		if err != nil {
			t.Fatal(err)
		}
		a.Settle(a.WorstCase, worst1k)
	}
	inFlight, err := r.Admit(ctx, call(alice, "gpt-4o"))
	if err != nil {
		t.Fatal(err)
	}
	shared.down.Store(true)
	// Locally the budget starts from the six seen in the store: three more fit, not ten.
	var local []*Admission
	for {
		a, err := r.Admit(ctx, call(alice, "gpt-4o"))
		if err != nil {
			if allot.CodeOf(err) != allot.EBudget {
				t.Fatalf("Admit during the outage: %v, want success or EBudget", err)
			}
			break
		}
		local = append(local, a)
		if len(local) > 10 {
			t.Fatal("fail_open admitted more than the whole budget during the outage")
		}
	}
	if len(local) != 4 {
		t.Errorf("admitted %d calls during the outage, want 4 (the budget of 10 less the 6 spent seen in the store)", len(local))
	}
	for _, a := range local {
		if _, err := a.Settle(a.WorstCase/2, worst1k); err != nil {
			t.Fatal(err)
		}
	}
	inFlight.Settle(inFlight.WorstCase, worst1k)
	if s := statusOf(t, r, "platform", clk.Now()); s.Spent != 6*worst+4*worst/2 {
		t.Errorf("local status during the outage: spent %d, want %d", s.Spent, 6*worst+4*worst/2)
	}
	shared.down.Store(false)
	waitReachable(t, f)
	want := 7*worst + 4*(worst/2)
	if spent, reserved := sharedSpent(t, r, shared, clk); spent != want || reserved != 0 {
		t.Errorf("store after recovery: spent %d reserved %d, want %d (6 before, the one in flight, 4 local halves) and 0", spent, reserved, want)
	}
}

func TestFailoverPassesOtherErrorsThrough(t *testing.T) {
	t.Parallel()
	f, err := NewFailover(NewMemoryCounters(), FailoverOptions{Policy: FailOpen, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Reserve(ctx, []Charge{{Key: "k", Amount: -1}}); err == nil || errors.Is(err, ErrUnreachable) {
		t.Errorf("a bad charge = %v, want its own error", err)
	}
	if !f.Reachable() {
		t.Error("a bad charge took the store for unreachable")
	}
	if _, err := NewFailover(NewMemoryCounters(), FailoverOptions{Policy: "fail_sideways"}); allot.CodeOf(err) != allot.EInvalid {
		t.Errorf("unknown policy = %v, want EInvalid", err)
	}
}
