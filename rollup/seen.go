package rollup

import (
	"time"

	"github.com/allot-dev/allot"
)

// PromptSeenWindow is how long a system prompt is remembered: a call
// counts apart under its prompt only if the prompt was sent within this
// long before it. A prompt sent once has nothing to cache, and requests
// that carry a new system prompt every time (retrieved context in the
// system prompt) would otherwise add a row per call; keeping the first
// call of each prompt with the session's other calls costs the prompt
// caching estimate one call, which the cache would have had to write
// anyway.
const PromptSeenWindow = 24 * time.Hour

// promptWindowUS and dupWindowUS are the windows in microseconds.
const (
	promptWindowUS = int64(PromptSeenWindow / time.Microsecond)
	dupWindowUS    = int64(allot.DuplicateWindow / time.Microsecond)
)

// PromptKnown reports whether a call at t counts apart under its system
// prompt, last sent at prev (unix microseconds).
func PromptKnown(prev, t int64) bool { return t >= prev && t-prev <= promptWindowUS }

// Duplicate reports whether a call at t repeats one at prev with the same
// user and request fingerprint: within allot.DuplicateWindow either way.
func Duplicate(prev, t int64) bool { return t-prev <= dupWindowUS && prev-t <= dupWindowUS }

// dupKey identifies a request for duplicate detection: the same body from
// the same user.
type dupKey struct {
	user string
	fp   int64
}

// dupSeen is the latest call seen with a dupKey.
type dupSeen struct {
	t  int64
	id string
}

// Windows remember, across folds, the request fingerprints of the last
// allot.DuplicateWindow of calls and when each system prompt was last
// sent over the last PromptSeenWindow, so that a fold recognises repeats
// and known prompts without reading events back. A store keeps one per
// writer; repeats that straddle its restart are not recognised.
type Windows struct {
	dups        map[dupKey]dupSeen
	prompts     map[int64]int64 // fingerprint -> unix microseconds
	dupMax      int64
	promptMax   int64
	dupPrune    int
	promptPrune int
}

// NewWindows returns empty windows.
func NewWindows() *Windows {
	return &Windows{dups: map[dupKey]dupSeen{}, prompts: map[int64]int64{}, dupPrune: 4096, promptPrune: 4096}
}

// Check finds repeats and known prompts among events folded in time
// order, against Windows of earlier calls (nil: only the events
// themselves). It records the events in the windows as it goes, with an
// undo log: Finish keeps them once their transaction committed, or takes
// them back. (Recording them apart and merging them on commit cost an
// append a twentieth of its time.)
type Check struct {
	w       *Windows
	dups    map[dupKey]dupSeen
	prompts map[int64]int64
	undo    []dupUndo
	pundo   []promptUndo
	maxT    int64 // the latest call recorded in w's dups
	pmaxT   int64 // in w's prompts
}

// NewCheck returns a Check against w, nil for none.
func NewCheck(w *Windows) *Check {
	if w == nil {
		return &Check{dups: map[dupKey]dupSeen{}, prompts: map[int64]int64{}}
	}
	return &Check{w: w, dups: w.dups, prompts: w.prompts}
}

// dupUndo is what the windows held under a key before Check wrote it.
type dupUndo struct {
	k    dupKey
	prev dupSeen
	had  bool
}

// promptUndo is what the windows held under a fingerprint before.
type promptUndo struct {
	fp, prev int64
	had      bool
}

// KnownPrompt reports whether e's system prompt was seen within
// PromptSeenWindow before e, and records it.
func (d *Check) KnownPrompt(e *Event) bool {
	if e.SystemFP == 0 {
		return false
	}
	prev, ok := d.prompts[e.SystemFP]
	known := ok && PromptKnown(prev, e.T)
	if !ok || e.T >= prev {
		if d.w != nil {
			d.pundo = append(d.pundo, promptUndo{e.SystemFP, prev, ok})
			d.pmaxT = max(d.pmaxT, e.T)
		}
		d.prompts[e.SystemFP] = e.T
	}
	return known
}

// Repeat reports whether e repeats another call (Duplicate) and records e.
func (d *Check) Repeat(e *Event) bool {
	if e.RequestFP == 0 {
		return false
	}
	k := dupKey{e.User, e.RequestFP}
	prev, ok := d.dups[k]
	dup := ok && prev.id != e.ID && Duplicate(prev.t, e.T)
	if !ok || e.T >= prev.t {
		if d.w != nil {
			d.undo = append(d.undo, dupUndo{k, prev, ok})
			d.maxT = max(d.maxT, e.T)
		}
		d.dups[k] = dupSeen{e.T, e.ID}
	}
	return dup
}

// Finish keeps the calls recorded in the windows if ok (their transaction
// committed), forgetting calls that fell out of the windows, or takes them
// back. Without windows it does nothing.
func (d *Check) Finish(ok bool) {
	w := d.w
	if w == nil {
		return
	}
	if !ok {
		for i := len(d.undo) - 1; i >= 0; i-- {
			if u := &d.undo[i]; u.had {
				w.dups[u.k] = u.prev
			} else {
				delete(w.dups, u.k)
			}
		}
		for i := len(d.pundo) - 1; i >= 0; i-- {
			if u := &d.pundo[i]; u.had {
				w.prompts[u.fp] = u.prev
			} else {
				delete(w.prompts, u.fp)
			}
		}
		d.undo, d.pundo = nil, nil
		return
	}
	d.undo, d.pundo = nil, nil
	w.promptMax = max(w.promptMax, d.pmaxT)
	if len(w.prompts) >= w.promptPrune {
		for fp, t := range w.prompts {
			if t < w.promptMax-promptWindowUS {
				delete(w.prompts, fp)
			}
		}
		if len(w.prompts) > 4_000_000 { // bound the memory come what may
			clear(w.prompts)
		}
		w.promptPrune = max(4096, 2*len(w.prompts))
	}
	w.dupMax = max(w.dupMax, d.maxT)
	if len(w.dups) >= w.dupPrune {
		cutoff := w.dupMax - dupWindowUS
		for k, s := range w.dups {
			if s.t < cutoff {
				delete(w.dups, k)
			}
		}
		w.dupPrune = max(4096, 2*len(w.dups))
	}
}
