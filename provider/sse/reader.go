// Package sse reads server-sent events incrementally, keeping each event's
// exact bytes so a proxy can forward it verbatim the moment it is complete
// (design invariant 5: streams are never buffered beyond one event).
//
// It follows the parsing rules of the WHATWG event-stream format: lines end
// in "\r\n", "\n" or "\r"; a blank line ends an event; lines starting with
// ':' are comments; "data" lines are joined with "\n"; one space after the
// colon is dropped; a leading UTF-8 BOM is ignored. Fields other than
// "event" and "data" (id, retry) are kept in Raw only.
package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxEventBytes bounds one event. A stream that goes this long without a
// blank line is malformed (or not an event stream); failing beats growing
// without limit.
const MaxEventBytes = 16 << 20

// ErrEventTooLarge is returned by Next for an event over MaxEventBytes.
var ErrEventTooLarge = errors.New("sse: an event exceeds 16 MiB without ending; the upstream response is not a well-formed event stream")

const (
	initialBuffer = 8 << 10
	maxEmptyReads = 100 // like bufio: a source that keeps returning 0, nil is broken
	maxNames      = 16  // distinct event names remembered, so names do not allocate
)

var bom = []byte{0xEF, 0xBB, 0xBF}

// Event is one server-sent event. Raw and Data point into the Reader's
// buffers and are valid only until the next call to Next.
type Event struct {
	// Raw is the event's bytes exactly as received, including its
	// terminating blank line: forwarding every Raw in order reproduces the
	// stream byte for byte. A comment-only event (": ping") or a stray
	// blank line is an event too, with an empty Name and nil Data.
	Raw []byte
	// Name is the value of the last "event" field, "" if none.
	Name string
	// Data is the values of the "data" lines joined by "\n", nil if the
	// event has no data line.
	Data []byte
}

// Reader reads events from a stream. It reads from the source only when no
// complete event is buffered, so Next returns each event as soon as its
// blank line has arrived. A Reader is not safe for concurrent use.
type Reader struct {
	src   io.Reader
	buf   []byte
	r, w  int      // buf[r:w] holds bytes read but not yet returned
	err   error    // sticky: the source's error, or ErrEventTooLarge
	data  []byte   // joined data of a multi-line event
	names []string // interned event names
	// crPending is set when a line ended in a '\r' that was the last byte
	// available: a '\n' arriving next completes that line end.
	crPending bool
	started   bool // the first line has been seen (for the BOM)

	// The event being read. Offsets are relative to its start in buf, so
	// they survive compaction of the buffer.
	start   int // absolute offset of the event in buf
	nameAt  int // offset of the event name, -1 if none
	nameLen int
	dataAt  int // offset of the single data value, -1 if none
	dataLen int
	multi   bool // more than one data line: the data is in rd.data
}

// NewReader returns a Reader over src. It buffers at most one event.
func NewReader(src io.Reader) *Reader {
	return &Reader{src: src}
}

// Next returns the next event as soon as its terminating blank line has
// been read. At the end of the stream it returns the last, unterminated
// event (if any bytes remain) together with io.EOF. If the source fails,
// it returns what was read of the current event together with the error;
// an event over MaxEventBytes is ErrEventTooLarge. After an error every
// call returns the same error.
func (rd *Reader) Next() (Event, error) {
	if rd.r == rd.w {
		rd.r, rd.w = 0, 0 // nothing pending: reuse the buffer from its start
	}
	rd.start, rd.nameAt, rd.dataAt, rd.multi = rd.r, -1, -1, false
	lineStart := 0 // offset of the current line
	scanned := 0   // buf[start+lineStart : start+scanned] holds no line end
	for {
		avail := rd.buf[rd.start+scanned : rd.w]
		if rd.crPending && len(avail) > 0 {
			rd.crPending = false
			if avail[0] == '\n' { // the second half of a "\r\n" split across reads
				scanned++
				lineStart = scanned
				continue
			}
		}
		i, n := lineEnd(avail)
		if i < 0 {
			scanned = rd.w - rd.start
			if rd.err == nil {
				rd.fill()
				continue
			}
			return rd.last(lineStart)
		}
		if n == 1 && avail[i] == '\r' && i+1 == len(avail) {
			rd.crPending = true
		}
		end := scanned + i
		if end == lineStart { // a blank line ends the event
			rd.started = true
			rd.r = rd.start + end + n
			return rd.event(rd.r), nil
		}
		rd.line(lineStart, end)
		lineStart, scanned = end+n, end+n
	}
}

// last returns the bytes left when the source has ended or failed.
func (rd *Reader) last(lineStart int) (Event, error) {
	err := rd.err
	if err != io.EOF && err != ErrEventTooLarge {
		err = fmt.Errorf("read event stream: %w", err)
	}
	if err == ErrEventTooLarge || rd.w == rd.start {
		rd.r = rd.w
		return Event{}, err
	}
	if rd.start+lineStart < rd.w {
		rd.line(lineStart, rd.w-rd.start)
	}
	rd.r = rd.w
	return rd.event(rd.w), err
}

// lineEnd finds the first line end in b: its index and length (1 for "\n"
// or a lone "\r", 2 for "\r\n"), or -1.
func lineEnd(b []byte) (int, int) {
	lf := bytes.IndexByte(b, '\n')
	head := b
	if lf >= 0 {
		head = b[:lf]
	}
	if cr := bytes.IndexByte(head, '\r'); cr >= 0 {
		if cr+1 < len(b) && b[cr+1] == '\n' {
			return cr, 2
		}
		return cr, 1
	}
	return lf, 1
}

// line parses one non-blank line at buf[start+from : start+to].
func (rd *Reader) line(from, to int) {
	base := rd.start
	if !rd.started {
		rd.started = true
		if bytes.HasPrefix(rd.buf[base+from:base+to], bom) {
			from += len(bom)
			if from == to {
				return
			}
		}
	}
	line := rd.buf[base+from : base+to]
	colon := bytes.IndexByte(line, ':')
	if colon == 0 {
		return // a comment
	}
	field, valueAt := line, to
	if colon > 0 {
		field, valueAt = line[:colon], from+colon+1
		if valueAt < to && rd.buf[base+valueAt] == ' ' {
			valueAt++
		}
	}
	switch string(field) {
	case "event":
		rd.nameAt, rd.nameLen = valueAt, to-valueAt
	case "data":
		switch {
		case rd.dataAt < 0:
			rd.dataAt, rd.dataLen = valueAt, to-valueAt
		case !rd.multi:
			rd.multi = true
			rd.data = append(rd.data[:0], rd.buf[base+rd.dataAt:base+rd.dataAt+rd.dataLen]...)
			fallthrough
		default:
			rd.data = append(rd.data, '\n')
			rd.data = append(rd.data, rd.buf[base+valueAt:base+to]...)
		}
	}
}

// event builds the event that ends at the absolute offset end.
func (rd *Reader) event(end int) Event {
	base := rd.start
	ev := Event{Raw: rd.buf[base:end:end]}
	if rd.nameAt >= 0 {
		ev.Name = rd.intern(rd.buf[base+rd.nameAt : base+rd.nameAt+rd.nameLen])
	}
	switch {
	case rd.multi:
		ev.Data = rd.data
	case rd.dataAt >= 0:
		at := base + rd.dataAt
		ev.Data = rd.buf[at : at+rd.dataLen : at+rd.dataLen]
	}
	return ev
}

// intern returns name as a string, allocating only for names not seen yet
// (a stream repeats a handful of names thousands of times).
func (rd *Reader) intern(name []byte) string {
	for _, s := range rd.names {
		if s == string(name) {
			return s
		}
	}
	s := string(name)
	if len(rd.names) < maxNames {
		rd.names = append(rd.names, s)
	}
	return s
}

// fill reads more bytes into the buffer, first moving the current event
// to the buffer's start and growing the buffer if the event fills it. A
// read error (io.EOF at the end) or ErrEventTooLarge is kept in rd.err;
// bytes that came with the error are parsed first.
func (rd *Reader) fill() {
	if rd.start > 0 {
		rd.w = copy(rd.buf, rd.buf[rd.start:rd.w])
		rd.r, rd.start = 0, 0
	}
	if rd.w == len(rd.buf) {
		if len(rd.buf) >= MaxEventBytes {
			rd.err = ErrEventTooLarge
			return
		}
		buf := make([]byte, min(max(2*len(rd.buf), initialBuffer), MaxEventBytes))
		copy(buf, rd.buf[:rd.w])
		rd.buf = buf
	}
	for range maxEmptyReads {
		n, err := rd.src.Read(rd.buf[rd.w:])
		if n < 0 || n > len(rd.buf)-rd.w {
			rd.err = fmt.Errorf("event source returned an invalid count %d", n)
			return
		}
		rd.w += n
		if err != nil || n > 0 {
			rd.err = err
			return
		}
	}
	rd.err = io.ErrNoProgress
}

// Pending reports whether a complete event is already buffered, so the
// next call to Next returns without reading from the source. A relay
// flushes its client only when nothing is pending: events that arrived
// together leave together, and none waits on the network.
func (rd *Reader) Pending() bool {
	b := rd.buf[rd.r:rd.w]
	if rd.crPending && len(b) > 0 && b[0] == '\n' {
		b = b[1:]
	}
	// A blank line is a line end followed by a line end: "\n\n", "\r\r",
	// "\n\r" (LF then CR or CRLF) or "\r\n\n"/"\r\n\r\n", which contain them.
	return bytes.Contains(b, []byte("\n\n")) || bytes.Contains(b, []byte("\r\r")) || bytes.Contains(b, []byte("\n\r"))
}
