package budget

import (
	"context"
	"fmt"
	"sync"
)

// MemoryCounters is Counters in process memory behind one mutex: exact and
// atomic for a single gateway process, lost at restart (rebuild it from
// the ledger with Rationer.Replay). Old cells are pruned as new ones start.
type MemoryCounters struct {
	mu     sync.Mutex
	series map[string]*series
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

// NewMemoryCounters returns empty counters.
func NewMemoryCounters() *MemoryCounters {
	return &MemoryCounters{series: make(map[string]*series)}
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
			spent += c.spent
			reserved += c.reserved
		}
	}
	return spent, reserved
}

// Reserve implements Counters.
func (m *MemoryCounters) Reserve(_ context.Context, charges []Charge) (int, error) {
	for i := range charges {
		if charges[i].Amount < 0 {
			return i, fmt.Errorf("reserve %s: negative amount %d", charges[i].Key, charges[i].Amount)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range charges {
		ch := &charges[i]
		s := m.get(ch.Key)
		spent, reserved := s.sum(ch.Bucket, ch.Span)
		ch.Spent, ch.Reserved = spent, reserved
		if ch.Limit != NoLimit && spent+reserved+ch.Amount > ch.Limit {
			return i, nil
		}
	}
	for i := range charges {
		ch := &charges[i]
		m.get(ch.Key).at(ch.Bucket).reserved += ch.Amount
		ch.Reserved += ch.Amount
	}
	return -1, nil
}

// Settle implements Counters.
func (m *MemoryCounters) Settle(_ context.Context, charges []Charge) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range charges {
		ch := &charges[i]
		s := m.get(ch.Key)
		c := s.at(ch.Bucket)
		c.reserved = max(c.reserved-ch.Amount, 0)
		c.spent += ch.Actual
		ch.Spent, ch.Reserved = s.sum(ch.Bucket, ch.Span)
	}
	return nil
}

// Release implements Counters.
func (m *MemoryCounters) Release(_ context.Context, charges []Charge) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range charges {
		c := m.get(charges[i].Key).at(charges[i].Bucket)
		c.reserved = max(c.reserved-charges[i].Amount, 0)
	}
	return nil
}

// Read implements Counters.
func (m *MemoryCounters) Read(_ context.Context, key string, bucket int64, span int) (int64, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.series[key]
	if s == nil {
		return 0, 0, nil
	}
	var spent, reserved int64
	for i := int64(0); i < int64(max(span, 1)); i++ {
		if c := s.cells[bucket-i]; c != nil {
			spent += c.spent
			reserved += c.reserved
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
		s.at(charges[i].Bucket).spent += charges[i].Actual
	}
	return nil
}
