package otlp

import (
	"sync"
	"time"

	"github.com/allot-dev/allot"
)

// preference makes per-request events win over metrics: it remembers the
// sessions that sent per-request usage events, and holds metric-derived
// events for a while before recording them, dropping those whose session
// turns out to send per-request events.
type preference struct {
	mu      sync.Mutex
	logging map[string]int64 // session key -> unix seconds of its last per-request event
	held    []heldEvent
	timer   *time.Timer
	closed  bool
}

type heldEvent struct {
	e       allot.Event
	session string
	points  int64
	due     time.Time
}

// maxSessions bounds the session memory; sessions a week quiet are
// forgotten beyond it. maxHeld bounds the held events: beyond it the
// oldest are released early.
const (
	maxSessions = 200_000
	maxHeld     = 100_000
)

func newPreference() preference { return preference{logging: map[string]int64{}} }

// sessionKey identifies a session of one tool for one user.
func sessionKey(user string, fam *family, session string) string {
	return user + "\x00" + fam.name + "\x00" + session
}

// markLogging notes that session sends per-request events.
func (p *preference) markLogging(key string, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.logging[key]; !ok && len(p.logging) >= maxSessions {
		stale := now.Add(-7 * 24 * time.Hour).Unix()
		for k, t := range p.logging {
			if t < stale {
				delete(p.logging, k)
			}
		}
		if len(p.logging) >= maxSessions {
			clear(p.logging)
		}
	}
	p.logging[key] = now.Unix()
}

func (p *preference) isLogging(key string) bool {
	p.mu.Lock()
	_, ok := p.logging[key]
	p.mu.Unlock()
	return ok
}

func (p *preference) heldCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.held)
}

// offer records a metric-derived event of session key, holds it, or drops
// it when the session sends per-request events.
func (p *preference) offer(r *Receiver, e allot.Event, key string, points int64) {
	if p.isLogging(key) {
		r.state().stats.superseded.Add(points)
		return
	}
	hold := r.hold()
	p.mu.Lock()
	if hold <= 0 || p.closed {
		p.mu.Unlock()
		r.record(e)
		return
	}
	var early []heldEvent
	if len(p.held) >= maxHeld {
		early = append(early, p.held[:len(p.held)/10]...)
		p.held = append(p.held[:0], p.held[len(p.held)/10:]...)
	}
	p.held = append(p.held, heldEvent{e: e, session: key, points: points, due: time.Now().Add(hold)})
	if p.timer == nil {
		p.timer = time.AfterFunc(hold, func() { p.releaseDue(r) })
	}
	p.mu.Unlock()
	p.settle(r, early)
}

// releaseDue records the held events whose time has come and re-arms the
// timer for the rest.
func (p *preference) releaseDue(r *Receiver) {
	now := time.Now()
	p.mu.Lock()
	i := 0
	for i < len(p.held) && !p.held[i].due.After(now) {
		i++
	}
	due := append([]heldEvent(nil), p.held[:i]...)
	p.held = append(p.held[:0], p.held[i:]...)
	p.timer = nil
	if len(p.held) > 0 && !p.closed {
		p.timer = time.AfterFunc(time.Until(p.held[0].due), func() { p.releaseDue(r) })
	}
	p.mu.Unlock()
	p.settle(r, due)
}

// releaseAll records every held event now.
func (p *preference) releaseAll(r *Receiver) {
	p.mu.Lock()
	all := p.held
	p.held = nil
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.mu.Unlock()
	p.settle(r, all)
}

func (p *preference) settle(r *Receiver, events []heldEvent) {
	for _, h := range events {
		if p.isLogging(h.session) {
			r.state().stats.superseded.Add(h.points)
			continue
		}
		r.record(h.e)
	}
}

func (p *preference) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}
