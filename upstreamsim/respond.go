package upstreamsim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	allot "github.com/allot-dev/allot"
)

// requestID is this exchange's provider request id, made once.
func (x *exchange) requestID() string {
	if id := x.w.Header().Get(x.requestIDHeader()); id != "" {
		return id
	}
	id := x.s.nextID("req_")
	x.w.Header().Set(x.requestIDHeader(), id)
	return id
}

func (x *exchange) requestIDHeader() string {
	if x.proto == protoAnthropic {
		return "request-id"
	}
	return "x-request-id"
}

// setRequestID sets the provider's request id header.
func (x *exchange) setRequestID() { _ = x.requestID() }

// status records the HTTP status about to be sent.
func (x *exchange) status(code int) { x.rec.update(func(c *Call) { c.Status = code }) }

// writeJSON sends a whole JSON answer.
func (x *exchange) writeJSON(status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		panic("upstreamsim: marshal answer: " + err.Error()) // our own types always marshal
	}
	x.setRequestID()
	h := x.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	if x.proto == protoOpenAI {
		h.Set("openai-processing-ms", strconv.FormatInt(time.Since(x.start).Milliseconds(), 10))
	}
	x.status(status)
	x.w.WriteHeader(status)
	_, _ = x.w.Write(data)
}

// answer sends a non-streamed result carrying usage t: it first waits as
// long as streaming chunks would take, and with x-sim-cut-after it sends the
// headers and half the body, then aborts the connection.
func (x *exchange) answer(chunks int64, t allot.Tokens, v any) {
	if d := x.chunkDelay(); d > 0 && !x.wait(time.Duration(chunks)*d) {
		x.rec.cancelled()
		return
	}
	if x.r.Context().Err() != nil {
		x.rec.cancelled()
		return
	}
	if x.ctl.cutAfter >= 0 {
		data, _ := json.Marshal(v)
		x.setRequestID()
		x.w.Header().Set("Content-Type", "application/json")
		x.w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		x.status(http.StatusOK)
		x.w.WriteHeader(http.StatusOK)
		_, _ = x.w.Write(data[:len(data)/2])
		_ = http.NewResponseController(x.w).Flush()
		x.rec.update(func(c *Call) { c.Cut = true })
		panic(http.ErrAbortHandler)
	}
	x.rec.report(t)
	x.writeJSON(http.StatusOK, v)
}
