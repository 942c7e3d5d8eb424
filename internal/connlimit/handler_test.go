package connlimit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// serve runs h behind l's Handler and server settings on a local port.
func serve(t *testing.T, l Limits, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: l.Handler(h)}
	l.Apply(srv)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// rawConn dials addr and sends head (request line and headers) as is.
func rawConn(t *testing.T, addr, head string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	return c
}

// closedWithin reads c until the server closes it and says how long that took.
func closedWithin(t *testing.T, c net.Conn, limit time.Duration) (time.Duration, string) {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(limit))
	got, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server still held the connection after %s; it sent %q", limit, got)
	}
	return time.Since(start), string(got)
}

var testLimits = Limits{
	MaxConns: 100, ReadHeaderTimeout: 300 * time.Millisecond, BodyReadTimeout: 300 * time.Millisecond,
	BodyMinRate: 1000, IdleTimeout: 300 * time.Millisecond, WriteStallTimeout: 300 * time.Millisecond, MaxHeaderBytes: 8 << 10,
}

func TestTricklingBodyIsCut(t *testing.T) {
	t.Parallel()
	readErr := make(chan error, 1)
	addr := serve(t, testLimits, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
		if err != nil {
			http.Error(w, "slow body", http.StatusRequestTimeout)
		}
	}))
	c := rawConn(t, addr, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
	go func() { // 20 bytes/s, far under 1000 bytes/s
		for range 40 {
			if _, err := c.Write([]byte("x")); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	took, resp := closedWithin(t, c, 2*time.Second)
	if err := <-readErr; !errors.Is(err, ErrSlowBody) {
		t.Errorf("body read error = %v, want ErrSlowBody", err)
	}
	if took > time.Second || !strings.Contains(resp, "408") {
		t.Errorf("trickling body: closed after %s with %q, want a 408 and the connection closed after the 300ms grace", took, resp)
	}
}

func TestBodyAtTheMinimumRateIsNotCut(t *testing.T) {
	t.Parallel()
	addr := serve(t, testLimits, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "got %d", len(b))
	}))
	// 3,000 bytes over ~1.2s (2,500 bytes/s): four times the grace, yet
	// never under the minimum rate, so never cut.
	const chunks, size = 12, 250
	c := rawConn(t, addr, fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n", chunks*size))
	for range chunks {
		time.Sleep(100 * time.Millisecond)
		if _, err := c.Write([]byte(strings.Repeat("y", size))); err != nil {
			t.Fatalf("the upload was cut: %v", err)
		}
	}
	if _, resp := closedWithin(t, c, 2*time.Second); !strings.Contains(resp, "200 OK") || !strings.HasSuffix(resp, "got 3000") {
		t.Fatalf("response %q, want 200 with all 3000 bytes", resp)
	}
}

func TestStreamOutlivesTheBodyDeadline(t *testing.T) {
	t.Parallel()
	addr := serve(t, testLimits, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc := http.NewResponseController(w)
		for i := range 10 { // 1s of streaming, three times every deadline
			select {
			case <-r.Context().Done():
				return // the client "went away": the stream was cut
			case <-time.After(100 * time.Millisecond):
			}
			fmt.Fprintf(w, "data: %d\n\n", i)
			_ = rc.Flush()
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	resp, err := http.Post("http://"+addr+"/", "application/json", strings.NewReader(`{"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || !strings.Contains(string(b), "[DONE]") {
		t.Fatalf("stream cut: %v\n%s", err, b)
	}
}

func TestUnreadBodyIsNeverRead(t *testing.T) {
	t.Parallel()
	long := testLimits
	long.BodyReadTimeout = 10 * time.Second // so only closing, not the deadline, can end this quickly
	addr := serve(t, long, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer good" {
			http.Error(w, "bad key", http.StatusUnauthorized) // refused before the body
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	// The client declares a body and sends none of it: had the server
	// tried to read the body (to reuse the connection), it would wait.
	c := rawConn(t, addr, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer bad\r\nContent-Length: 1000\r\n\r\n")
	took, resp := closedWithin(t, c, 2*time.Second)
	if !strings.Contains(resp, "401") || !strings.Contains(resp, "Connection: close") || took > time.Second {
		t.Fatalf("refused request: closed after %s with %q, want a 401 and the connection closed at once", took, resp)
	}

	// A request whose body the handler read keeps its connection alive.
	c = rawConn(t, addr, "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\nContent-Length: 2\r\n\r\nhi")
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || r.StatusCode != http.StatusOK || r.Close {
		t.Fatalf("read body: %v %+v, want 200 keeping the connection", err, r)
	}
}

func TestIdleAndSilentConnectionsAreClosed(t *testing.T) {
	t.Parallel()
	addr := serve(t, testLimits, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	tests := []struct {
		name, head string
	}{
		{"sends nothing", ""},
		{"half a header", "GET / HTTP/1.1\r\nHost: x\r\n"},
		{"idle keep-alive after a request", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := rawConn(t, addr, tt.head)
			if took, _ := closedWithin(t, c, 2*time.Second); took < 250*time.Millisecond || took > time.Second {
				t.Errorf("closed after %s, want after the 300ms timeout", took)
			}
		})
	}
}

func TestStalledReaderIsCut(t *testing.T) {
	t.Parallel()
	writeErr := make(chan error, 1)
	addr := serve(t, testLimits, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("z", 64<<10))
		rc := http.NewResponseController(w)
		for {
			if _, err := w.Write(chunk); err != nil {
				writeErr <- err
				return
			}
			if err := rc.Flush(); err != nil {
				writeErr <- err
				return
			}
		}
	}))
	rawConn(t, addr, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n") // and never read
	select {
	case err := <-writeErr:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("write error = %v, want the write deadline exceeded", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a write to a client that does not read blocked past the stall timeout")
	}
}
