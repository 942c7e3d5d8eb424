package sse

import (
	"io"
	"testing"
)

// chunkSource serves its chunks one Read at a time and counts the reads.
type chunkSource struct {
	chunks [][]byte
	reads  int
}

func (s *chunkSource) Read(p []byte) (int, error) {
	s.reads++
	if len(s.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.chunks[0])
	s.chunks[0] = s.chunks[0][n:]
	if len(s.chunks[0]) == 0 {
		s.chunks = s.chunks[1:]
	}
	return n, nil
}

// checkPending asserts Pending's promise on one split of a stream: when
// it says an event is buffered, Next returns it without reading.
func checkPending(t *testing.T, chunks [][]byte) {
	src := &chunkSource{chunks: chunks}
	rd := NewReader(src)
	for range 1000 {
		pending := rd.Pending()
		before := src.reads
		_, err := rd.Next()
		if pending && src.reads != before {
			t.Fatalf("Pending said an event was buffered, but Next read the source (chunks %q)", chunks)
		}
		if err != nil {
			return
		}
	}
}

func TestPending(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		chunks []string
	}{
		{"events together", []string{"data: a\n\ndata: b\n\ndata: c\n\n"}},
		{"event split", []string{"data: a\n\ndata: ", "b\n\n"}},
		{"crlf", []string{"data: a\r\n\r\ndata: b\r\n\r\n"}},
		{"crlf split in the terminator", []string{"data: a\r\n\r", "\ndata: b\r\n\r\n"}},
		{"cr only", []string{"data: a\r\rdata: b\r\r"}},
		{"named events", []string{"event: x\ndata: 1\n\nevent: y\ndata: 2\n\n", ": ping\n\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var chunks [][]byte
			for _, c := range tc.chunks {
				chunks = append(chunks, []byte(c))
			}
			checkPending(t, chunks)
			src := &chunkSource{chunks: [][]byte{[]byte("data: a\n\ndata: b\n\n")}}
			rd := NewReader(src)
			if _, err := rd.Next(); err != nil {
				t.Fatal(err)
			}
			if !rd.Pending() {
				t.Errorf("a second complete event in the buffer is not pending")
			}
		})
	}
}

// FuzzPending: for any stream split in two, Pending never promises an
// event that Next would have to wait for.
func FuzzPending(f *testing.F) {
	f.Add([]byte("data: a\r\n\r\ndata: b\n\n"), 7)
	f.Add([]byte("event: x\rdata: 1\r\r\n\n"), 3)
	f.Fuzz(func(t *testing.T, b []byte, cut int) {
		if len(b) == 0 {
			return
		}
		cut = ((cut % len(b)) + len(b)) % len(b)
		checkPending(t, [][]byte{append([]byte(nil), b[:cut]...), append([]byte(nil), b[cut:]...)})
	})
}
