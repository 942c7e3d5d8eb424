package otlp

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/pricing"
)

// memRecorder keeps events in memory.
type memRecorder struct {
	mu     sync.Mutex
	events []allot.Event
}

func (m *memRecorder) Record(e allot.Event) {
	m.mu.Lock()
	m.events = append(m.events, e)
	m.mu.Unlock()
}

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// FuzzJSONMapping feeds arbitrary OTLP/JSON to each endpoint: the receiver
// never panics, answers 200 or 400, and every event it records is
// normalized (parts within their wholes, no negative counts), attributed
// and has a stable id.
func FuzzJSONMapping(f *testing.F) {
	paths := []string{"/v1/metrics", "/v1/logs", "/v1/traces"}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(indexOf(paths, pathOf(filepath.Base(name)))), b)
	}
	f.Add(uint8(1), []byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"eventName":"codex.sse_event","attributes":[{"key":"input_token_count","value":{"doubleValue":-1}}]}]}]}]}`))
	f.Add(uint8(0), []byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"gen_ai.client.token.usage","histogram":{"aggregationTemporality":2,"dataPoints":[{"sum":1e300,"attributes":[{"key":"gen_ai.token.type","value":{"stringValue":"input"}}]}]}}]}]}]}`))
	for _, seed := range []string{
		`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"claude_code.token.usage","sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_DELTA","dataPoints":[{"asInt":1e3,"timeUnixNano":1793700000000000000,"attributes":[{"key":"type","value":{"stringValue":"input"}},{"key":"model","value":{"string_value":"claude-sonnet-4-5"}}]}]}}]}]}]}`,
		`{"resource_logs":[{"scope_logs":[{"log_records":[{"trace_id":"5b8efff798038103d269b633813fc60c","span_id":"eee19b7ec3c1b174","time_unix_nano":"1.7937e18","event_name":"gemini_cli.api_response","attributes":[{"key":"input_token_count","value":{"intValue":"10"}}]}]}]}]}`,
		`{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_CLIENT","status":{"code":2},"traceId":"AAECAwQFBgcICQoLDA0ODw==","attributes":[{"key":"gen_ai.usage.input_tokens","value":{"doubleValue":"12"}}]}]}]}]}`,
		`{"resourceMetrics":[{"x":1e,"y":[{"z":null}],"scopeMetrics":null}],"[a.b]":{}}`,
		`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"\ud83d\ude00\u00e9\n","intValue":null},"severityNumber":"UNKNOWN"}]}]}]}`,
	} {
		f.Add(uint8(indexOf(paths, pathOf(seed))), []byte(seed))
	}
	now := t0.Add(time.Hour)
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		rec := &memRecorder{}
		r := &Receiver{
			Authenticate: authenticate, Recorder: rec, Pricer: pricing.Default(), MetricsHold: -1,
			Now: func() time.Time { return now },
		}
		req := httptest.NewRequest(http.MethodPost, paths[int(which)%len(paths)], bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer ak-bob")
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		for _, e := range rec.events {
			tk := e.Tokens
			if tk.Input < 0 || tk.Output < 0 || tk.CacheRead < 0 || tk.CacheWrite5m < 0 || tk.CacheWrite1h < 0 || tk.Reasoning < 0 ||
				tk.CacheRead+tk.CacheWrite() > tk.Input || tk.Reasoning > tk.Output {
				t.Fatalf("tokens not normalized: %+v", tk)
			}
			if err := tk.CheckCall(); err != nil || e.Cost > allot.MaxCallCost {
				t.Fatalf("event past one call's bounds: %+v cost %d: %v", tk, e.Cost, err)
			}
			if !hexID.MatchString(e.ID) || e.User != "bob" || e.Source != allot.SourceOTLP || e.Time.After(now) || e.Cost < 0 {
				t.Fatalf("bad event %+v", e)
			}
		}
	})
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return 0
}

// FuzzSniffProto: the signal sniffer never panics on arbitrary protobuf,
// and what it recognizes in a fixture stays recognized.
func FuzzSniffProto(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.binpb"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if s, ok := sniffProto(body); ok && s > sigTraces {
			t.Fatalf("signal %d", s)
		}
	})
}

// FuzzJSONDecode: decode reads any input as each signal without a panic,
// and what it accepts, written again as protojson writes it (base64 ids),
// reads back as the same message: the hex id fix never turns an id into
// one it would read differently. Its seeds are small, so the fuzzer
// explores the grammar quickly.
func FuzzJSONDecode(f *testing.F) {
	for _, tc := range jsonCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, root := range roots() {
			m := accepts(t, body, root)
			if m == nil {
				continue
			}
			again, err := protojson.Marshal(m)
			if err != nil {
				t.Fatalf("%T from %q: %v", m, body, err)
			}
			if got := accepts(t, again, root); got == nil || !proto.Equal(got, m) {
				t.Fatalf("%T from %q:\nfirst %v\nagain %v", m, body, m, got)
			}
		}
	})
}
