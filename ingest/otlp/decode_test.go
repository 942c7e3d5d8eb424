package otlp

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// roots are empty messages of the three signals.
func roots() []proto.Message {
	return []proto.Message{&metricspb.MetricsData{}, &logspb.LogsData{}, &tracepb.TracesData{}}
}

// accepts decodes body as OTLP/JSON of m's type, failing the test on a
// panic, and returns the message or nil if body was refused.
func accepts(t *testing.T, body []byte, m proto.Message) proto.Message {
	t.Helper()
	got := m.ProtoReflect().New().Interface()
	if err := decode(body, encJSON, got); err != nil {
		return nil
	}
	return got
}

// abbreviate shortens a long body for a failure message.
func abbreviate(b []byte) []byte {
	if len(b) > 600 {
		return append(append(b[:300:300], "…"...), b[len(b)-300:]...)
	}
	return b
}

// jsonPoint, jsonAttr and jsonRecord wrap fields in a metrics or logs payload.
func jsonPoint(fields string) string {
	return `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","sum":{"dataPoints":[{` + fields + `}]}}]}]}]}`
}

func jsonAttr(value string) string {
	return jsonPoint(`"attributes":[{"key":"k","value":` + value + `}]`)
}

func jsonRecord(fields string) string {
	return `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{` + fields + `}]}]}]}`
}

// jsonCases are the OTLP/JSON variants exporters send, and hostile or
// broken input, with whether the receiver accepts them.
var jsonCases = []struct {
	body string
	ok   bool
}{
	// Integers as numbers or strings, in any form that is whole and fits.
	{jsonPoint(`"timeUnixNano":"1793700000000000000"`), true},
	{jsonPoint(`"timeUnixNano":1793700000000000000`), true},
	{jsonPoint(`"timeUnixNano":1.7937e18`), true},
	{jsonPoint(`"timeUnixNano":"1.7937e18"`), true},
	{jsonPoint(`"timeUnixNano":"18446744073709551615"`), true},
	{jsonPoint(`"timeUnixNano":"18446744073709551616"`), false},
	{jsonPoint(`"timeUnixNano":-1`), false},
	{jsonPoint(`"timeUnixNano":1.5`), false},
	{jsonPoint(`"timeUnixNano":" 1"`), false},
	{jsonPoint(`"timeUnixNano":"0x10"`), false},
	{jsonPoint(`"timeUnixNano":01`), false},
	{jsonPoint(`"timeUnixNano":1e99999999999`), false},
	{jsonPoint(`"timeUnixNano":true`), false},
	{jsonPoint(`"asInt":"-9223372036854775808"`), true},
	{jsonPoint(`"asInt":-9223372036854775809`), false},
	{jsonPoint(`"asInt":9999999999999999999`), false},
	{jsonPoint(`"flags":4294967295`), true},
	{jsonPoint(`"flags":4294967296`), false},
	// Floats, also as strings and the names of the special values.
	{jsonPoint(`"asDouble":1.5e3`), true},
	{jsonPoint(`"asDouble":"1.5"`), true},
	{jsonPoint(`"asDouble":"NaN"`), true},
	{jsonPoint(`"asDouble":"-Infinity"`), true},
	{jsonPoint(`"asDouble":"infinity"`), false},
	{jsonPoint(`"asDouble":1e400`), false},
	{jsonPoint(`"asDouble":.5`), false},
	// A oneof set twice, a field named twice (by either name), null.
	{jsonPoint(`"asDouble":1,"asInt":"2"`), false},
	{jsonPoint(`"asDouble":null,"asInt":"2"`), true},
	{jsonPoint(`"asInt":1,"as_int":1`), false},
	{jsonPoint(`"as_int":"7","start_time_unix_nano":"1"`), true},
	{jsonPoint(`"attributes":null`), true},
	{jsonPoint(`"attributes":[null]`), false},
	{jsonPoint(`"exemplars":[{"asInt":1,"spanId":"AAECAwQFBgc=","traceId":"AAECAwQFBgcICQoLDA0ODw"}]`), true},
	{jsonPoint(`"exemplars":[{"spanId":"AAECA"}]`), false},
	// Attribute values.
	{jsonAttr(`{"stringValue":"é\u00e9\ud83d\ude00\/\b\f\n\r\t\"\\"}`), true},
	{jsonAttr(`{"stringValue":"\ud83d"}`), false},
	{jsonAttr("{\"stringValue\":\"\x01\"}"), false},
	{jsonAttr("{\"stringValue\":\"\xff\"}"), false},
	{jsonAttr(`{}`), true},
	{jsonAttr(`{"boolValue":true}`), true},
	{jsonAttr(`{"boolValue":"true"}`), false},
	{jsonAttr(`{"intValue":"42","doubleValue":1}`), false},
	{jsonAttr(`{"arrayValue":{"values":[{"intValue":1},{"kvlistValue":{"values":[{"key":"a","value":{}}]}}]}}`), true},
	{jsonAttr(`{"kvlist_value":{"values":[]}}`), true},
	{jsonAttr(`{"stringValueStrindex":3}`), true},
	{`{"resourceMetrics":[{"resource":{"attributes":[{"keyStrindex":2}],"entityRefs":[{"type":"host","idKeys":["host.id"],"descriptionKeys":null}]}}]}`, true},
	// Fields this version of OTLP does not know, at any level and of any
	// shape, are ignored: a newer exporter talks to an older receiver.
	{jsonAttr(`{"intValue":"42","unknown":{"a":[1,{"b":null}],"c":1e+}}`), true},
	{`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","futureData":{"points":[1,2]},"sum":{"futureFlag":true}}]}]}],"future":1}`, true},
	{`{"[no.such.ext]":{}}`, true},
	// Enums as numbers or names; unknown names and numbers are kept as unset or as numbers.
	{`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_DELTA","isMonotonic":true}}]}]}]}`, true},
	{`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"aggregationTemporality":1}}]}]}]}`, true},
	{`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"aggregationTemporality":"DELTA"}}]}]}]}`, true},
	{`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"aggregationTemporality":99}}]}]}]}`, true},
	{`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"aggregationTemporality":2147483648}}]}]}]}`, false},
	{`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{},"gauge":{}}]}]}]}`, false},
	{`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"histogram":{"dataPoints":[{"sum":0,"min":-1,"max":"2","bucketCounts":["1",2],"explicitBounds":[1.5,"NaN"]}]}}]}]}]}`, true},
	{`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"exponentialHistogram":{"dataPoints":[{"scale":-3,"positive":{"offset":-2,"bucketCounts":[1]},"negative":{},"zeroThreshold":1e-9}]}}]}]}]}`, true},
	{`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"summary":{"dataPoints":[{"quantileValues":[{"quantile":0.5,"value":3}]}]}}]}]}]}`, true},
	{`{"resource_metrics":[{"scope_metrics":[{"scope":{"name":"s","dropped_attributes_count":1},"schema_url":"u"}]}]}`, true},
	// Log records: hex ids (see TestJSONHexIDs), severity as name or number.
	{jsonRecord(`"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","severityNumber":"SEVERITY_NUMBER_INFO"`), true},
	{jsonRecord(`"traceId":"5b8efff798038103d269b633813fc60","severityNumber":9`), true},
	{jsonRecord(`"traceId":"5b8e!","severityNumber":9`), false},
	{jsonRecord(`"body":null,"dropped_attributes_count":"3","severity_text":"INFO"`), true},
	// Spans.
	{`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","parentSpanId":"","kind":"SPAN_KIND_CLIENT","status":{"code":"STATUS_CODE_ERROR","message":"x"},"events":[{"name":"e"}],"links":[{"traceState":"t","flags":1}]}]}]}]}`, true},
	{`{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":1.0,"status":{"code":2}}]}]}]}`, true},
	// Syntax.
	{``, false},
	{` {} `, true},
	{`{}{}`, false},
	{`[]`, false},
	{`null`, false},
	{`{"resourceMetrics":[],}`, false},
	{`{"resourceMetrics":[{}{}]}`, false},
	{`{"x":{1:2}}`, false},
	{`{"resourceMetrics":"x"}`, false},
	{"\ufeff{}", false},
	{`{"resource\u004detrics":[{}],"resourceMetrics":[]}`, false},
	// Nesting past protojson's recursion limit is refused, not a stack overflow.
	{strings.Repeat(`{"arrayValue":{"values":[`, 6000), false},
	{jsonAttr(strings.Repeat(`{"arrayValue":{"values":[`, 20000) + strings.Repeat(`]}}`, 20000)), false},
}

// TestJSONDecodeCases: the receiver accepts the OTLP/JSON exporters send
// and refuses what is not OTLP/JSON, read as any signal, without a panic.
func TestJSONDecodeCases(t *testing.T) {
	t.Parallel()
	for _, tc := range jsonCases {
		body := []byte(tc.body)
		var own proto.Message = &metricspb.MetricsData{}
		switch {
		case strings.Contains(tc.body, "resourceLogs"):
			own = &logspb.LogsData{}
		case strings.Contains(tc.body, "resourceSpans"):
			own = &tracepb.TracesData{}
		}
		for _, m := range roots() {
			accepts(t, body, m)
		}
		if ok := accepts(t, body, own) != nil; ok != tc.ok {
			t.Errorf("%s: accepted %v, want %v", abbreviate(body), ok, tc.ok)
		}
	}
}

// TestJSONHexIDs: OTLP/JSON's trace and span ids are hex, in log
// records, spans, span links and exemplars; decode returns them as the
// bytes they name. Ids sent as base64 (protojson's mapping,
// which some senders use) and ids of other lengths are kept as sent.
func TestJSONHexIDs(t *testing.T) {
	t.Parallel()
	trace := []byte{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c}
	span := []byte{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74}
	const traceHex, spanHex = `"5b8efff798038103d269b633813fc60c"`, `"eee19b7ec3c1b174"`
	const traceB64, spanB64 = `"W47/95gDgQPSabYzgT/GDA=="`, `"7uGbfsPBsXQ="`
	for _, tc := range []struct {
		name                string
		trace, span, parent string
		wantTrace, wantSpan []byte
		wantParent          []byte
	}{
		{"hex", traceHex, spanHex, spanHex, trace, span, span},
		{"base64", traceB64, spanB64, spanB64, trace, span, span},
		{"upper-case hex", `"5B8EFFF798038103D269B633813FC60C"`, `"EEE19B7EC3C1B174"`, `""`, trace, span, nil},
		{"short hex kept as base64", `"5b8efff7"`, `"eee1"`, `"eee1"`, []byte{0xe5, 0xbf, 0x1e, 0x7d, 0xf7, 0xfb}, []byte{0x79, 0xe7, 0xb5}, []byte{0x79, 0xe7, 0xb5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := accepts(t, []byte(jsonRecord(`"traceId":`+tc.trace+`,"spanId":`+tc.span)), &logspb.LogsData{})
			if logs == nil {
				t.Fatal("log record refused")
			}
			lr := logs.(*logspb.LogsData).ResourceLogs[0].ScopeLogs[0].LogRecords[0]
			if !bytes.Equal(lr.TraceId, tc.wantTrace) || !bytes.Equal(lr.SpanId, tc.wantSpan) {
				t.Errorf("log record ids %x %x, want %x %x", lr.TraceId, lr.SpanId, tc.wantTrace, tc.wantSpan)
			}
			spans := accepts(t, []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":`+tc.trace+`,"spanId":`+tc.span+`,"parentSpanId":`+tc.parent+`,"links":[{"traceId":`+tc.trace+`,"spanId":`+tc.span+`}]}]}]}]}`), &tracepb.TracesData{})
			if spans == nil {
				t.Fatal("span refused")
			}
			s := spans.(*tracepb.TracesData).ResourceSpans[0].ScopeSpans[0].Spans[0]
			if !bytes.Equal(s.TraceId, tc.wantTrace) || !bytes.Equal(s.SpanId, tc.wantSpan) || !bytes.Equal(s.ParentSpanId, tc.wantParent) {
				t.Errorf("span ids %x %x %x, want %x %x %x", s.TraceId, s.SpanId, s.ParentSpanId, tc.wantTrace, tc.wantSpan, tc.wantParent)
			}
			if l := s.Links[0]; !bytes.Equal(l.TraceId, tc.wantTrace) || !bytes.Equal(l.SpanId, tc.wantSpan) {
				t.Errorf("link ids %x %x, want %x %x", l.TraceId, l.SpanId, tc.wantTrace, tc.wantSpan)
			}
			metrics := accepts(t, []byte(jsonPoint(`"exemplars":[{"asInt":1,"traceId":`+tc.trace+`,"spanId":`+tc.span+`}]`)), &metricspb.MetricsData{})
			if metrics == nil {
				t.Fatal("exemplar refused")
			}
			e := metrics.(*metricspb.MetricsData).ResourceMetrics[0].ScopeMetrics[0].Metrics[0].GetSum().DataPoints[0].Exemplars[0]
			if !bytes.Equal(e.TraceId, tc.wantTrace) || !bytes.Equal(e.SpanId, tc.wantSpan) {
				t.Errorf("exemplar ids %x %x, want %x %x", e.TraceId, e.SpanId, tc.wantTrace, tc.wantSpan)
			}
		})
	}
}

// TestJSONDecodeRandom: random messages of every signal, with every field
// set somewhere, written by protojson in each of its styles, decode to the
// same message, also with integers unquoted as some exporters send them;
// altered the ways exporters and corruption alter them, they decode or are
// refused without a panic.
func TestJSONDecodeRandom(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(1, 2))
	iterations := 100
	if testing.Short() {
		iterations = 20
	}
	// Timestamps and integer values, which protojson quotes.
	quoted := regexp.MustCompile(`((?:UnixNano|unix_nano|intValue|int_value|asInt|as_int)"\s*:\s*)"(-?[0-9]+)"`)
	for range iterations {
		for _, root := range roots() {
			m := root.ProtoReflect().New()
			fillMessage(rnd, m, 6)
			opts := protojson.MarshalOptions{
				UseProtoNames: rnd.IntN(2) == 0, UseEnumNumbers: rnd.IntN(2) == 0,
				EmitUnpopulated: rnd.IntN(3) == 0, Multiline: rnd.IntN(3) == 0,
			}
			body, err := opts.Marshal(m.Interface())
			if err != nil {
				t.Fatal(err)
			}
			unquoted := quoted.ReplaceAll(body, []byte("$1$2"))
			for _, b := range [][]byte{body, unquoted} {
				got := accepts(t, b, root)
				if got == nil || !proto.Equal(got, m.Interface()) {
					t.Fatalf("round trip of %s:\n got %v\nwant %v", abbreviate(b), got, m.Interface())
				}
			}
			for range 4 {
				accepts(t, mutate(rnd, body), root)
			}
		}
	}
}

// mutate makes a small random change to a JSON text.
func mutate(rnd *rand.Rand, b []byte) []byte {
	out := bytes.Clone(b)
	for range 1 + rnd.IntN(3) {
		if len(out) == 0 {
			return out
		}
		at := rnd.IntN(len(out))
		tokens := []string{"null", "1e", "-", "0", "1.5", "\"", "\\", "\\u00e9", "\\ud800", "\xff", ",", ":", "{", "}", "[", "]", " ", "true", "\"x\":1,", "\"NaN\"", "9999999999999999999999"}
		switch rnd.IntN(4) {
		case 0: // delete a few bytes
			end := min(len(out), at+1+rnd.IntN(4))
			out = append(out[:at], out[end:]...)
		case 1: // insert a token
			tok := tokens[rnd.IntN(len(tokens))]
			out = append(out[:at], append([]byte(tok), out[at:]...)...)
		case 2: // replace a byte
			const alphabet = "0123456789-+.eE\"{}[],:nulltrfa \\"
			out[at] = alphabet[rnd.IntN(len(alphabet))]
		case 3: // repeat a field (or whatever stands there)
			if i := bytes.IndexByte(out[at:], ','); i >= 0 {
				j := bytes.IndexByte(out[at+i+1:], ',')
				if j > 0 {
					seg := out[at+i : at+i+1+j]
					out = append(out[:at+i], append(bytes.Clone(seg), out[at+i:]...)...)
				}
			}
		}
	}
	return out
}

// fillMessage sets every field of m to random values (one member of each
// oneof), nesting messages depth levels deep.
func fillMessage(rnd *rand.Rand, m protoreflect.Message, depth int) {
	fds := m.Descriptor().Fields()
	chosen := map[protoreflect.FullName]protoreflect.Name{}
	for i := range fds.Len() {
		fd := fds.Get(i)
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			if _, ok := chosen[od.FullName()]; !ok {
				chosen[od.FullName()] = od.Fields().Get(rnd.IntN(od.Fields().Len())).Name()
			}
			if chosen[od.FullName()] != fd.Name() {
				continue
			}
		}
		if rnd.IntN(5) == 0 {
			continue
		}
		switch {
		case fd.IsList():
			list := m.Mutable(fd).List()
			for range rnd.IntN(3) {
				if fd.Message() != nil {
					if depth > 0 {
						e := list.NewElement()
						fillMessage(rnd, e.Message(), depth-1)
						list.Append(e)
					}
					continue
				}
				list.Append(randomScalar(rnd, fd))
			}
		case fd.Message() != nil:
			if depth > 0 {
				fillMessage(rnd, m.Mutable(fd).Message(), depth-1)
			}
		default:
			m.Set(fd, randomScalar(rnd, fd))
		}
	}
}

func randomScalar(rnd *rand.Rand, fd protoreflect.FieldDescriptor) protoreflect.Value {
	ints := []int64{0, 1, -1, 42, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64, 1793700000000000000}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(rnd.IntN(2) == 0)
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		if rnd.IntN(5) == 0 {
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(rnd.Int32N(100)))
		}
		return protoreflect.ValueOfEnum(vals.Get(rnd.IntN(vals.Len())).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(ints[rnd.IntN(len(ints))]))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if rnd.IntN(2) == 0 {
			return protoreflect.ValueOfInt64(rnd.Int64() - rnd.Int64())
		}
		return protoreflect.ValueOfInt64(ints[rnd.IntN(len(ints))])
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(ints[rnd.IntN(len(ints))]))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if rnd.IntN(2) == 0 {
			return protoreflect.ValueOfUint64(rnd.Uint64())
		}
		return protoreflect.ValueOfUint64(uint64(ints[rnd.IntN(len(ints))]))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(rnd.NormFloat64()))
	case protoreflect.DoubleKind:
		floats := []float64{0, math.Copysign(0, -1), 1.5, 1e300, 5e-324, math.NaN(), math.Inf(1), math.Inf(-1), 100, rnd.NormFloat64() * 1e6}
		return protoreflect.ValueOfFloat64(floats[rnd.IntN(len(floats))])
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(randomText(rnd))
	case protoreflect.BytesKind:
		b := make([]byte, []int{0, 8, 16, 5}[rnd.IntN(4)])
		for i := range b {
			b[i] = byte(rnd.IntN(256))
		}
		return protoreflect.ValueOfBytes(b)
	}
	panic(fmt.Sprintf("kind %v", fd.Kind()))
}

func randomText(rnd *rand.Rand) string {
	parts := []string{"session.id", "claude_code.api_request", "é", "😀", "\"", "\\", "\n", "\x00", "\x7f", "\u2028", "</script>", "1234", "-1e5", "NaN", " ", "\ufffd"}
	var b strings.Builder
	for range rnd.IntN(4) {
		b.WriteString(parts[rnd.IntN(len(parts))])
	}
	if !utf8.ValidString(b.String()) {
		panic("invalid text")
	}
	return b.String()
}
