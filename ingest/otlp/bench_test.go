package otlp

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
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

// BenchmarkReceiverMetrics measures OTLP data points per second through
// the whole receiver (decode, map, price, record) for 1000-point exports.
func BenchmarkReceiverMetrics(b *testing.B) {
	md := claudeExport(125) // 1000 points
	pb, err := proto.Marshal(md)
	if err != nil {
		b.Fatal(err)
	}
	js, err := protojson.Marshal(md)
	if err != nil {
		b.Fatal(err)
	}
	for _, form := range []struct {
		name, contentType string
		body              []byte
	}{{"protobuf", "application/x-protobuf", pb}, {"json", "application/json", js}} {
		b.Run(form.name, func(b *testing.B) {
			rec := &countRecorder{}
			r := &Receiver{Authenticate: authenticate, Recorder: rec, Pricer: pricing.Default(), MetricsHold: -1,
				Now: func() time.Time { return t0.Add(time.Hour) }}
			b.SetBytes(int64(len(form.body)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/v1/metrics", bytes.NewReader(form.body))
				req.Header.Set("Content-Type", form.contentType)
				req.Header.Set("Authorization", "Bearer ak-bob")
				w := httptest.NewRecorder()
				r.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
			b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "points/s")
			if rec.n != 250*b.N {
				b.Fatalf("%d events for %d exports, want 250 each", rec.n, b.N)
			}
		})
	}
}
