package notify

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/allot-dev/allot"
)

// seenLimit bounds the notice IDs a Sink remembers; the oldest are
// forgotten first (the store still deduplicates them).
const seenLimit = 4096

// storeAttempts is how often a Sink tries to store one notice.
const storeAttempts = 3

// Sink stores notices and delivers the new ones: each notice is written to
// the NoticeStore and handed to the Notifier only if AddNotice reported it
// new, so a notice goes out at most once per ID even when several replicas
// share the store. Notify never blocks: storing happens on a worker of its
// own, and IDs seen recently are dropped at once, so a budget refusing
// thousands of calls costs a map lookup per call. Safe for concurrent use.
type Sink struct {
	store allot.NoticeStore
	out   *Notifier
	log   *slog.Logger
	q     *queue
	ctx   context.Context
	stop  context.CancelFunc
	done  chan struct{}

	mu   sync.Mutex
	seen map[string]int // seen IDs and their slot in ring
	ring []string       // seen IDs in arrival order, for forgetting the oldest
	next int
}

// NewSink starts a Sink over store (nil: notices are only delivered,
// deduplicated in this process alone) delivering through out (nil: only
// stored). log nil is slog.Default(). Stop it with Close.
func NewSink(store allot.NoticeStore, out *Notifier, log *slog.Logger) *Sink {
	if log == nil {
		log = slog.Default()
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Sink{store: store, out: out, log: log, q: newQueue(1024), ctx: ctx, stop: stop, done: make(chan struct{}),
		seen: map[string]int{}, ring: make([]string, seenLimit)}
	go func() {
		defer close(s.done)
		if left := s.q.drain(ctx, s.handle); left > 0 {
			log.Error("notices not stored at shutdown", "notices", left)
		}
	}()
	return s
}

// Notify stores and delivers n unless a notice with its ID was seen; it
// returns at once. A zero Time is now; times are UTC to the microsecond,
// so what is delivered equals what is stored. A notice without an ID is
// logged and dropped.
func (s *Sink) Notify(n allot.Notice) {
	if s == nil {
		return
	}
	if n.ID == "" {
		s.log.Error("notice without an id dropped", "kind", n.Kind, "budget", n.Budget)
		return
	}
	if !s.remember(n.ID) {
		return
	}
	if n.Time.IsZero() {
		n.Time = time.Now()
	}
	n.Time = n.Time.UTC().Truncate(time.Microsecond)
	dropped, ok := s.q.push(n)
	switch {
	case !ok:
		s.log.Warn("notice dropped: the notice sink is closed", "notice", n.ID)
	case dropped != nil:
		s.forget(dropped.ID)
		s.log.Warn("notice queue full: dropped its oldest notice", "dropped", dropped.ID)
	}
}

// handle stores one notice and delivers it if it is new.
func (s *Sink) handle(n allot.Notice) {
	added := true
	if s.store != nil {
		var err error
		for attempt := 1; ; attempt++ {
			ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
			added, err = s.store.AddNotice(ctx, n)
			cancel()
			if err == nil || attempt == storeAttempts || s.ctx.Err() != nil {
				break
			}
			select {
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			case <-s.ctx.Done():
			}
		}
		if err != nil {
			s.forget(n.ID) // a later notice with this ID tries again
			s.log.Error("notice not stored, so not delivered", "notice", n.ID, "err", err)
			return
		}
	}
	if !added {
		s.log.Debug("notice already stored by another replica", "notice", n.ID)
		return
	}
	s.log.Info("notice", "id", n.ID, "kind", n.Kind, "budget", n.Budget, "user", n.User, "message", n.Message)
	s.out.Notify(n)
}

// remember records id as seen; false when it was seen already.
func (s *Sink) remember(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[id]; ok {
		return false
	}
	if old := s.ring[s.next]; old != "" && s.seen[old] == s.next {
		delete(s.seen, old)
	}
	s.ring[s.next] = id
	s.seen[id] = s.next
	s.next = (s.next + 1) % len(s.ring)
	return true
}

// forget lets id be noticed again (its ring slot is reused later).
func (s *Sink) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.seen, id)
}

// Close stops accepting notices, stores and hands on the queued ones,
// then closes the Notifier (draining its queues). When ctx ends first the
// rest is abandoned and ctx's error returned.
func (s *Sink) Close(ctx context.Context) error {
	if s == nil {
		return nil
	}
	s.q.close()
	select {
	case <-s.done:
	case <-ctx.Done():
		s.stop()
		<-s.done
	}
	s.stop()
	if err := s.out.Close(ctx); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("close notice sink: %w", err)
	}
	return nil
}
