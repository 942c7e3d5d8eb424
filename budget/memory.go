package budget

import (
	"container/heap"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/allot-dev/allot"
)

// MemoryCounters is Counters in process memory behind one mutex: exact and
// atomic for a single gateway process, lost at restart (rebuild it from
// the ledger with Rationer.Replay). Old cells are pruned as new ones start;
// leased reservations lapse after their LeaseTTL (measured on the
// monotonic clock), so an admission that is never ended cannot hold budget
// room forever.
type MemoryCounters struct {
	mu     sync.Mutex
	series map[string]*series
	leases map[string]*lease // reservations held under a lease, by lease id
	expiry leaseHeap         // the same leases, soonest deadline first
	free   []*lease          // ended leases kept for reuse
	start  time.Time         // origin of lease deadlines
}

// series is one counter's cells.
type series struct {
	cells   map[int64]*cell
	last    *cell // the most recently used cell, the common case
	lastB   int64
	newest  int64 // highest bucket seen
	maxSpan int   // widest span asked for, to know which cells are still needed
}

// cell is one bucket of a counter.
type cell struct{ spent, reserved int64 }

// lease is what one lease holds: an amount on each of some cells, until
// its deadline.
type lease struct {
	id       string
	deadline time.Duration // since MemoryCounters.start
	idx      int           // index in the expiry heap
	holds    []hold
}

// hold is one leased reservation on one cell.
type hold struct {
	c      *cell
	amount int64
}

// maxFreeLeases caps how many ended leases are kept for reuse.
const maxFreeLeases = 256

// NewMemoryCounters returns empty counters.
func NewMemoryCounters() *MemoryCounters {
	return &MemoryCounters{series: make(map[string]*series), leases: make(map[string]*lease), start: time.Now()}
}

var _ Counters = (*MemoryCounters)(nil)

// get returns the series of key, creating it.
func (m *MemoryCounters) get(key string) *series {
	s := m.series[key]
	if s == nil {
		s = &series{cells: make(map[int64]*cell, 2), maxSpan: 1}
		m.series[key] = s
	}
	return s
}

// at returns cell b, creating it; a new newest cell prunes cells too old
// for any span to reach.
func (s *series) at(b int64) *cell {
	if s.last != nil && s.lastB == b {
		return s.last
	}
	c := s.cells[b]
	if c == nil {
		c = &cell{}
		s.cells[b] = c
		if b > s.newest || len(s.cells) == 1 {
			s.newest = b
			if len(s.cells) > 2*s.maxSpan+2 {
				for old := range s.cells {
					if old <= b-int64(2*s.maxSpan) {
						delete(s.cells, old)
					}
				}
			}
		}
	}
	s.last, s.lastB = c, b
	return c
}

// sum returns spent and reserved over the span cells up to b.
func (s *series) sum(b int64, span int) (spent, reserved int64) {
	if span <= 1 {
		c := s.at(b)
		return c.spent, c.reserved
	}
	if span > s.maxSpan {
		s.maxSpan = span
	}
	for i := int64(0); i < int64(span); i++ {
		if c := s.cells[b-i]; c != nil {
			spent = allot.SatAdd(spent, c.spent)
			reserved = allot.SatAdd(reserved, c.reserved)
		}
	}
	return spent, reserved
}

// Reserve implements Counters.
func (m *MemoryCounters) Reserve(_ context.Context, charges []Charge) (int, error) {
	leased := false
	for i := range charges {
		if charges[i].Amount < 0 {
			return i, fmt.Errorf("reserve %s: negative amount %d", charges[i].Key, charges[i].Amount)
		}
		leased = leased || charges[i].leased()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var now time.Duration
	if leased || len(m.expiry) > 0 {
		now = time.Since(m.start)
		m.expire(now)
	}
	for i := range charges {
		ch := &charges[i]
		s := m.get(ch.Key)
		spent, reserved := s.sum(ch.Bucket, ch.Span)
		ch.Spent, ch.Reserved = spent, reserved
		if ch.Limit != NoLimit && !fits(spent, reserved, ch.Amount, ch.Limit) {
			return i, nil
		}
	}
	var l *lease
	for i := range charges {
		ch := &charges[i]
		c := m.get(ch.Key).at(ch.Bucket)
		c.reserved = allot.SatAdd(c.reserved, ch.Amount)
		ch.Reserved = allot.SatAdd(ch.Reserved, ch.Amount)
		if ch.leased() {
			if l == nil || l.id != ch.Lease {
				l = m.hold(ch.Lease, now+ch.LeaseTTL)
			}
			l.holds = append(l.holds, hold{c: c, amount: ch.Amount})
		}
	}
	return -1, nil
}

// hold returns the lease named id, creating it with deadline, or moving an
// existing one's deadline later.
func (m *MemoryCounters) hold(id string, deadline time.Duration) *lease {
	if l := m.leases[id]; l != nil {
		if deadline > l.deadline {
			l.deadline = deadline
			heap.Fix(&m.expiry, l.idx)
		}
		return l
	}
	var l *lease
	if n := len(m.free); n > 0 {
		l, m.free = m.free[n-1], m.free[:n-1]
	} else {
		l = &lease{}
	}
	l.id, l.deadline = id, deadline
	m.leases[id] = l
	heap.Push(&m.expiry, l)
	return l
}

// expire takes back the reservations of every lease past its deadline.
func (m *MemoryCounters) expire(now time.Duration) {
	for len(m.expiry) > 0 && m.expiry[0].deadline <= now {
		l := heap.Pop(&m.expiry).(*lease)
		for _, h := range l.holds {
			h.c.reserved = max(h.c.reserved-h.amount, 0)
		}
		m.drop(l)
	}
}

// drop forgets a lease that is off the heap.
func (m *MemoryCounters) drop(l *lease) {
	delete(m.leases, l.id)
	clear(l.holds)
	l.holds, l.id = l.holds[:0], ""
	if len(m.free) < maxFreeLeases {
		m.free = append(m.free, l)
	}
}

// unreserve takes ch's reservation back from c: its lease's hold on c when
// ch is leased (nothing if the lease lapsed), else ch.Amount.
func (m *MemoryCounters) unreserve(ch *Charge, c *cell) {
	if !ch.leased() {
		c.reserved = max(c.reserved-ch.Amount, 0)
		return
	}
	l := m.leases[ch.Lease]
	if l == nil {
		return
	}
	for i, h := range l.holds {
		if h.c != c {
			continue
		}
		c.reserved = max(c.reserved-h.amount, 0)
		last := len(l.holds) - 1
		l.holds[i] = l.holds[last]
		l.holds[last] = hold{}
		l.holds = l.holds[:last]
		break
	}
	if len(l.holds) == 0 {
		heap.Remove(&m.expiry, l.idx)
		m.drop(l)
	}
}

// Settle implements Counters.
func (m *MemoryCounters) Settle(_ context.Context, charges []Charge) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range charges {
		ch := &charges[i]
		s := m.get(ch.Key)
		c := s.at(ch.Bucket)
		m.unreserve(ch, c)
		c.spent = addSpent(c.spent, ch.Actual)
		ch.Spent, ch.Reserved = s.sum(ch.Bucket, ch.Span)
	}
	return nil
}

// Release implements Counters.
func (m *MemoryCounters) Release(_ context.Context, charges []Charge) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range charges {
		m.unreserve(&charges[i], m.get(charges[i].Key).at(charges[i].Bucket))
	}
	return nil
}

// Read implements Counters.
func (m *MemoryCounters) Read(_ context.Context, key string, bucket int64, span int) (int64, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.expiry) > 0 {
		m.expire(time.Since(m.start))
	}
	s := m.series[key]
	if s == nil {
		return 0, 0, nil
	}
	var spent, reserved int64
	for i := int64(0); i < int64(max(span, 1)); i++ {
		if c := s.cells[bucket-i]; c != nil {
			spent = allot.SatAdd(spent, c.spent)
			reserved = allot.SatAdd(reserved, c.reserved)
		}
	}
	return spent, reserved, nil
}

// AddSpent implements Counters.
func (m *MemoryCounters) AddSpent(_ context.Context, charges []Charge) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range charges {
		s := m.get(charges[i].Key)
		s.maxSpan = max(s.maxSpan, charges[i].Span)
		c := s.at(charges[i].Bucket)
		c.spent = addSpent(c.spent, charges[i].Actual)
	}
	return nil
}

// leaseHeap orders leases by deadline (container/heap).
type leaseHeap []*lease

func (h leaseHeap) Len() int           { return len(h) }
func (h leaseHeap) Less(i, j int) bool { return h[i].deadline < h[j].deadline }
func (h leaseHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}

// Push implements heap.Interface.
func (h *leaseHeap) Push(x any) {
	l := x.(*lease)
	l.idx = len(*h)
	*h = append(*h, l)
}

// Pop implements heap.Interface.
func (h *leaseHeap) Pop() any {
	old := *h
	n := len(old) - 1
	l := old[n]
	old[n] = nil
	*h = old[:n]
	return l
}
