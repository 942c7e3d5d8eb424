package otlp

import (
	"bytes"
	"encoding/json"

	"google.golang.org/protobuf/encoding/protowire"
)

// sniff tells which signal a payload holds, for exporters that post every
// signal to the one URL they were given (Gemini CLI before early 2026 did).
// ok is false when the payload does not say clearly; the path decides then.
func sniff(body []byte, enc encoding) (signal, bool) {
	if enc == encJSON {
		return sniffJSON(body)
	}
	return sniffProto(body)
}

// sniffJSON reads the first key of the top-level object.
func sniffJSON(body []byte) (signal, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return 0, false
	}
	t, err := dec.Token()
	if err != nil {
		return 0, false
	}
	switch t {
	case "resourceMetrics", "resource_metrics":
		return sigMetrics, true
	case "resourceLogs", "resource_logs":
		return sigLogs, true
	case "resourceSpans", "resource_spans":
		return sigTraces, true
	}
	return 0, false
}

// sniffProto looks at the first item (metric, log record or span) of the
// first resource and scope: the three messages share the outer layout but
// not the wire types of their fields.
func sniffProto(body []byte) (signal, bool) {
	item := firstMessage(firstMessage(firstMessage(body, 1), 2), 2)
	if item == nil {
		return 0, false
	}
	nameFirst := false // field 1 is bytes: a metric's name or a span's trace id, never a log record's time
	for len(item) > 0 {
		num, typ, n := protowire.ConsumeTag(item)
		if n < 0 {
			return 0, false
		}
		item = item[n:]
		switch {
		case num == 7 && typ == protowire.BytesType: // Metric.sum
			return sigMetrics, true
		case num == 1 && typ == protowire.BytesType:
			nameFirst = true
		case (num == 9 || num == 10 || num == 11) && typ == protowire.BytesType && nameFirst:
			// A histogram, exponential histogram or summary: a span would
			// have shown its times (fields 7, 8) by now.
			return sigMetrics, true
		case (num == 1 || num == 11) && typ == protowire.Fixed64Type, // LogRecord times
			num == 2 && typ == protowire.VarintType,  // LogRecord.severity_number
			num == 7 && typ == protowire.VarintType,  // LogRecord.dropped_attributes_count
			num == 8 && typ == protowire.Fixed32Type, // LogRecord.flags
			num == 12 && typ == protowire.BytesType:  // LogRecord.event_name
			return sigLogs, true
		case (num == 7 || num == 8) && typ == protowire.Fixed64Type, // Span times
			num == 6 && typ == protowire.VarintType: // Span.kind
			return sigTraces, true
		}
		m := protowire.ConsumeFieldValue(num, typ, item)
		if m < 0 {
			return 0, false
		}
		item = item[m:]
	}
	return 0, false
}

// firstMessage returns the first field num of b that is length-delimited.
func firstMessage(b []byte, num protowire.Number) []byte {
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return nil
		}
		b = b[l:]
		if n == num && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return nil
			}
			return v
		}
		m := protowire.ConsumeFieldValue(n, typ, b)
		if m < 0 {
			return nil
		}
		b = b[m:]
	}
	return nil
}
