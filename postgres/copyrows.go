package postgres

import (
	"encoding/binary"
	"io"
	"sync"

	"github.com/allot-dev/allot"
)

// Append sends events to PostgreSQL with COPY in binary format, encoded
// here rather than through pgx's CopyFrom: that spares boxing twenty values
// per event into interfaces, and lets the server read each column without
// parsing text.

// copyHeader starts a binary COPY stream: signature, flags, extension length.
var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// pgEpochMicros is 2000-01-01 UTC, PostgreSQL's epoch, in unix microseconds.
const pgEpochMicros = 946_684_800 * 1_000_000

// copyReader reads a binary COPY stream of n rows, row appending the
// encoding of the i-th to b. Rows are encoded as they are read, so the
// server reads the first rows while later ones are encoded.
type copyReader struct {
	n       int
	row     func(b []byte, i int) []byte
	next    int    // next row to encode; -1 before the header, n for the trailer
	pending []byte // encoded, not read yet
}

func newCopyReader(n int, row func(b []byte, i int) []byte) *copyReader {
	return &copyReader{n: n, row: row, next: -1, pending: (*copyBufs.Get().(*[]byte))[:0]}
}

// copyBufs are buffers for copyReader, which pgconn reads 64 kB at a time.
var copyBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, 80<<10)
	return &b
}}

// Read implements io.Reader.
func (r *copyReader) Read(p []byte) (int, error) {
	for len(r.pending) < len(p) && r.next <= r.n {
		switch {
		case r.next < 0:
			r.pending = append(r.pending, copyHeader...)
		case r.next == r.n:
			r.pending = binary.BigEndian.AppendUint16(r.pending, 0xffff) // end of data
		default:
			r.pending = r.row(r.pending, r.next)
		}
		r.next++
	}
	if len(r.pending) == 0 {
		if r.pending != nil {
			b := r.pending[:0]
			copyBufs.Put(&b)
			r.pending = nil
		}
		return 0, io.EOF
	}
	n := copy(p, r.pending)
	r.pending = append(r.pending[:0], r.pending[n:]...)
	return n, nil
}

// Binary COPY fields: a length, then the value in network byte order.
func appendInt8(b []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(b, 8), uint64(v))
}

func appendInt4(b []byte, v int32) []byte {
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(b, 4), uint32(v))
}

func appendInt2(b []byte, v int16) []byte {
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint32(b, 2), uint16(v))
}

// appendEventRow appends e's row, of eventColumns, to b.
func appendEventRow(b []byte, e *allot.Event, ref eventRef, id []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, 20) // columns
	// Microseconds as pgx sends a time.Time: truncated, not rounded.
	b = appendInt8(b, e.Time.Unix()*1_000_000+int64(e.Time.Nanosecond())/1000-pgEpochMicros)
	b = appendInt8(b, e.Latency.Microseconds())
	b = appendInt8(b, e.TTFT.Microseconds())
	b = appendInt8(b, e.RequestBytes)
	b = appendInt8(b, e.MaxTokens)
	b = appendInt8(b, int64(e.SystemFP))
	b = appendInt8(b, int64(e.RequestFP))
	b = appendInt8(b, e.Tokens.Input)
	b = appendInt8(b, e.Tokens.CacheRead)
	b = appendInt8(b, e.Tokens.CacheWrite5m)
	b = appendInt8(b, e.Tokens.CacheWrite1h)
	b = appendInt8(b, e.Tokens.Output)
	b = appendInt8(b, e.Tokens.Reasoning)
	b = appendInt8(b, int64(e.Cost))
	b = appendInt4(b, ref.attr)
	b = appendInt4(b, ref.session)
	b = appendInt4(b, int32(e.Messages))
	b = appendInt2(b, int16(e.Status))
	b = appendInt2(b, eventFlags(e))
	b = binary.BigEndian.AppendUint32(b, uint32(len(id)))
	return append(b, id...)
}

// eventRows reads the COPY stream of the events at order in batch (each
// with its ref and encoded id), in that order.
func eventRows(batch []allot.Event, refs []eventRef, ids [][]byte, order []int) *copyReader {
	return newCopyReader(len(order), func(b []byte, k int) []byte {
		i := order[k]
		return appendEventRow(b, &batch[i], refs[i], ids[i])
	})
}
