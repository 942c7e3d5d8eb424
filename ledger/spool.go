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

	"github.com/allot-dev/allot"
)

// SpoolFile is the name of the spool in Options.SpoolDir.
const SpoolFile = "ledger-spool.jsonl"

// spool is a file of events (one JSON object a line) that the store could
// not take yet. Batches are appended and fsynced before they count as
// safe; replay reads them back in order from a byte offset, and once all
// are stored the file is truncated. A crash between storing a batch and
// truncating replays it again at the next start, which Append's
// idempotency on Event.ID makes harmless. Only the writer's loop uses it.
type spool struct {
	path   string
	f      *os.File
	size   int64 // bytes in the file
	offset int64 // bytes already replayed into the store
	events int64 // events not yet replayed (an estimate after torn lines)
}

// openSpool opens or creates the spool in dir and counts what it holds.
func openSpool(dir string) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create ledger spool directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, SpoolFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open ledger spool %s: %w", path, err)
	}
	s := &spool{path: path, f: f}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat ledger spool %s: %w", path, err)
	}
	s.size = st.Size()
	if s.size > 0 {
		n, err := countLines(io.NewSectionReader(f, 0, s.size))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("read ledger spool %s: %w", path, err)
		}
		s.events = n
	}
	return s, nil
}

// countLines counts newline-terminated lines.
func countLines(r io.Reader) (int64, error) {
	var n int64
	buf := make([]byte, 64<<10)
	for {
		k, err := r.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// pending reports whether events wait in the spool.
func (s *spool) pending() bool { return s.offset < s.size }

// write appends batch and fsyncs it. On error the file is cut back to
// where it was, so no half batch is left behind.
func (s *spool) write(batch []allot.Event) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range batch {
		if err := enc.Encode(&batch[i]); err != nil {
			return fmt.Errorf("encode event %s for the ledger spool: %w", batch[i].ID, err)
		}
	}
	if _, err := s.f.Write(buf.Bytes()); err != nil {
		s.f.Truncate(s.size)
		return fmt.Errorf("write ledger spool %s: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		s.f.Truncate(s.size)
		return fmt.Errorf("fsync ledger spool %s: %w", s.path, err)
	}
	s.size += int64(buf.Len())
	s.events += int64(len(batch))
	return nil
}

// next reads up to n events from the replay offset. It returns them, the
// offset after them and how many lines that was. A line that does not
// decode (a torn write at the end after a crash, or damage) is skipped and
// reported through skipped.
func (s *spool) next(n int, skipped func(line []byte, err error)) ([]allot.Event, int64, int, error) {
	r := bufio.NewReaderSize(io.NewSectionReader(s.f, s.offset, s.size-s.offset), 64<<10)
	off, lines := s.offset, 0
	var out []allot.Event
	for len(out) < n {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			off += int64(len(line))
			lines++
			if e, derr := decodeLine(line); derr != nil {
				skipped(line, derr)
			} else {
				out = append(out, e)
			}
		} else if len(line) > 0 { // torn last line: never acknowledged, skip it
			off += int64(len(line))
			skipped(line, io.ErrUnexpectedEOF)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return out, off, lines, fmt.Errorf("read ledger spool %s: %w", s.path, err)
		}
	}
	return out, off, lines, nil
}

// advance marks the lines up to off as replayed; once all are, the file
// is truncated.
func (s *spool) advance(off int64, lines int) error {
	s.offset = off
	s.events = max(s.events-int64(lines), 0)
	if s.offset < s.size {
		return nil
	}
	if err := s.f.Truncate(0); err != nil {
		return fmt.Errorf("truncate ledger spool %s: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("fsync ledger spool %s: %w", s.path, err)
	}
	s.size, s.offset, s.events = 0, 0, 0
	return nil
}

// decodeLine decodes one event line of the spool or the journal.
func decodeLine(line []byte) (allot.Event, error) {
	var e allot.Event
	if err := json.Unmarshal(line, &e); err != nil {
		return e, err
	}
	if e.ID == "" {
		return e, errors.New("event without an id")
	}
	return e, nil
}

// close closes the file.
func (s *spool) close() error { return s.f.Close() }
