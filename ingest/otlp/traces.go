package otlp

import (
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// traces reads a traces export: spans of generic applications that carry
// gen_ai.usage.* (one model call each).
func (b *batch) traces(td *tracepb.TracesData) {
	for _, rs := range td.GetResourceSpans() {
		res := rs.GetResource().GetAttributes()
		tool := toolOf(attrs{res: res}.str("service.name"))
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				b.st.stats.spans.Add(1)
				a := attrs{own: s.GetAttributes(), res: res}
				switch {
				case tool != nil:
					b.st.stats.ignore("span from "+tool.name+" (read from its own telemetry)", 1)
					continue
				case !hasGenAIUsage(a):
					b.st.stats.ignore("(span without gen_ai usage)", 1)
					continue
				case isAggregate(a.str("gen_ai.operation.name")):
					b.st.stats.ignore("gen_ai "+a.str("gen_ai.operation.name")+" span (sums its children)", 1)
					continue
				}
				start, end := s.GetStartTimeUnixNano(), s.GetEndTimeUnixNano()
				var latency int64
				if end > start && end-start < 1<<62 {
					latency = int64(end - start)
				}
				key := "otlp-span:" + string(fingerprint(append([]byte(s.GetName()), 0), s.GetAttributes()))
				at := b.eventTime(start)
				failed := s.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR
				b.genAI(a, s.GetTraceId(), s.GetSpanId(), at, time.Duration(latency), failed, "span", key)
			}
		}
	}
}
