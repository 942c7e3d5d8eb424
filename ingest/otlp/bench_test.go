package otlp

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/pricing"
)

type countRecorder struct{ n int }

func (c *countRecorder) Record(allot.Event) { c.n++ }

// claudeExport is one export of Claude Code's delta token metrics from
// sessions sessions of two models each: 8 points per session, with the
// standard attributes.
func claudeExport(sessions int) *metricspb.MetricsData {
	var pts []*metricspb.NumberDataPoint
	start, end := uint64(t0.UnixNano()), uint64(t0.Add(time.Minute).UnixNano())
	for s := range sessions {
		for _, model := range []string{"claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"} {
			for i, typ := range []string{"input", "output", "cacheRead", "cacheCreation"} {
				pts = append(pts, &metricspb.NumberDataPoint{
					Attributes: []*commonpb.KeyValue{
						str("user.id", "3f1c9a6e0b7d4c2a9e8f1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6"),
						str("session.id", fmt.Sprintf("5f1d7c2e-0000-4000-8000-%012d", s)), str("app.version", "2.0.14"),
						str("organization.id", "9c8b7a65-4321-4fed-cba9-876543210fed"), str("user.email", "bob@acme.test"),
						str("user.account_uuid", "0e1d2c3b-4a59-4687-9786-a5b4c3d2e1f0"), str("terminal.type", "vscode"),
						str("type", typ), str("model", model),
					},
					StartTimeUnixNano: start, TimeUnixNano: end,
					Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: float64(100 * (i + 1))},
				})
			}
		}
	}
	return &metricspb.MetricsData{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "claude-code"), str("service.version", "2.0.14")}},
		ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{{
			Name: "claude_code.token.usage", Unit: "tokens",
			Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
				AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA, IsMonotonic: true, DataPoints: pts,
			}},
		}}}},
	}}}
}

// claudeLogExport is one export of Claude Code's log events: n
// claude_code.api_request records with the attributes Claude Code sends,
// from n/10 sessions, each with its own request id.
func claudeLogExport(n int) *logspb.LogsData {
	recs := make([]*logspb.LogRecord, 0, n)
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Second)
		recs = append(recs, &logspb.LogRecord{
			TimeUnixNano: uint64(at.UnixNano()), ObservedTimeUnixNano: uint64(at.UnixNano()),
			Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "claude_code.api_request"}},
			Attributes: []*commonpb.KeyValue{
				str("user.id", "3f1c9a6e0b7d4c2a9e8f1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6"),
				str("session.id", fmt.Sprintf("5f1d7c2e-0000-4000-8000-%012d", i/10)), str("app.version", "2.0.14"),
				str("organization.id", "9c8b7a65-4321-4fed-cba9-876543210fed"), str("user.email", "bob@acme.test"),
				str("user.account_uuid", "0e1d2c3b-4a59-4687-9786-a5b4c3d2e1f0"), str("terminal.type", "vscode"),
				str("event.name", "api_request"), str("event.timestamp", at.Format(time.RFC3339Nano)),
				str("model", "claude-sonnet-4-5-20250929"), str("cost_usd", "0.0213"), str("duration_ms", "5231"),
				str("input_tokens", "12"), str("output_tokens", "850"), str("cache_read_tokens", "24000"),
				str("cache_creation_tokens", "1500"), str("request_id", fmt.Sprintf("req_011CUa1bXkz9%06d", i)),
			},
		})
	}
	return &logspb.LogsData{ResourceLogs: []*logspb.ResourceLogs{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
			str("service.name", "claude-code"), str("service.version", "2.0.14"), str("os.type", "darwin"), str("host.arch", "arm64"),
		}},
		ScopeLogs: []*logspb.ScopeLogs{{
			Scope:      &commonpb.InstrumentationScope{Name: "com.anthropic.claude_code.events", Version: "2.0.14"},
			LogRecords: recs,
		}},
	}}}
}

// benchForm is one way to send a payload.
type benchForm struct {
	name, contentType string
	body              []byte
	gzip              bool
}

// benchForms are m as protobuf and as JSON (also gzipped).
func benchForms(b *testing.B, m proto.Message) []benchForm {
	pb, err := proto.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	js, err := protojson.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(js)
	_ = zw.Close()
	return []benchForm{
		{name: "protobuf", contentType: "application/x-protobuf", body: pb},
		{name: "json", contentType: "application/json", body: js},
		{name: "json-gzip", contentType: "application/json", body: gz.Bytes(), gzip: true},
	}
}

// benchReceiver posts the exports of forms to path through the whole
// receiver (read, decode, map, price, record to a counting recorder) and
// reports items (points or records) per second.
func benchReceiver(b *testing.B, path string, forms []benchForm, items, events int, unit string) {
	for _, form := range forms {
		b.Run(form.name, func(b *testing.B) {
			rec := &countRecorder{}
			r := &Receiver{Authenticate: authenticate, Recorder: rec, Pricer: pricing.Default(), MetricsHold: -1,
				Now: func() time.Time { return t0.Add(time.Hour) }}
			b.SetBytes(int64(len(form.body)))
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(form.body))
				req.Header.Set("Content-Type", form.contentType)
				if form.gzip {
					req.Header.Set("Content-Encoding", "gzip")
				}
				req.Header.Set("Authorization", "Bearer ak-bob")
				w := httptest.NewRecorder()
				r.ServeHTTP(w, req)
				if w.Code != http.StatusOK || w.Body.Len() > 3 && form.contentType == "application/json" {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
			b.ReportMetric(float64(items*b.N)/b.Elapsed().Seconds(), unit)
			if rec.n != events*b.N {
				b.Fatalf("%d events for %d exports, want %d each", rec.n, b.N, events)
			}
		})
	}
}

// BenchmarkReceiverMetrics measures OTLP data points per second through
// the whole receiver for 1000-point exports of Claude Code's token usage.
func BenchmarkReceiverMetrics(b *testing.B) {
	benchReceiver(b, "/v1/metrics", benchForms(b, claudeExport(125)), 1000, 250, "points/s")
}

// BenchmarkReceiverLogs measures log records per second through the whole
// receiver for exports of 500 claude_code.api_request events (the batch
// log processor sends at most 512).
func BenchmarkReceiverLogs(b *testing.B) {
	benchReceiver(b, "/v1/logs", benchForms(b, claudeLogExport(500)), 500, 500, "records/s")
}

// BenchmarkDecode measures the decoders alone on the same exports.
func BenchmarkDecode(b *testing.B) {
	for _, p := range []struct {
		name  string
		m     proto.Message
		items int
	}{{"metrics", claudeExport(125), 1000}, {"logs", claudeLogExport(500), 500}} {
		pb, _ := proto.Marshal(p.m)
		js, _ := protojson.Marshal(p.m)
		for _, d := range []struct {
			name string
			body []byte
			enc  encoding
		}{{"protobuf", pb, encProto}, {"json", js, encJSON}} {
			b.Run(p.name+"/"+d.name, func(b *testing.B) {
				b.SetBytes(int64(len(d.body)))
				b.ReportAllocs()
				for b.Loop() {
					m := p.m.ProtoReflect().New().Interface()
					if err := decode(d.body, d.enc, m); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(p.items*b.N)/b.Elapsed().Seconds(), "items/s")
			})
		}
	}
}
