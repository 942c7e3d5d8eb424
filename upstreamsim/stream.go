package upstreamsim

import (
	"encoding/json"
	"net/http"
	"time"
)

// stream writes one server-sent event stream, flushing after every event,
// waiting the chunk delay before each content chunk, aborting where
// x-sim-cut-after says, and stopping as soon as the client goes away.
type stream struct {
	x        *exchange
	rc       *http.ResponseController
	delay    time.Duration
	cutAfter int // content chunks before the abort; -1: never
	chunks   int
}

// startStream sends the status and headers of a stream.
func (x *exchange) startStream() *stream {
	h := x.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	x.setRequestID()
	x.status(http.StatusOK)
	x.w.WriteHeader(http.StatusOK)
	st := &stream{x: x, rc: http.NewResponseController(x.w), delay: x.chunkDelay(), cutAfter: x.ctl.cutAfter}
	_ = st.rc.Flush()
	return st
}

// event writes one event with its JSON data; name "" writes a data-only
// event as OpenAI chat streams do. It returns errGone if the client left.
func (st *stream) event(name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		panic("upstreamsim: marshal event: " + err.Error()) // our own types always marshal
	}
	return st.raw(name, data)
}

// raw writes one event with data as is.
func (st *stream) raw(name string, data []byte) error {
	if st.x.r.Context().Err() != nil {
		st.x.rec.cancelled()
		return errGone
	}
	buf := make([]byte, 0, len(data)+len(name)+16)
	if name != "" {
		buf = append(buf, "event: "...)
		buf = append(buf, name...)
		buf = append(buf, '\n')
	}
	buf = append(buf, "data: "...)
	buf = append(buf, data...)
	buf = append(buf, "\n\n"...)
	if _, err := st.x.w.Write(buf); err != nil {
		st.x.rec.cancelled()
		return errGone
	}
	if err := st.rc.Flush(); err != nil {
		st.x.rec.cancelled()
		return errGone
	}
	return nil
}

// content writes a content chunk (a text or reasoning delta): it first
// aborts if the cut point is reached, then waits the chunk delay.
func (st *stream) content(name string, v any) error {
	st.checkCut(false)
	if !st.x.wait(st.delay) {
		st.x.rec.cancelled()
		return errGone
	}
	if err := st.event(name, v); err != nil {
		return err
	}
	st.chunks++
	st.x.rec.update(func(c *Call) { c.Chunks = st.chunks })
	return nil
}

// checkCut aborts the connection once cutAfter content chunks are out. With
// final set (before the closing events) it aborts whenever a cut was asked
// for, so a cut stream never delivers its final usage, even if it had fewer
// chunks than the cut point.
func (st *stream) checkCut(final bool) {
	if st.cutAfter < 0 || (!final && st.chunks < st.cutAfter) {
		return
	}
	st.x.rec.update(func(c *Call) { c.Cut = true })
	panic(http.ErrAbortHandler) // net/http closes the connection mid-stream
}
