package ledger

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/allot-dev/allot"
)

// Journal segment files in Options.JournalDir: ledger-journal-<seq>.jsonl.
const (
	journalPrefix = "ledger-journal-"
	journalSuffix = ".jsonl"
)

// journal is a write-ahead log of recorded events, so an event Record has
// returned for survives the process being killed (kill -9, OOM, a panic)
// before the loop stored it. Record writes each event as one JSON line
// with a single write(2) to the current segment: the bytes are then in
// the kernel's page cache, which outlives the process; nothing waits for
// the disk (no fsync), so a power cut can still lose the last moments,
// which the spool's fsync covers once the store is unreachable. When the
// loop takes every pending event it starts a new segment; once what it
// took is stored or spooled, the closed segments are deleted. At start
// the events of segments left by a dead process are queued again; the
// store's idempotency on Event.ID makes the ones it already had harmless.
//
// The journal also holds intents (see Writer.Intend): a line
// {"intent":<event>} written before a call is forwarded, the event to
// record in its place if the process dies before the call's own event is
// recorded. Recording that event completes the intent. Intents still open
// when a segment is closed are copied into the next one, so the segments
// that hold open intents are never the ones deleted. At start, an intent
// that no segment completes is recovered: its event is queued, flagged
// Estimated with status allot.StatusCrashed.
// All fields are guarded by the Writer's mutex.
type journal struct {
	dir     string
	f       *os.File // current segment; nil after a failure to open one
	seq     uint64
	written int                      // lines (events and intents) in the current segment
	closed  []string                 // segments whose events were all taken by the loop
	failed  bool                     // a write failed: logged once until one succeeds
	open    map[string]*bytes.Buffer // intent lines of calls in flight, by event ID
	carry   bytes.Buffer             // reused to copy open intents into a new segment
}

// openJournal opens dir, reads what earlier runs left there, and starts a
// new segment. It returns the left events, in order, then the events of
// the intents left open (recovered); their segments are deleted once
// those events are stored.
func openJournal(dir string, skipped func(path string, line []byte, err error)) (*journal, []allot.Event, []allot.Event, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("create ledger journal directory %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("list ledger journal %s: %w", dir, err)
	}
	j := &journal{dir: dir, open: map[string]*bytes.Buffer{}}
	var seqs []uint64
	for _, e := range entries {
		if seq, ok := journalSeq(e.Name()); ok {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	var left, intents []allot.Event
	for _, seq := range seqs {
		path := j.path(seq)
		evs, its, err := readJournal(path, func(line []byte, err error) { skipped(path, line, err) })
		if err != nil {
			return nil, nil, nil, err
		}
		left = append(left, evs...)
		intents = append(intents, its...)
		j.closed = append(j.closed, path)
		j.seq = seq
	}
	if err := j.next(); err != nil {
		return nil, nil, nil, err
	}
	return j, left, recoverIntents(left, intents), nil
}

// recoverIntents returns the events of the intents that no event in
// recorded completes, once each (an open intent is copied into every
// segment that follows it), flagged Estimated with status StatusCrashed.
func recoverIntents(recorded, intents []allot.Event) []allot.Event {
	if len(intents) == 0 {
		return nil
	}
	done := make(map[string]bool, len(recorded)+len(intents))
	for i := range recorded {
		done[recorded[i].ID] = true
	}
	var out []allot.Event
	for _, e := range intents {
		if done[e.ID] {
			continue
		}
		done[e.ID] = true
		e.Status = allot.StatusCrashed
		e.Estimated = true
		out = append(out, e)
	}
	return out
}

// journalSeq parses a segment's file name.
func journalSeq(name string) (uint64, bool) {
	s, ok := strings.CutPrefix(name, journalPrefix)
	if !ok {
		return 0, false
	}
	if s, ok = strings.CutSuffix(s, journalSuffix); !ok {
		return 0, false
	}
	seq, err := strconv.ParseUint(s, 10, 64)
	return seq, err == nil
}

func (j *journal) path(seq uint64) string {
	return filepath.Join(j.dir, fmt.Sprintf("%s%020d%s", journalPrefix, seq, journalSuffix))
}

// next starts a new segment.
func (j *journal) next() error {
	j.seq++
	f, err := os.OpenFile(j.path(j.seq), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("create ledger journal segment %s: %w", j.path(j.seq), err)
	}
	j.f, j.written = f, 0
	return nil
}

// write appends one encoded event (a whole line) in one write(2).
func (j *journal) write(line []byte) error {
	if j.f == nil {
		if err := j.next(); err != nil {
			return err
		}
	}
	if _, err := j.f.Write(line); err != nil {
		return fmt.Errorf("write ledger journal %s: %w", j.f.Name(), err)
	}
	j.written++
	return nil
}

// intend writes a call's intent line and keeps it open until complete;
// the journal owns buf from then on. An intent whose write failed stays
// open too: the next segment gets it.
func (j *journal) intend(id string, buf *bytes.Buffer) error {
	if old, ok := j.open[id]; ok { // the same call again: keep the latest
		lineBuffers.Put(old)
	}
	j.open[id] = buf
	return j.write(buf.Bytes())
}

// complete closes the intent of event id, if any: its event is recorded.
func (j *journal) complete(id string) {
	if buf, ok := j.open[id]; ok {
		delete(j.open, id)
		lineBuffers.Put(buf)
	}
}

// rotate closes the current segment, if it holds events, and starts the
// next with the intents still open, in one write: called when the loop
// took every pending event. The closed segment may then be deleted once
// its events are stored, as everything in it that is still needed is in
// the new one.
func (j *journal) rotate() error {
	if j.f == nil || j.written == 0 {
		return nil
	}
	name := j.f.Name()
	err := j.f.Close()
	j.closed = append(j.closed, name)
	j.f = nil
	if nerr := j.next(); nerr != nil {
		return errors.Join(err, nerr)
	}
	if len(j.open) == 0 {
		return err
	}
	j.carry.Reset()
	for _, buf := range j.open {
		j.carry.Write(buf.Bytes())
	}
	if _, werr := j.f.Write(j.carry.Bytes()); werr != nil {
		// The closed segment still holds them: keep it until this works.
		j.closed = j.closed[:len(j.closed)-1]
		return errors.Join(err, fmt.Errorf("copy open intents into ledger journal %s: %w", j.f.Name(), werr))
	}
	j.written += len(j.open)
	if j.carry.Cap() > 1<<20 {
		j.carry = bytes.Buffer{} // do not keep a burst's buffer forever
	}
	return err
}

// takeClosed returns the closed segments and forgets them: the caller
// deletes them once their events are safe.
func (j *journal) takeClosed() []string {
	out := j.closed
	j.closed = nil
	return out
}

// close closes the current segment, deleting it when it is empty.
func (j *journal) close() {
	if j.f == nil {
		return
	}
	name := j.f.Name()
	j.f.Close()
	if j.written == 0 {
		os.Remove(name)
	}
	j.f = nil
}

// readJournal reads a segment's events and intents. A line that does not
// decode (a torn write or damage) is reported through skipped and left out.
func readJournal(path string, skipped func(line []byte, err error)) (events, intents []allot.Event, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open ledger journal %s: %w", path, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			if bytes.HasPrefix(line, intentPrefix) {
				if e, derr := decodeIntent(line); derr != nil {
					skipped(line, derr)
				} else {
					intents = append(intents, e)
				}
			} else if e, derr := decodeLine(line); derr != nil {
				skipped(line, derr)
			} else {
				events = append(events, e)
			}
		}
		if err == io.EOF {
			return events, intents, nil
		}
		if err != nil {
			return events, intents, fmt.Errorf("read ledger journal %s: %w", path, err)
		}
	}
}

// lineBuffers recycles the buffers events are encoded into.
var lineBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// encodeLine encodes e as one JSON line into a pooled buffer; put it back
// with lineBuffers.Put.
func encodeLine(e *allot.Event) (*bytes.Buffer, error) {
	buf := lineBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(e); err != nil {
		lineBuffers.Put(buf)
		return nil, fmt.Errorf("encode event %s for the ledger journal: %w", e.ID, err)
	}
	return buf, nil
}

// intentPrefix starts an intent's journal line; an event's line starts
// with its "id" field.
var intentPrefix = []byte(`{"intent":`)

// encodeIntent encodes e as an intent line, {"intent":<event>}, into a
// pooled buffer.
func encodeIntent(e *allot.Event) (*bytes.Buffer, error) {
	buf := lineBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	buf.Write(intentPrefix)
	if err := json.NewEncoder(buf).Encode(e); err != nil {
		lineBuffers.Put(buf)
		return nil, fmt.Errorf("encode the intent of call %s for the ledger journal: %w", e.ID, err)
	}
	buf.Truncate(buf.Len() - 1) // the encoder's newline
	buf.WriteString("}\n")
	return buf, nil
}

// decodeIntent decodes an intent line.
func decodeIntent(line []byte) (allot.Event, error) {
	var v struct {
		Intent *allot.Event `json:"intent"`
	}
	if err := json.Unmarshal(line, &v); err != nil {
		return allot.Event{}, err
	}
	if v.Intent == nil || v.Intent.ID == "" {
		return allot.Event{}, errors.New("intent without an event id")
	}
	return *v.Intent, nil
}
