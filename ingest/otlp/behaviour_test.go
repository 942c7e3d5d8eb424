package otlp

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/allot-dev/allot"
)

func readJSON(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustOK(t *testing.T, w interface {
	Result() *http.Response
}) {
	t.Helper()
	if r := w.Result(); r.StatusCode != http.StatusOK {
		b := new(bytes.Buffer)
		b.ReadFrom(r.Body)
		t.Fatalf("status %d: %s", r.StatusCode, b)
	}
}

// TestEventFields checks one Claude Code api_request event field by field.
func TestEventFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mustOK(t, e.post("/v1/logs", "ak-bob", "application/json", readJSON(t, "claude_code_logs"), false))
	evs := e.events()
	if len(evs) != 2 {
		t.Fatalf("%d events", len(evs))
	}
	ev := evs[0]
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	want := allot.Event{
		ID: ev.ID, Time: t0.Add(5 * time.Second),
		Principal: people["ak-bob"], Provider: "anthropic", RequestedModel: "claude-sonnet-4-5-20250929", ServedModel: "claude-sonnet-4-5-20250929",
		Route: allot.RouteMessages, Task: allot.UntaggedTask, Session: "s2", App: "claude-cli", Source: allot.SourceOTLP, Status: 200,
		Latency: 5231 * time.Millisecond, Tokens: allot.Tokens{Input: 25512, CacheRead: 24000, CacheWrite5m: 1500, Output: 850},
		Cost: ev.Cost, CostKnown: true,
	}
	if ev != want {
		t.Errorf("event\n got %+v\nwant %+v", ev, want)
	}
	if !hex32.MatchString(ev.ID) {
		t.Errorf("id %q is not 32 hex characters", ev.ID)
	}
}

// TestCumulative turns a cumulative series into deltas: two exports count
// their final values once, a replay adds nothing, and a restarted receiver
// takes a series it did not see begin as a baseline only.
func TestCumulative(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first, second := readJSON(t, "claude_code_metrics_cumulative_1"), readJSON(t, "claude_code_metrics_cumulative_2")
	mustOK(t, e.post("/v1/metrics", "ak-bob", "application/json", first, false))
	tokens, _, _ := e.totals()
	if want := (allot.Tokens{Input: 30100, CacheRead: 30000, Output: 2000}); tokens != want {
		t.Fatalf("after the first export\n got %+v\nwant %+v", tokens, want)
	}
	for range 2 {
		mustOK(t, e.post("/v1/metrics", "ak-bob", "application/json", second, false))
		mustOK(t, e.post("/v1/metrics", "ak-bob", "application/json", first, false)) // out of order: nothing new
	}
	final := allot.Tokens{Input: 70960, CacheRead: 70000, CacheWrite5m: 800, Output: 2600}
	tokens, _, _ = e.totals()
	if tokens != final {
		t.Fatalf("after the second export\n got %+v\nwant %+v", tokens, final)
	}

	// A new receiver (allot restarted) on the same ledger: the series began
	// before it, so its first point is a baseline.
	e.rec = &Receiver{Authenticate: authenticate, Recorder: e.rec.Recorder, Pricer: e.rec.Pricer, Now: e.rec.Now, MetricsHold: -1}
	mustOK(t, e.post("/v1/metrics", "ak-bob", "application/json", second, false))
	if tokens, _, _ = e.totals(); tokens != final {
		t.Fatalf("a restarted receiver counted the series again\n got %+v\nwant %+v", tokens, final)
	}
}

// TestPreferRequestEvents: a session that sends per-request events has its
// metrics ignored, whether the metrics come after the events or before them
// (held for MetricsHold).
func TestPreferRequestEvents(t *testing.T) {
	t.Parallel()
	want := allot.Tokens{Input: 9000, CacheRead: 6000, Output: 1100, Reasoning: 600}
	t.Run("events first", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		mustOK(t, e.post("/v1/logs", "ak-bob", "application/json", readJSON(t, "codex_logs"), false))
		mustOK(t, e.post("/v1/metrics", "ak-bob", "application/json", readJSON(t, "codex_metrics"), false))
		if tokens, _, _ := e.totals(); tokens != want {
			t.Errorf("got %+v\nwant %+v", tokens, want)
		}
		if s := e.rec.Stats(); s.Superseded != 4 {
			t.Errorf("superseded %d points, want 4", s.Superseded)
		}
	})
	t.Run("metrics first, held", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.rec.MetricsHold = time.Hour
		mustOK(t, e.post("/v1/metrics", "ak-bob", "application/json", readJSON(t, "codex_metrics"), false))
		if s := e.rec.Stats(); s.Held != 1 {
			t.Fatalf("held %d events, want 1", s.Held)
		}
		mustOK(t, e.post("/v1/logs", "ak-bob", "application/json", readJSON(t, "codex_logs"), false))
		e.rec.Close()
		if tokens, _, _ := e.totals(); tokens != want {
			t.Errorf("got %+v\nwant %+v", tokens, want)
		}
	})
	t.Run("metrics only, released by the timer", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.rec.MetricsHold = 20 * time.Millisecond
		mustOK(t, e.post("/v1/metrics", "ak-bob", "application/json", readJSON(t, "codex_metrics"), false))
		deadline := time.Now().Add(5 * time.Second)
		for e.rec.Stats().Events == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if tokens, _, _ := e.totals(); tokens != want {
			t.Errorf("got %+v\nwant %+v", tokens, want)
		}
	})
	t.Run("span and its log event", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		mustOK(t, e.post("/v1/traces", "ak-bob", "application/json", readJSON(t, "genai_traces"), false))
		mustOK(t, e.post("/v1/logs", "ak-bob", "application/json", readJSON(t, "genai_logs"), false))
		if tokens, _, n := e.totals(); tokens != (allot.Tokens{Input: 3600, CacheRead: 1000, Output: 540}) || n != 3 {
			t.Errorf("got %+v in %d events; the log event of span A must not count again", tokens, n)
		}
	})
}

// TestAttribution: an admin's key may report for the org by user.email; a
// member's key always reports for its owner.
func TestAttribution(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ key, want string }{{"ak-alice", "carol"}, {"ak-bob", "bob"}} {
		e := newEnv(t)
		mustOK(t, e.post("/v1/logs", tc.key, "application/json", readJSON(t, "gemini_cli_logs"), false))
		for _, ev := range e.events() {
			if ev.User != tc.want {
				t.Errorf("key %s: event of %q, want %q", tc.key, ev.User, tc.want)
			}
			if ev.KeyID != people[tc.key].KeyID {
				t.Errorf("key %s: event names key %q", tc.key, ev.KeyID)
			}
		}
	}
}

// status decodes an OTLP error body in either encoding.
func status(t *testing.T, contentType string, body []byte) (code int32, msg string) {
	t.Helper()
	if strings.Contains(contentType, "json") {
		var s struct {
			Code    int32  `json:"code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(body, &s); err != nil {
			t.Fatalf("error body %q: %v", body, err)
		}
		return s.Code, s.Message
	}
	for len(body) > 0 {
		num, typ, n := protowire.ConsumeTag(body)
		if n < 0 {
			t.Fatalf("bad protobuf status %x", body)
		}
		body = body[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(body)
			code, body = int32(v), body[n:]
		case num == 2 && typ == protowire.BytesType:
			v, n := protowire.ConsumeString(body)
			msg, body = v, body[n:]
		default:
			t.Fatalf("unexpected field %d in status", num)
		}
	}
	return code, msg
}

// TestErrors: failures answer in OTLP's Status shape, in the request's
// encoding, with the right HTTP status.
func TestErrors(t *testing.T) {
	t.Parallel()
	valid := readJSON(t, "claude_code_logs")
	cases := []struct {
		name, method, path, key, contentType, encoding string
		body                                           []byte
		status                                         int
		code                                           int32
		says                                           string
	}{
		{"bad key json", "POST", "/v1/logs", "ak-nobody", "application/json", "", valid, 401, 16, "OTEL_EXPORTER_OTLP_HEADERS"},
		{"no key protobuf", "POST", "/v1/metrics", "", "application/x-protobuf", "", nil, 401, 16, "Authorization=Bearer"},
		{"malformed json", "POST", "/v1/logs", "ak-bob", "application/json", "", []byte(`{"resourceLogs":[{`), 400, 3, "malformed OTLP logs"},
		{"malformed protobuf", "POST", "/v1/metrics", "ak-bob", "application/x-protobuf", "", []byte{0x0a, 0xff, 0x01}, 400, 3, "malformed OTLP metrics"},
		{"wrong type json", "POST", "/v1/metrics", "ak-bob", "application/json", "", []byte(`{"resourceMetrics":"x"}`), 400, 3, "malformed"},
		{"bad gzip", "POST", "/v1/logs", "ak-bob", "application/json", "gzip", []byte("not gzip"), 400, 3, "gzip"},
		{"unknown encoding", "POST", "/v1/logs", "ak-bob", "application/json", "br", valid, 400, 3, "Content-Encoding"},
		{"media type", "POST", "/v1/logs", "ak-bob", "text/plain", "", valid, 415, 3, "http/protobuf"},
		{"method", "GET", "/v1/logs", "ak-bob", "application/json", "", nil, 405, 3, "POST"},
		{"path", "POST", "/v1/profiles", "ak-bob", "application/x-protobuf", "", nil, 404, 5, "/v1/metrics"},
		{"too large", "POST", "/v1/logs", "ak-bob", "application/json", "", bytes.Repeat([]byte(" "), 70000), 413, 3, "batch size"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.rec.MaxBodyBytes = 65536
			req, _ := http.NewRequest(tc.method, tc.path, bytes.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			req.Header.Set("Content-Encoding", tc.encoding)
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			w := newRecorder()
			e.rec.ServeHTTP(w, req)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			ct := w.Header().Get("Content-Type")
			if tc.status != 415 && !strings.HasPrefix(tc.contentType, ct) {
				t.Errorf("Content-Type %q for a %q request", ct, tc.contentType)
			}
			code, msg := status(t, ct, w.Body.Bytes())
			if code != tc.code || !strings.Contains(msg, tc.says) {
				t.Errorf("status {%d %q}, want code %d and a message saying %q", code, msg, tc.code, tc.says)
			}
			if n := len(e.events()); n != 0 {
				t.Errorf("%d events recorded from a refused request", n)
			}
		})
	}
}

// TestPartialSuccess: a malformed usage record is rejected, the rest kept,
// and the response says how many were rejected and why.
func TestPartialSuccess(t *testing.T) {
	t.Parallel()
	bad := strings.Replace(string(readJSON(t, "claude_code_logs")), `"stringValue": "850"`, `"stringValue": "lots"`, 1)
	if bad == string(readJSON(t, "claude_code_logs")) {
		t.Fatal("fixture changed: no output_tokens 850 to spoil")
	}
	for _, enc := range []string{"application/json", "application/x-protobuf"} {
		e := newEnv(t)
		body := []byte(bad)
		if enc == "application/x-protobuf" {
			var ld logspb.LogsData
			if err := decode(body, encJSON, &ld); err != nil {
				t.Fatal(err)
			}
			body, _ = proto.Marshal(&ld)
		}
		w := e.post("/v1/logs", "ak-bob", enc, body, false)
		mustOK(t, w)
		var rejected int64
		var msg string
		if enc == "application/json" {
			var resp struct {
				PartialSuccess struct {
					RejectedLogRecords string `json:"rejectedLogRecords"`
					ErrorMessage       string `json:"errorMessage"`
				} `json:"partialSuccess"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			if resp.PartialSuccess.RejectedLogRecords == "1" {
				rejected = 1
			}
			msg = resp.PartialSuccess.ErrorMessage
		} else {
			num, _, n := protowire.ConsumeTag(w.Body.Bytes())
			inner, _ := protowire.ConsumeBytes(w.Body.Bytes()[n:])
			if num != 1 {
				t.Fatalf("response field %d", num)
			}
			_, _, n = protowire.ConsumeTag(inner)
			v, m := protowire.ConsumeVarint(inner[n:])
			rejected = int64(v)
			_, _, n2 := protowire.ConsumeTag(inner[n+m:])
			msg, _ = protowire.ConsumeString(inner[n+m+n2:])
		}
		if rejected != 1 || !strings.Contains(msg, "output_tokens") {
			t.Errorf("%s: rejected %d, message %q", enc, rejected, msg)
		}
		if n := len(e.events()); n != 1 {
			t.Errorf("%s: %d events kept, want the 1 good one", enc, n)
		}
	}
}

// TestStats counts what was received and what was ignored, by name.
func TestStats(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mustOK(t, e.post("/v1/metrics", "ak-bob", "application/json", readJSON(t, "claude_code_metrics"), false))
	mustOK(t, e.post("/v1/metrics", "ak-bob", "application/json", readJSON(t, "gemini_cli_metrics"), false))
	mustOK(t, e.post("/v1/logs", "ak-bob", "application/json", readJSON(t, "claude_code_logs"), false))
	s := e.rec.Stats()
	if s.Requests != 3 || s.MetricPoints != 22 || s.LogRecords != 5 || s.Events != 6 {
		t.Errorf("stats %+v", s)
	}
	for name, n := range map[string]int64{
		"claude_code.session.count": 1, "claude_code.lines_of_code.count": 1, "gemini_cli.api.request.count": 1,
		"gen_ai.client.token.usage from gemini-cli (read from its own metrics)": 2,
		"user_prompt": 1, "tool_result": 1, "api_error": 1,
	} {
		if s.Ignored[name] != n {
			t.Errorf("ignored[%q] = %d, want %d (all: %v)", name, s.Ignored[name], n, s.Ignored)
		}
	}
}

// TestUnspecifiedTemporality refuses points whose temporality is unknown:
// counting a cumulative series as deltas would multiply it.
func TestUnspecifiedTemporality(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	md := &metricspb.MetricsData{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "claude-code")}},
		ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{{
			Name: "claude_code.token.usage",
			Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{DataPoints: []*metricspb.NumberDataPoint{{
				Attributes:   []*commonpb.KeyValue{str("type", "input"), str("model", "claude-sonnet-4-5")},
				TimeUnixNano: uint64(t0.UnixNano()), Value: &metricspb.NumberDataPoint_AsInt{AsInt: 5},
			}}}},
		}}}},
	}}}
	body, _ := proto.Marshal(md)
	w := e.post("/v1/metrics", "ak-bob", "application/x-protobuf", body, false)
	mustOK(t, w)
	if s := e.rec.Stats(); s.Rejected != 1 || s.Events != 0 {
		t.Errorf("stats %+v", s)
	}
}

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// TestSniff: every fixture's signal is recognized from its payload, so an
// exporter that posts all signals to one URL still works.
func TestSniff(t *testing.T) {
	t.Parallel()
	for _, tc := range fixtureCases {
		jsonBody, protoBody := fixture(t, tc.name)
		want, _ := signalOf(pathOf(tc.name))
		for _, form := range []struct {
			enc  encoding
			body []byte
		}{{encJSON, jsonBody}, {encProto, protoBody}} {
			if got, ok := sniff(form.body, form.enc); !ok || got != want {
				t.Errorf("%s (%d): sniffed %d %t, want %d", tc.name, form.enc, got, ok, want)
			}
		}
	}
	e := newEnv(t)
	_, pb := fixture(t, "claude_code_metrics")
	mustOK(t, e.post("/v1/logs", "ak-bob", "application/x-protobuf", pb, false))
	if tokens, _, _ := e.totals(); tokens.Output != 2800 {
		t.Errorf("metrics posted to /v1/logs: %+v", tokens)
	}
}

func TestUsersByEmail(t *testing.T) {
	t.Parallel()
	calls := 0
	lookup := UsersByEmail(func(context.Context) ([]allot.User, error) {
		calls++
		return []allot.User{{Name: "carol", Email: "Carol@Acme.test", Team: "data"}}, nil
	}, time.Hour)
	for range 3 {
		u, ok, err := lookup(context.Background(), "carol@acme.test ")
		if err != nil || !ok || u.Name != "carol" {
			t.Fatalf("%+v %t %v", u, ok, err)
		}
	}
	if _, ok, _ := lookup(context.Background(), "mallory@acme.test"); ok || calls != 1 {
		t.Errorf("unknown address found, or %d directory reads", calls)
	}
}
