package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/budget"
	"github.com/allot-dev/allot/gateway"
	"github.com/allot-dev/allot/sqlite"
)

var _ gateway.RationObserver = (*Observer)(nil)

// TestSinkDeliversOncePerID: three replicas sharing one database raise
// the same notices many times; each goes out once and is stored once.
func TestSinkDeliversOncePerID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "allot.db")
	srv := newHookServer(t)
	const replicas, ids, repeats = 3, 10, 20
	var sinks []*Sink
	var dbs []*sqlite.DB
	for range replicas {
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
		sinks = append(sinks, NewSink(db, New([]Hook{{URL: srv.URL}}, fast()), quiet))
	}
	var wg sync.WaitGroup
	for r := range replicas {
		for range repeats {
			wg.Go(func() {
				for i := range ids {
					no := sample
					no.ID = fmt.Sprintf("refusal|b%d|2026-11-01T00:00:00Z", i)
					sinks[r].Notify(no)
				}
			})
		}
	}
	wg.Wait()
	for _, s := range sinks {
		closeNow(t, s)
	}
	seen := map[string]int{}
	for _, b := range srv.requests() {
		var n allot.Notice
		if err := json.Unmarshal(b, &n); err != nil {
			t.Fatal(err)
		}
		seen[n.ID]++
	}
	if len(seen) != ids {
		t.Errorf("%d distinct notices delivered, want %d", len(seen), ids)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("notice %s delivered %d times, want once", id, c)
		}
	}
	stored, err := dbs[0].Notices(ctx, time.Time{}, time.Time{}, 0)
	if err != nil || len(stored) != ids {
		t.Errorf("stored %d notices (%v), want %d", len(stored), err, ids)
	}
}

// flakyStore fails the first fails calls, then stores in memory.
type flakyStore struct {
	mu    sync.Mutex
	fails int
	calls atomic.Int32
	ids   map[string]bool
}

func (s *flakyStore) AddNotice(_ context.Context, n allot.Notice) (bool, error) {
	s.calls.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fails > 0 {
		s.fails--
		return false, errors.New("database is locked")
	}
	if s.ids[n.ID] {
		return false, nil
	}
	s.ids[n.ID] = true
	return true, nil
}

func (s *flakyStore) Notices(context.Context, time.Time, time.Time, int) ([]allot.Notice, error) {
	return nil, nil
}

func TestSinkStoreFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		fails         int
		wantDelivered int
	}{
		{"a store that recovers within the attempts", storeAttempts - 1, 1},
		{"a store that stays down: nothing delivered, the next notice retries", storeAttempts, 1},
		{"a store down for both notices", 2 * storeAttempts, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newHookServer(t)
			store := &flakyStore{fails: tc.fails, ids: map[string]bool{}}
			s := NewSink(store, New([]Hook{{URL: srv.URL}}, fast()), quiet)
			s.Notify(sample)
			// Wait until the first notice is settled: delivered, or forgotten after failing.
			deadline := time.Now().Add(5 * time.Second)
			for len(srv.requests()) == 0 && s.seenID(sample.ID) {
				if time.Now().After(deadline) {
					t.Fatal("the sink never settled the notice")
				}
				time.Sleep(5 * time.Millisecond)
			}
			s.Notify(sample) // a replay: dropped if seen, tried again if its storing failed
			closeNow(t, s)
			if got := len(srv.requests()); got != tc.wantDelivered {
				t.Errorf("delivered %d times, want %d", got, tc.wantDelivered)
			}
		})
	}
}

func TestSinkWithoutStoreOrWebhooks(t *testing.T) {
	t.Parallel()
	srv := newHookServer(t)
	s := NewSink(nil, New([]Hook{{URL: srv.URL}}, fast()), quiet)
	for range 5 {
		s.Notify(sample)
	}
	s.Notify(allot.Notice{Kind: allot.NoticeRefusal}) // no id: dropped
	closeNow(t, s)
	if got := len(srv.requests()); got != 1 {
		t.Errorf("without a store: delivered %d times, want once (deduplicated in process)", got)
	}
	store := &flakyStore{ids: map[string]bool{}}
	only := NewSink(store, nil, quiet)
	only.Notify(sample)
	closeNow(t, only)
	if !store.ids[sample.ID] {
		t.Error("a sink without webhooks did not store the notice")
	}
}

// TestSinkForgetsOldIDs: the in-process memory of IDs is bounded.
func TestSinkForgetsOldIDs(t *testing.T) {
	t.Parallel()
	s := NewSink(nil, nil, quiet)
	defer closeNow(t, s)
	for i := range seenLimit + 10 {
		if !s.remember(fmt.Sprint(i)) {
			t.Fatalf("id %d seen before", i)
		}
	}
	if len(s.seen) != seenLimit {
		t.Errorf("remembers %d ids, want %d", len(s.seen), seenLimit)
	}
	if !s.remember("0") || s.remember(fmt.Sprint(seenLimit+9)) {
		t.Error("the oldest id is not forgotten or the newest is")
	}
}

// TestObserver: the gateway's rationing decisions become notices with the
// caller named.
func TestObserver(t *testing.T) {
	t.Parallel()
	clk := time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC)
	r, err := budget.New(allot.Policy{Budgets: []allot.Budget{
		{Name: "tiny", Scope: "org", LimitTokens: 3000, Period: "month", AlertAt: []int{50}},
	}}, nil, nil, func() time.Time { return clk })
	if err != nil {
		t.Fatal(err)
	}
	store := &flakyStore{ids: map[string]bool{}}
	s := NewSink(store, nil, quiet)
	o := &Observer{Sink: s, Rationer: func() *budget.Rationer { return r }}
	p := allot.Principal{Org: "acme", Team: "data", User: "bob"}
	c := budget.Call{Principal: p, Model: "gpt-4o", WorstCase: allot.Tokens{Input: 1000, Output: 1000}}
	var refusal error
	for range 3 {
		a, err := r.Admit(context.Background(), c)
		if err != nil {
			refusal = err
			break
		}
		alerts, _ := a.Settle(0, allot.Tokens{Input: 1000, Output: 1000})
		o.Alerts(p, alerts)
	}
	if refusal == nil {
		t.Fatal("the budget never refused")
	}
	o.Refused(p, c, allot.ErrorOf(refusal))
	o.Refused(p, c, &allot.Error{Code: allot.ERateLimit, Message: "rate limit"})
	o.Downgraded(p, c, nil)
	closeNow(t, s)
	want := []string{"threshold|tiny|50|2026-11-01T00:00:00Z", "refusal|tiny|2026-11-01T00:00:00Z"}
	for _, id := range want {
		if !store.ids[id] {
			t.Errorf("notice %s not stored; stored %v", id, store.ids)
		}
	}
	if len(store.ids) != len(want) {
		t.Errorf("stored %v, want %v", store.ids, want)
	}
}

// seenID reports whether s remembers id.
func (s *Sink) seenID(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.seen[id]
	return ok
}
