// Package sse reads server-sent events incrementally, keeping each event's
// exact bytes so a proxy can forward it verbatim the moment it is complete.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxEventBytes bounds one event; a larger one is an error, not a memory blow-up.
const MaxEventBytes = 16 << 20

// ErrEventTooLarge is returned for an event over MaxEventBytes.
var ErrEventTooLarge = errors.New("sse: event larger than 16 MiB")

// Event is one server-sent event. Raw, Name and Data are valid until the
// next call to Next.
type Event struct {
	Raw  []byte // the event's bytes as received, with its terminating blank line
	Name string // the event: field, "" if none
	Data []byte // the data: lines joined by "\n"
}

// Reader reads events from a stream.
type Reader struct {
	r    *bufio.Reader
	raw  []byte
	data []byte
}

// NewReader returns a reader over r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 32<<10)}
}

// Next returns the next complete event as soon as its blank line arrives.
// At the end of the stream it returns a final unterminated event, if any,
// with io.EOF; on a broken stream, what was read of the event and the error.
func (rd *Reader) Next() (Event, error) {
	rd.raw = rd.raw[:0]
	rd.data = rd.data[:0]
	var name string
	hasData := false
	for {
		line, err := rd.readLine()
		if len(line) > 0 {
			rd.raw = append(rd.raw, line...)
			if len(rd.raw) > MaxEventBytes {
				return Event{}, ErrEventTooLarge
			}
			content := trimEOL(line)
			if len(content) == 0 {
				// Blank line: the event is complete (skip stray blank lines).
				if len(rd.raw) == len(line) {
					rd.raw = rd.raw[:0]
					continue
				}
				return Event{Raw: rd.raw, Name: name, Data: rd.data}, nil
			}
			field, value := splitField(content)
			switch string(field) {
			case "event":
				name = string(value)
			case "data":
				if hasData {
					rd.data = append(rd.data, '\n')
				}
				rd.data = append(rd.data, value...)
				hasData = true
			}
		}
		if err != nil {
			if err == io.EOF && len(rd.raw) > 0 {
				return Event{Raw: rd.raw, Name: name, Data: rd.data}, io.EOF
			}
			if err != io.EOF {
				err = fmt.Errorf("read event stream: %w", err)
			}
			return Event{Raw: rd.raw, Name: name, Data: rd.data}, err
		}
	}
}

// readLine returns one line with its end (\n or \r\n), or the rest at EOF.
// Providers end lines with \n; a bare \r (allowed by the SSE spec, used by
// no provider) is kept inside the line.
func (rd *Reader) readLine() ([]byte, error) {
	line, err := rd.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		buf := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			if len(buf) > MaxEventBytes {
				return nil, ErrEventTooLarge
			}
			line, err = rd.r.ReadSlice('\n')
			buf = append(buf, line...)
		}
		line = buf
	}
	return line, err
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// splitField splits "field: value" (one optional space after the colon);
// a line starting with ':' is a comment with an empty field name.
func splitField(line []byte) (field, value []byte) {
	i := bytes.IndexByte(line, ':')
	if i < 0 {
		return line, nil
	}
	field, value = line[:i], line[i+1:]
	if len(value) > 0 && value[0] == ' ' {
		value = value[1:]
	}
	return field, value
}
