package otlp

import (
	"encoding/base64"
	"encoding/hex"

	"google.golang.org/protobuf/reflect/protoreflect"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// OTLP/JSON writes the bytes fields trace_id, span_id and parent_span_id
// as hex wherever they occur (log records, spans, span links, exemplars),
// where protobuf's JSON mapping has base64. protojson reads them as
// base64; fixIDs then recovers the bytes the hex named.

// idSize is the size of each id field, by name.
var idSize = map[protoreflect.Name]int{"trace_id": 16, "span_id": 8, "parent_span_id": 8}

// idPlan is where a message type holds ids: its own id fields, and its
// message fields whose types hold some, directly or further down.
type idPlan struct {
	ids      []protoreflect.FieldDescriptor
	children []protoreflect.FieldDescriptor
}

// idPlans are the plans of the three signals' messages that hold ids,
// made from the descriptors: a field a newer OTLP adds is covered by its
// name. Types that hold none (attributes, values) have no plan and are
// not walked.
var idPlans = func() map[protoreflect.FullName]*idPlan {
	plans := map[protoreflect.FullName]*idPlan{}
	for _, m := range []protoreflect.ProtoMessage{&metricspb.MetricsData{}, &logspb.LogsData{}, &tracepb.TracesData{}} {
		planIDs(m.ProtoReflect().Descriptor(), plans, map[protoreflect.FullName]bool{})
	}
	return plans
}()

// planIDs adds md's plan to plans if md holds ids, and reports whether it
// does. visiting breaks cycles (AnyValue holds itself; it holds no ids).
func planIDs(md protoreflect.MessageDescriptor, plans map[protoreflect.FullName]*idPlan, visiting map[protoreflect.FullName]bool) bool {
	if _, ok := plans[md.FullName()]; ok {
		return true
	}
	if visiting[md.FullName()] {
		return false
	}
	visiting[md.FullName()] = true
	p := &idPlan{}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		switch {
		case fd.Kind() == protoreflect.BytesKind && !fd.IsList() && idSize[fd.Name()] > 0:
			p.ids = append(p.ids, fd)
		case fd.Message() != nil && !fd.IsMap() && planIDs(fd.Message(), plans, visiting):
			p.children = append(p.children, fd)
		}
	}
	if len(p.ids) == 0 && len(p.children) == 0 {
		return false
	}
	plans[md.FullName()] = p
	return true
}

// fixIDs recovers the hex ids of a decoded OTLP/JSON message.
func fixIDs(m protoreflect.Message) {
	p := idPlans[m.Descriptor().FullName()]
	if p == nil {
		return
	}
	for _, fd := range p.ids {
		if b := m.Get(fd).Bytes(); len(b) > 0 {
			m.Set(fd, protoreflect.ValueOfBytes(jsonID(b, idSize[fd.Name()])))
		}
	}
	for _, fd := range p.children {
		if !m.Has(fd) {
			continue
		}
		if !fd.IsList() {
			fixIDs(m.Get(fd).Message())
			continue
		}
		list := m.Get(fd).List()
		for i := range list.Len() {
			fixIDs(list.Get(i).Message())
		}
	}
}

// jsonID recovers an id that OTLP/JSON sent as hex, which protojson's
// mapping reads as base64: 32 hex characters decode to 24 bytes, 16 to 12,
// and encoding those bytes again gives back the hex text exactly. An id
// already of the right length (a sender that used base64) is left alone,
// as is one that does not come from hex of the right length.
func jsonID(b []byte, size int) []byte {
	if len(b) == 0 || len(b) == size {
		return b
	}
	text := base64.StdEncoding.EncodeToString(b)
	if len(text) != 2*size {
		return b
	}
	out, err := hex.DecodeString(text)
	if err != nil {
		return b
	}
	return out
}
