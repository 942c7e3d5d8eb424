package otlp

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/allot-dev/allot"
)

// TestCountsPastOneCallRejectTheRecord is issue #14's OTLP failure: a
// claude_code.api_request with output_tokens "1000000000000000" was
// recorded and wrapped in-memory budgets to spent -$9.2 billion. Every
// numeric field of the request event, holding a value no call can have,
// now rejects that record alone, as OTLP partial success; the batch's
// other records are kept.
func TestCountsPastOneCallRejectTheRecord(t *testing.T) {
	t.Parallel()
	fixture := string(readJSON(t, "claude_code_logs"))
	fields := map[string]string{ // field: its value in the first api_request
		"input_tokens": `"stringValue": "12"`, "output_tokens": `"stringValue": "850"`,
		"cache_read_tokens": `"stringValue": "24000"`, "cache_creation_tokens": `"stringValue": "1500"`,
	}
	values := []string{
		`"stringValue": "1000000000000000"`, // the request
		`"stringValue": "100000001"`, `"stringValue": "-1"`, `"stringValue": "NaN"`, `"stringValue": "Infinity"`,
		`"stringValue": "1.5"`, `"stringValue": "lots"`, `"stringValue": "1e15"`, `"stringValue": "9223372036854775808"`,
		`"intValue": "1000000000000000"`, `"intValue": "-9223372036854775808"`, `"intValue": "9223372036854775807"`,
		`"doubleValue": 1e15`, `"doubleValue": -3`, `"doubleValue": 2.5`, `"doubleValue": 1.8446744073709552e19`,
	}
	e := newEnv(t) // one ledger: the good record dedupes, so it must hold exactly it throughout
	for field, orig := range fields {
		for _, v := range values {
			body := strings.Replace(fixture, orig, v, 1)
			if body == fixture {
				t.Fatalf("fixture changed: no %s to spoil", orig)
			}
			w := e.post("/v1/logs", "ak-bob", "application/json", []byte(body), false)
			mustOK(t, w)
			var resp struct {
				PartialSuccess struct {
					RejectedLogRecords string `json:"rejectedLogRecords"`
					ErrorMessage       string `json:"errorMessage"`
				} `json:"partialSuccess"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			if resp.PartialSuccess.RejectedLogRecords != "1" || !strings.Contains(resp.PartialSuccess.ErrorMessage, field) {
				t.Errorf("%s %s: answered %s, want 1 record rejected naming %s", field, v, w.Body, field)
			}
			events := e.events()
			if len(events) != 1 {
				t.Errorf("%s %s: %d events kept, want the 1 good one", field, v, len(events))
			}
			for _, ev := range events {
				if err := ev.Tokens.CheckCall(); err != nil || ev.Cost < 0 || ev.Cost > allot.MaxCallCost {
					t.Errorf("%s %s: kept %+v cost %d: %v", field, v, ev.Tokens, ev.Cost, err)
				}
			}
		}
	}
}

// TestPartsSummingPastOneCallRejectTheRecord: each count within the
// bound, but Claude Code's input is input+cache read+cache write, which
// must be within it too.
func TestPartsSummingPastOneCallRejectTheRecord(t *testing.T) {
	t.Parallel()
	fixture := string(readJSON(t, "claude_code_logs"))
	body := strings.Replace(fixture, `"stringValue": "12"`, `"stringValue": "60000000"`, 1)
	body = strings.Replace(body, `"stringValue": "24000"`, `"stringValue": "60000000"`, 1)
	e := newEnv(t)
	w := e.post("/v1/logs", "ak-bob", "application/json", []byte(body), false)
	mustOK(t, w)
	if !strings.Contains(w.Body.String(), `"rejectedLogRecords":"1"`) || !strings.Contains(w.Body.String(), "input_tokens 120001500 is over 100,000,000") {
		t.Errorf("answered %s", w.Body)
	}
	if n := len(e.events()); n != 1 {
		t.Errorf("%d events kept, want 1", n)
	}
}

// TestCostPastOneCallRejectsTheRecord: a reported cost past any call's.
func TestCostPastOneCallRejectsTheRecord(t *testing.T) {
	t.Parallel()
	fixture := string(readJSON(t, "claude_code_logs"))
	body := strings.Replace(fixture, `"stringValue": "0.0213"`, `"stringValue": "100000.01"`, 1)
	e := newEnv(t)
	w := e.post("/v1/logs", "ak-bob", "application/json", []byte(body), false)
	mustOK(t, w)
	if !strings.Contains(w.Body.String(), `"rejectedLogRecords":"1"`) || !strings.Contains(w.Body.String(), "cost_usd") {
		t.Errorf("answered %s", w.Body)
	}
}

// TestMetricIntervalsPastOneCallAreRejected: a metric interval's usage
// becomes one event, bounded like a call's; the point is rejected, the
// export's other points kept.
func TestMetricIntervalsPastOneCallAreRejected(t *testing.T) {
	t.Parallel()
	point := func(typ string, v *metricspb.NumberDataPoint) *metricspb.NumberDataPoint {
		v.Attributes = []*commonpb.KeyValue{str("type", typ), str("model", "claude-sonnet-4-5"), str("session.id", "s1")}
		v.StartTimeUnixNano, v.TimeUnixNano = uint64(t0.UnixNano()), uint64(t0.UnixNano())+60e9
		return v
	}
	for _, bad := range []*metricspb.NumberDataPoint{
		{Value: &metricspb.NumberDataPoint_AsInt{AsInt: 1_000_000_000_000_000}},
		{Value: &metricspb.NumberDataPoint_AsInt{AsInt: allot.MaxCallTokens + 1}},
		{Value: &metricspb.NumberDataPoint_AsInt{AsInt: -1}},
		{Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: 1e300}},
	} {
		e := newEnv(t)
		md := &metricspb.MetricsData{ResourceMetrics: []*metricspb.ResourceMetrics{{
			Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "claude-code")}},
			ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{
				{Name: "claude_code.token.usage", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
					AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA,
					DataPoints: []*metricspb.NumberDataPoint{
						point("input", &metricspb.NumberDataPoint{Value: &metricspb.NumberDataPoint_AsInt{AsInt: 500}}),
						point("output", bad),
					}}}},
				{Name: "claude_code.cost.usage", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
					AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA,
					DataPoints: []*metricspb.NumberDataPoint{
						point("", &metricspb.NumberDataPoint{Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: 100_001}}),
					}}}},
			}}},
		}}}
		body, _ := proto.Marshal(md)
		mustOK(t, e.post("/v1/metrics", "ak-bob", "application/x-protobuf", body, false))
		s := e.rec.Stats()
		if s.Rejected != 2 || s.Events != 1 {
			t.Errorf("point %v: stats %+v, want the bad point and the cost rejected, one event", bad.Value, s)
		}
		for _, ev := range e.events() {
			if ev.Tokens.Input != 500 || ev.Tokens.Output != 0 || ev.Cost < 0 || ev.Cost > allot.MaxCallCost {
				t.Errorf("point %v: kept %+v cost %d", bad.Value, ev.Tokens, ev.Cost)
			}
		}
	}
}
