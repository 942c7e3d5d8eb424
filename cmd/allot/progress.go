package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/ingest"
)

// progress tells a person that a long import or copy is moving: on a
// terminal one line redrawn at most five times a second (rows done, rate,
// percent when the total or the input's size is known), and in the end,
// terminal or not, one summary line, so logs of scripted runs say how
// much went how fast. It writes to stderr: stdout keeps the result.
type progress struct {
	w     io.Writer
	tty   bool
	what  string
	start time.Time
	now   func() time.Time

	mu        sync.Mutex
	rows      int64
	total     int64 // rows expected; 0 unknown
	read      int64 // input bytes read
	size      int64 // input bytes in all; 0 unknown
	drawn     time.Time
	lineWidth int
}

// newProgress starts reporting on w (a terminal gets the live line).
func newProgress(w io.Writer, what string) *progress {
	return &progress{w: w, tty: isTerminal(w), what: what, start: time.Now(), now: time.Now}
}

// isTerminal reports whether w is this process's stderr and that is a
// character device such as a terminal (tests write elsewhere).
func isTerminal(w io.Writer) bool {
	if w != io.Writer(os.Stderr) {
		return false
	}
	st, err := os.Stderr.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// addRows counts rows done and redraws the line when it is due.
func (p *progress) addRows(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rows += int64(n)
	p.drawLocked(false)
}

// setTotal sets the number of rows expected, for the percentage.
func (p *progress) setTotal(n int64) {
	p.mu.Lock()
	p.total = n
	p.mu.Unlock()
}

// reader counts the bytes read from r of size bytes (a file's size), so
// the percentage is known even when the number of rows is not.
func (p *progress) reader(r io.Reader, size int64) io.Reader {
	p.mu.Lock()
	p.size = size
	p.mu.Unlock()
	return &progressReader{r: r, p: p}
}

type progressReader struct {
	r io.Reader
	p *progress
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.p.mu.Lock()
	pr.p.read += int64(n)
	pr.p.drawLocked(false)
	pr.p.mu.Unlock()
	return n, err
}

// appender counts the events an importer appends to l as rows done.
func (p *progress) appender(l ingest.Appender) ingest.Appender {
	return progressAppender{l: l, p: p}
}

type progressAppender struct {
	l ingest.Appender
	p *progress
}

func (a progressAppender) Append(ctx context.Context, events []allot.Event) (int, error) {
	n, err := a.l.Append(ctx, events)
	a.p.addRows(len(events))
	return n, err
}

// finish replaces the live line by the summary line.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drawLocked(true)
}

// line is the progress text: "csv usage.csv: 12,345 rows, 3,858 rows/s, 42%".
func (p *progress) lineLocked(final bool) string {
	elapsed := p.now().Sub(p.start)
	rate := int64(0)
	if s := elapsed.Seconds(); s > 0 {
		rate = int64(float64(p.rows) / s)
	}
	s := fmt.Sprintf("%s: %s rows", p.what, allot.GroupDigits(p.rows))
	if final {
		return s + fmt.Sprintf(" in %s (%s rows/s)", elapsed.Round(100*time.Millisecond), allot.GroupDigits(rate))
	}
	s += fmt.Sprintf(", %s rows/s", allot.GroupDigits(rate))
	switch {
	case p.total > 0:
		s += fmt.Sprintf(", %d%%", min(100, p.rows*100/p.total))
	case p.size > 0:
		s += fmt.Sprintf(", %d%%", min(100, p.read*100/p.size))
	}
	return s
}

func (p *progress) drawLocked(final bool) {
	if !final && (!p.tty || p.now().Sub(p.drawn) < 200*time.Millisecond) {
		return
	}
	p.drawn = p.now()
	line := p.lineLocked(final)
	if p.tty {
		pad := max(0, p.lineWidth-len([]rune(line)))
		p.lineWidth = len([]rune(line))
		fmt.Fprintf(p.w, "\r%s%*s", line, pad, "")
		if final {
			fmt.Fprintln(p.w)
		}
		return
	}
	fmt.Fprintln(p.w, line)
}

// fileSize is f's size in bytes, 0 when unknown (a pipe).
func fileSize(f *os.File) int64 {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return 0
	}
	return st.Size()
}
