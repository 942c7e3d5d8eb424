package connlimit

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// Handler wraps h so that every request has deadlines by progress:
//
//   - a request body must arrive at Limits.BodyMinRate once
//     Limits.BodyReadTimeout is spent, or its read fails (and the
//     connection is closed); the deadline is lifted once the body is read,
//     so a response streamed afterwards is never cut by it;
//   - each write of the response may block at most
//     Limits.WriteStallTimeout on a client that does not read;
//   - an answer sent before the handler read any of the request body (a
//     refused key, an unknown route) closes the connection, so the server
//     never reads a body no handler asked for: without a valid key, a
//     client cannot make allot read its body at all.
func (l Limits) Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		gw := &guardedWriter{ResponseWriter: w, rc: rc, stall: l.WriteStallTimeout}
		if r.Body != nil && r.Body != http.NoBody {
			b := &paceBody{ReadCloser: r.Body, rc: rc, start: time.Now(), grace: l.BodyReadTimeout, rate: l.BodyMinRate}
			if b.arm() {
				r.Body = b
				gw.body = b
			}
		}
		h.ServeHTTP(gw, r)
		gw.header() // a handler that wrote nothing is answered now too
		if gw.body != nil && !gw.body.touched.Load() {
			// The server drains up to 256 KiB of an unread body when the
			// handler returns, even on a connection it then closes; a
			// deadline in the past makes that drain end at once.
			_ = rc.SetReadDeadline(time.Now())
		}
		gw.arm() // bounds the server's final flush of the response
	})
}

// ErrSlowBody is the error a request body read returns when the body does
// not arrive at the minimum rate.
var ErrSlowBody = errors.New("request body arrived too slowly")

// paceBody is a request body with a read deadline that advances with the
// bytes received: start + grace + received/rate.
type paceBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	start   time.Time
	grace   time.Duration
	rate    int64
	got     int64
	touched atomic.Bool // the handler asked for the body (maybe from another goroutine)
	done    bool        // the body is read to its end, or failed
}

// arm sets the read deadline for the bytes received so far; false when the
// connection does not support read deadlines (then the body is left as is).
func (b *paceBody) arm() bool {
	if b.grace <= 0 || b.rate <= 0 {
		return false
	}
	credit := time.Duration(b.got/b.rate)*time.Second + time.Duration(b.got%b.rate)*time.Second/time.Duration(b.rate)
	return b.rc.SetReadDeadline(b.start.Add(b.grace+credit)) == nil
}

func (b *paceBody) Read(p []byte) (int, error) {
	b.touched.Store(true)
	n, err := b.ReadCloser.Read(p)
	if b.done {
		return n, err
	}
	b.got += int64(n)
	switch {
	case err == io.EOF:
		// Lift the deadline: from here the server watches the connection
		// for the client going away while the response streams, and a
		// deadline would end that response.
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.done = true // the deadline stays in the past, so the server closes the connection
		return n, fmt.Errorf("%w: %d bytes in %s, under %d bytes/s after a grace of %s: %w",
			ErrSlowBody, b.got, time.Since(b.start).Round(time.Millisecond), b.rate, b.grace, err)
	case err != nil:
		b.done = true
	default:
		b.arm()
	}
	return n, err
}

// guardedWriter bounds each write to the client by the stall timeout, and
// closes the connection after an answer to a request whose body was never
// read.
type guardedWriter struct {
	http.ResponseWriter
	rc          *http.ResponseController
	stall       time.Duration
	body        *paceBody
	wroteHeader bool
}

// arm gives the next write stall to complete.
func (w *guardedWriter) arm() {
	if w.stall > 0 {
		_ = w.rc.SetWriteDeadline(time.Now().Add(w.stall))
	}
}

func (w *guardedWriter) header() {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	if w.body != nil && !w.body.touched.Load() {
		// Otherwise the server would read up to 256 KiB of a body nobody
		// wants to keep the connection open for the next request.
		w.Header().Set("Connection", "close")
	}
}

func (w *guardedWriter) WriteHeader(code int) {
	if code >= 200 { // 1xx are interim; the final answer follows
		w.header()
	}
	w.arm()
	w.ResponseWriter.WriteHeader(code)
}

func (w *guardedWriter) Write(p []byte) (int, error) {
	w.header()
	w.arm()
	return w.ResponseWriter.Write(p)
}

// FlushError flushes the response within the stall timeout; http.ResponseController
// finds it before unwrapping.
func (w *guardedWriter) FlushError() error {
	w.header()
	w.arm()
	return w.rc.Flush()
}

// Flush is http.Flusher for handlers that assert it.
func (w *guardedWriter) Flush() { _ = w.FlushError() }

// Unwrap lets http.ResponseController reach the server's writer.
func (w *guardedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
