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
// All fields are guarded by the Writer's mutex.
type journal struct {
	dir     string
	f       *os.File // current segment; nil after a failure to open one
	seq     uint64
	written int      // events in the current segment
	closed  []string // segments whose events were all taken by the loop
	failed  bool     // a write failed: logged once until one succeeds
}

// openJournal opens dir, reads what earlier runs left there, and starts a
// new segment. It returns the left events, in order; their segments are
// deleted once those events are stored.
func openJournal(dir string, skipped func(path string, line []byte, err error)) (*journal, []allot.Event, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create ledger journal directory %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("list ledger journal %s: %w", dir, err)
	}
	j := &journal{dir: dir}
	var seqs []uint64
	for _, e := range entries {
		if seq, ok := journalSeq(e.Name()); ok {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	var left []allot.Event
	for _, seq := range seqs {
		path := j.path(seq)
		evs, err := readJournal(path, func(line []byte, err error) { skipped(path, line, err) })
		if err != nil {
			return nil, nil, err
		}
		left = append(left, evs...)
		j.closed = append(j.closed, path)
		j.seq = seq
	}
	if err := j.next(); err != nil {
		return nil, nil, err
	}
	return j, left, nil
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

// rotate closes the current segment, if it holds events, and starts the
// next: called when the loop took every pending event.
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

// readJournal reads a segment's events. A line that does not decode (a
// torn write or damage) is reported through skipped and left out.
func readJournal(path string, skipped func(line []byte, err error)) ([]allot.Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open ledger journal %s: %w", path, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var out []allot.Event
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			if e, derr := decodeLine(line); derr != nil {
				skipped(line, derr)
			} else {
				out = append(out, e)
			}
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("read ledger journal %s: %w", path, err)
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
