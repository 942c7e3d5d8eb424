package otlp

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
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

// protojsonDecode is the decoder unmarshalJSON replaces: the oracle.
func protojsonDecode(body []byte, m proto.Message) error {
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(body, m)
}

// roots are empty messages of the three signals.
func roots() []proto.Message {
	return []proto.Message{&metricspb.MetricsData{}, &logspb.LogsData{}, &tracepb.TracesData{}}
}

// sameDecoding checks that unmarshalJSON and protojson agree on body read
// as m's type: both refuse it, or both give equal messages with the same
// wire bytes (which also tells -0 from 0 and an empty message from none).
// It returns whether body was accepted.
func sameDecoding(t *testing.T, body []byte, m proto.Message) bool {
	t.Helper()
	got, want := m.ProtoReflect().New().Interface(), m.ProtoReflect().New().Interface()
	gotErr, wantErr := unmarshalJSON(body, got), protojsonDecode(body, want)
	switch {
	case (gotErr == nil) != (wantErr == nil):
		t.Fatalf("%T from %q:\nunmarshalJSON: %v\nprotojson:     %v", m, abbreviate(body), gotErr, wantErr)
	case gotErr != nil:
		return false
	}
	gb, err1 := proto.MarshalOptions{Deterministic: true}.Marshal(got)
	wb, err2 := proto.MarshalOptions{Deterministic: true}.Marshal(want)
	if err1 != nil || err2 != nil {
		t.Fatalf("marshal: %v, %v", err1, err2)
	}
	if !proto.Equal(got, want) || !bytes.Equal(gb, wb) {
		t.Fatalf("%T from %q:\nunmarshalJSON: %v\nprotojson:     %v", m, abbreviate(body), got, want)
	}
	return true
}

func abbreviate(b []byte) []byte {
	if len(b) > 600 {
		return append(append(b[:300:300], "…"...), b[len(b)-300:]...)
	}
	return b
}

// TestJSONDecodeFixtures: every recorded payload decodes as protojson
// decodes it, read as its own signal and as the other two.
func TestJSONDecodeFixtures(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, name := range files {
		body, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range roots() {
			sameDecoding(t, body, m)
		}
		own := message(filepath.Base(name))
		if !sameDecoding(t, body, own) {
			t.Errorf("%s refused", name)
		}
	}
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

// jsonCases are the OTLP/JSON variants exporters send and the corners of
// protojson's grammar, and whether protojson accepts them.
var jsonCases = []struct {
	body string
	ok   bool
}{
	// Integers as numbers or strings, in any form that is whole.
	{jsonPoint(`"timeUnixNano":"1793700000000000000"`), true},
	{jsonPoint(`"timeUnixNano":1793700000000000000`), true},
	{jsonPoint(`"timeUnixNano":1.7937e18`), true},
	{jsonPoint(`"timeUnixNano":"1.7937e18"`), true},
	{jsonPoint(`"timeUnixNano":"18446744073709551615"`), true},
	{jsonPoint(`"timeUnixNano":"18446744073709551616"`), false},
	{jsonPoint(`"timeUnixNano":-0`), true},
	{jsonPoint(`"timeUnixNano":-1`), false},
	{jsonPoint(`"timeUnixNano":1.5`), false},
	{jsonPoint(`"timeUnixNano":" 1"`), false},
	{jsonPoint(`"timeUnixNano":"0x10"`), false},
	{jsonPoint(`"timeUnixNano":01`), false},
	{jsonPoint(`"timeUnixNano":1e`), true}, // protojson's tokenizer takes "1e" as 1
	{jsonPoint(`"timeUnixNano":"1e"`), false},
	{jsonPoint(`"timeUnixNano":0e99999999999`), true},
	{jsonPoint(`"timeUnixNano":1e99999999999`), false},
	{jsonPoint(`"timeUnixNano":10e-1`), true},
	{jsonPoint(`"timeUnixNano":100000000000000000000e-2`), true},
	{jsonPoint(`"timeUnixNano":100000000000000000000e0`), false},
	{jsonPoint(`"timeUnixNano":true`), false},
	{jsonPoint(`"timeUnixNano":"\u0031"`), true},
	{jsonPoint(`"asInt":"-9223372036854775808"`), true},
	{jsonPoint(`"asInt":-9223372036854775809`), false},
	{jsonPoint(`"asInt":"9223372036854775807"`), true},
	{jsonPoint(`"asInt":999999999999999999`), true},
	{jsonPoint(`"asInt":9999999999999999999`), false},
	{jsonPoint(`"flags":4294967295`), true},
	{jsonPoint(`"flags":4294967296`), false},
	{jsonPoint(`"flags":"1"`), true},
	// Floats, also as strings and the names of the special values.
	{jsonPoint(`"asDouble":1.5e3`), true},
	{jsonPoint(`"asDouble":"1.5"`), true},
	{jsonPoint(`"asDouble":"NaN"`), true},
	{jsonPoint(`"asDouble":"-Infinity"`), true},
	{jsonPoint(`"asDouble":"Infinity"`), true},
	{jsonPoint(`"asDouble":"infinity"`), false},
	{jsonPoint(`"asDouble":-0`), true},
	{jsonPoint(`"asDouble":1e400`), false},
	{jsonPoint(`"asDouble":1e-400`), true},
	{jsonPoint(`"asDouble":1e`), false},
	{jsonPoint(`"asDouble":.5`), false},
	{jsonPoint(`"asDouble":1.`), false},
	// A oneof set twice, a field named twice, null.
	{jsonPoint(`"asDouble":1,"asInt":"2"`), false},
	{jsonPoint(`"asDouble":null,"asInt":"2"`), true},
	{jsonPoint(`"asInt":1,"as_int":1`), false},
	{jsonPoint(`"asInt":null,"as_int":1`), false},
	{jsonPoint(`"as_int":"7","start_time_unix_nano":"1"`), true},
	{jsonPoint(`"attributes":null`), true},
	{jsonPoint(`"attributes":[null]`), false},
	{jsonPoint(`"exemplars":[{"asInt":1,"spanId":"AAECAwQFBgc=","traceId":"AAECAwQFBgcICQoLDA0ODw"}]`), true},
	{jsonPoint(`"exemplars":[{"spanId":"AAECAwQFBgc"}]`), true},
	{jsonPoint(`"exemplars":[{"spanId":"-_-_"}]`), true},
	{jsonPoint(`"exemplars":[{"spanId":"AAF="}]`), true},
	{jsonPoint(`"exemplars":[{"spanId":"A==="}]`), false},
	{jsonPoint(`"exemplars":[{"spanId":"AAECA"}]`), false},
	{jsonPoint(`"exemplars":[{"spanId":"AA\nEC"}]`), true},
	// Attribute values.
	{jsonAttr(`{"stringValue":"é\u00e9\ud83d\ude00\/\b\f\n\r\t\"\\"}`), true},
	{jsonAttr(`{"stringValue":"\ud83d"}`), false},
	{jsonAttr(`{"stringValue":"\ude00\ud83d"}`), false},
	{jsonAttr(`{"stringValue":"\u12"}`), false},
	{jsonAttr(`{"stringValue":"\x"}`), false},
	{jsonAttr("{\"stringValue\":\"\x01\"}"), false},
	{jsonAttr("{\"stringValue\":\"\xff\"}"), false},
	{jsonAttr("{\"stringValue\":\"\xed\xa0\x80\"}"), false},
	{jsonAttr("{\"stringValue\":\"\xef\xbf\xbd\"}"), true},
	{jsonAttr(`{"stringValue":""}`), true},
	{jsonAttr(`{}`), true},
	{jsonAttr(`{"boolValue":true}`), true},
	{jsonAttr(`{"boolValue":"true"}`), false},
	{jsonAttr(`{"boolValue":truex}`), false},
	{jsonAttr(`{"intValue":"42","doubleValue":1}`), false},
	{jsonAttr(`{"intValue":"42","unknown":{"a":[1,{"b":null}],"c":1e+}}`), true},
	{jsonAttr(`{"bytesValue":""}`), true},
	{jsonAttr(`{"arrayValue":{"values":[{"intValue":1},{"kvlistValue":{"values":[{"key":"a","value":{}}]}}]}}`), true},
	{jsonAttr(`{"arrayValue":{}}`), true},
	{jsonAttr(`{"kvlist_value":{"values":[]}}`), true},
	{jsonAttr(`{"stringValueStrindex":3}`), true},
	{`{"resourceMetrics":[{"resource":{"attributes":[{"keyStrindex":2}],"entityRefs":[{"type":"host","idKeys":["host.id"],"descriptionKeys":null}]}}]}`, true},
	// Enums as numbers or names; unknown names are ignored.
	{`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_DELTA","isMonotonic":true}}]}]}]}`, true},
	{`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"aggregationTemporality":1}}]}]}]}`, true},
	{`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"aggregationTemporality":"2"}}]}]}]}`, true},
	{`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"aggregationTemporality":"DELTA"}}]}]}]}`, true},
	{`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"aggregationTemporality":99}}]}]}]}`, true},
	{`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"aggregationTemporality":2147483648}}]}]}]}`, false},
	{`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{},"gauge":{}}]}]}]}`, false},
	{`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"histogram":{"dataPoints":[{"sum":0,"min":-1,"max":"2","bucketCounts":["1",2],"explicitBounds":[1.5,"NaN"]}]}}]}]}]}`, true},
	{`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"histogram":{"dataPoints":[{"bucketCounts":[null]}]}}]}]}]}`, false},
	{`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"exponentialHistogram":{"dataPoints":[{"scale":-3,"positive":{"offset":-2,"bucketCounts":[1]},"negative":{},"zeroThreshold":1e-9}]}}]}]}]}`, true},
	{`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"summary":{"dataPoints":[{"quantileValues":[{"quantile":0.5,"value":3}]}]}}]}]}]}`, true},
	{`{"resource_metrics":[{"scope_metrics":[{"scope":{"name":"s","dropped_attributes_count":1},"schema_url":"u"}]}]}`, true},
	// Log records: hex ids (read as base64, fixed later), severity.
	{jsonRecord(`"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","severityNumber":"SEVERITY_NUMBER_INFO"`), true},
	{jsonRecord(`"traceId":"5b8efff798038103d269b633813fc60","severityNumber":9`), true},
	{jsonRecord(`"traceId":"5b8e!","severityNumber":9`), false},
	{jsonRecord(`"body":{"stringValue":"claude_code.api_request"},"eventName":"e","flags":1,"observedTimeUnixNano":"5"`), true},
	{jsonRecord(`"body":null,"dropped_attributes_count":"3","severity_text":"INFO"`), true},
	// Spans.
	{`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","parentSpanId":"","kind":"SPAN_KIND_CLIENT","status":{"code":"STATUS_CODE_ERROR","message":"x"},"events":[{"name":"e"}],"links":[{"traceState":"t","flags":1}]}]}]}]}`, true},
	{`{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":1.0,"status":{"code":2}}]}]}]}`, true},
	// Syntax.
	{``, false},
	{` {} `, true},
	{`{}{}`, false},
	{`{},`, false},
	{`[]`, false},
	{`null`, false},
	{`{"resourceMetrics":[],}`, false},
	{`{,"resourceMetrics":[]}`, false},
	{`{"resourceMetrics":[,]}`, false},
	{`{"resourceMetrics":[{}{}]}`, false},
	{`{"resourceMetrics":[{},]}`, false},
	{`{"resourceMetrics" []}`, false},
	{`{"resourceMetrics":[{}] "x":1}`, false},
	{`{"x":1e+,"y":-}`, false},
	{`{"x":1e+}`, true},
	{`{"x":nul}`, false},
	{`{"x":[1 2]}`, false},
	{`{"x":{"a" 1}}`, false},
	{`{"x":{1:2}}`, false},
	{`{"x":"\u0000"}`, true},
	{`{"x":tru}`, false},
	{`{"[no.such.ext]":{}}`, true},
	{`{"resourceMetrics":"x"}`, false},
	{`{"resourceMetrics":{}}`, false},
	{"\ufeff{}", false},
	{"{\"resource\u004detrics\":[{}]}", true},
	{`{"resource\u004detrics":[{}],"resourceMetrics":[]}`, false},
	{strings.Repeat(`{"arrayValue":{"values":[`, 6000), false},
}

// TestJSONDecodeCases: jsonCases give what protojson gives.
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
			sameDecoding(t, body, m)
		}
		if ok := sameDecoding(t, body, own); ok != tc.ok {
			t.Errorf("%s: accepted %v, want %v", abbreviate(body), ok, tc.ok)
		}
	}
	// Whether protojson knows this extension depends on what the binary
	// links; the decoders agree either way.
	for _, m := range roots() {
		sameDecoding(t, []byte(`{"[pb.go]":1}`), m)
	}
}

// TestJSONDecodeDepth: nesting is limited exactly where protojson limits it.
func TestJSONDecodeDepth(t *testing.T) {
	t.Parallel()
	// An attribute value nested n arrays deep: 2n+5 messages before it.
	nested := func(n int) []byte {
		var b strings.Builder
		b.WriteString(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":`)
		b.WriteString(strings.Repeat(`{"arrayValue":{"values":[`, n))
		b.WriteString(`{"intValue":1,"x":[[[]]]}`)
		b.WriteString(strings.Repeat(`]}}`, n))
		b.WriteString(`}]}]}]}`)
		return []byte(b.String())
	}
	for _, n := range []int{4996, 4997, 4998} { // accepted; the skipped arrays too deep; the messages
		if ok := sameDecoding(t, nested(n), &logspb.LogsData{}); ok != (n <= 4996) {
			t.Errorf("%d levels: accepted %v", n, ok)
		}
	}
}

// TestJSONDecodeRandom: random messages of every signal, with every field
// set somewhere, written by protojson in each of its styles and then
// altered the ways exporters and corruption alter them, decode as
// protojson decodes them; the unaltered ones give back the message.
func TestJSONDecodeRandom(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(1, 2))
	iterations := 100
	if testing.Short() {
		iterations = 20
	}
	quoted := regexp.MustCompile(`"-?[0-9][0-9.eE+-]*"`)
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
			got := root.ProtoReflect().New().Interface()
			if err := unmarshalJSON(body, got); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			if !proto.Equal(got, m.Interface()) {
				t.Fatalf("round trip of %s:\n got %v\nwant %v", body, got, m.Interface())
			}
			sameDecoding(t, body, root)
			// Integers unquoted, as some exporters send them.
			sameDecoding(t, quoted.ReplaceAllFunc(body, func(q []byte) []byte {
				if rnd.IntN(2) == 0 {
					return q
				}
				return q[1 : len(q)-1]
			}), root)
			for range 4 {
				sameDecoding(t, mutate(rnd, body), root)
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
