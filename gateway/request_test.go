package gateway

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

// oneByteThenFail is a body that declares much and delivers one byte, as a
// client that stops sending would (the read deadline then fails the read).
type oneByteThenFail struct{ sent bool }

func (b *oneByteThenFail) Read(p []byte) (int, error) {
	if b.sent {
		return 0, errors.New("i/o timeout")
	}
	b.sent = true
	p[0] = '{'
	return 1, nil
}

// TestReadBodyAllocatesForBytesReceivedNotDeclared: a client that declares a
// 32 MiB body and sends one byte must not cost 32 MiB; thousands of such
// connections would otherwise exhaust memory. Not parallel: it measures
// the process's allocations.
func TestReadBodyAllocatesForBytesReceivedNotDeclared(t *testing.T) {
	const declared = 32 << 20
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", io.NopCloser(&oneByteThenFail{}))
	r.ContentLength = declared
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := readBody(httptest.NewRecorder(), r, declared)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "could not read the request body") {
		t.Fatalf("err = %v, want the read failure", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("reading 1 byte of a declared %d allocated %d bytes, want under 1 MiB", declared, got)
	}
}

func TestReadBodyReadsDeclaredBodiesWhole(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, maxPrealloc - 1, maxPrealloc, maxPrealloc + 1, 3*maxPrealloc + 7} {
		body := strings.Repeat("a", n)
		r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
		got, err := readBody(httptest.NewRecorder(), r, 1<<20)
		if err != nil || string(got) != body {
			t.Errorf("body of %d bytes: read %d bytes, err %v", n, len(got), err)
		}
	}
}
