package ingest

import (
	"context"
	"fmt"

	"github.com/allot-dev/allot"
)

// MaxProblems is how many problems a Summary keeps word for word; later
// ones are only counted.
const MaxProblems = 10

// Summary says what an import did. Every record read is counted once:
// Read = Imported + Duplicate + Malformed + Skipped.
type Summary struct {
	Read      int      `json:"read"`      // records (lines, rows, report results) read
	Imported  int      `json:"imported"`  // new events stored in the ledger
	Duplicate int      `json:"duplicate"` // usage already in the ledger, or repeated in the input
	Malformed int      `json:"malformed"` // records that could not be parsed
	Skipped   int      `json:"skipped"`   // records without usage, or that no allot user could be found for
	Problems  []string `json:"problems,omitempty"`
	more      int
}

// Problem records a problem (with its place, e.g. "file.jsonl:12"); the
// first MaxProblems are kept.
func (s *Summary) Problem(format string, args ...any) {
	if len(s.Problems) < MaxProblems {
		s.Problems = append(s.Problems, fmt.Sprintf(format, args...))
		return
	}
	s.more++
}

// Add merges o into s.
func (s *Summary) Add(o Summary) {
	s.Read += o.Read
	s.Imported += o.Imported
	s.Duplicate += o.Duplicate
	s.Malformed += o.Malformed
	s.Skipped += o.Skipped
	for _, p := range o.Problems {
		s.Problem("%s", p)
	}
	s.more += o.more
}

// MoreProblems is the number of problems beyond those kept.
func (s *Summary) MoreProblems() int { return s.more }

// String is the one-line form the CLI prints.
func (s Summary) String() string {
	return fmt.Sprintf("read %d, imported %d, duplicate %d, malformed %d, skipped %d", s.Read, s.Imported, s.Duplicate, s.Malformed, s.Skipped)
}

// Appender is the part of allot.Ledger an import writes to.
type Appender interface {
	Append(ctx context.Context, events []allot.Event) (int, error)
}

// Store appends events to l in batches of batch (0: 2000) and counts the
// new ones as Imported and the rest as Duplicate: the ledger, which is
// idempotent on ID, decides what was seen before.
func Store(ctx context.Context, l Appender, events []allot.Event, s *Summary, batch int) error {
	if batch <= 0 {
		batch = 2000
	}
	events = allot.CapEvents(events) // names read from files may be any length
	for len(events) > 0 {
		n := min(batch, len(events))
		inserted, err := l.Append(ctx, events[:n])
		if err != nil {
			return fmt.Errorf("store %d imported events: %w", n, err)
		}
		s.Imported += inserted
		s.Duplicate += n - inserted
		events = events[n:]
	}
	return nil
}
