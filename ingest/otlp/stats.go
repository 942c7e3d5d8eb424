package otlp

import (
	"sync"
	"sync/atomic"
)

// Stats counts what the receiver has seen since it started, for /metrics
// and for finding out why some telemetry does not show up in reports.
type Stats struct {
	Requests          int64 // export requests accepted
	MalformedRequests int64 // export requests refused as undecodable (400)
	MetricPoints      int64 // metric data points received
	LogRecords        int64 // log records received
	Spans             int64 // spans received
	Events            int64 // usage events recorded
	Rejected          int64 // points, records or spans of usage refused as malformed (reported as partial success)
	Superseded        int64 // metric points not counted because their session sent per-request events
	Held              int64 // metric events waiting for MetricsHold now
	// Ignored counts points, records and spans that carry no usage allot
	// reads, by metric or event name (unknown metrics, session counts,
	// lines of code, SSE events without usage …).
	Ignored map[string]int64
}

// maxIgnoredNames bounds Stats.Ignored; further names count under "(other)".
const maxIgnoredNames = 500

type statsCounter struct {
	requests, malformedRequests    atomic.Int64
	points, records, spans, events atomic.Int64
	rejected, superseded           atomic.Int64
	mu                             sync.Mutex
	ignored                        map[string]int64
}

func (s *statsCounter) ignore(name string, n int64) {
	if n == 0 {
		return
	}
	if name == "" {
		name = "(unnamed)"
	}
	s.mu.Lock()
	if s.ignored == nil {
		s.ignored = map[string]int64{}
	}
	if _, ok := s.ignored[name]; !ok && len(s.ignored) >= maxIgnoredNames {
		name = "(other)"
	}
	s.ignored[name] += n
	s.mu.Unlock()
}

// Stats returns a snapshot of the receiver's counters.
func (r *Receiver) Stats() Stats {
	st := r.state()
	s := &st.stats
	out := Stats{
		Requests: s.requests.Load(), MalformedRequests: s.malformedRequests.Load(),
		MetricPoints: s.points.Load(), LogRecords: s.records.Load(), Spans: s.spans.Load(),
		Events: s.events.Load(), Rejected: s.rejected.Load(), Superseded: s.superseded.Load(),
		Held:    int64(st.pref.heldCount()),
		Ignored: map[string]int64{},
	}
	s.mu.Lock()
	for k, v := range s.ignored {
		out.Ignored[k] = v
	}
	s.mu.Unlock()
	return out
}
