package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// hookServer is a webhook endpoint that answers with the statuses in
// script, one per request (the last repeats), and records what it got.
type hookServer struct {
	*httptest.Server
	mu       sync.Mutex
	script   []int
	header   http.Header // added to every answer
	bodies   [][]byte
	times    []time.Time
	received chan struct{}
}

func newHookServer(t *testing.T, script ...int) *hookServer {
	t.Helper()
	s := &hookServer{script: script, header: http.Header{}, received: make(chan struct{}, 1000)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		status := http.StatusOK
		if len(s.script) > 0 {
			status = s.script[min(len(s.bodies), len(s.script)-1)]
		}
		s.bodies = append(s.bodies, b)
		s.times = append(s.times, time.Now())
		for k, v := range s.header {
			w.Header()[k] = v
		}
		s.mu.Unlock()
		if r.Header.Get("Content-Type") != "application/json" || r.Method != http.MethodPost {
			status = http.StatusUnsupportedMediaType
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "ok")
		s.received <- struct{}{}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *hookServer) requests() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte{}, s.bodies...)
}

// quiet is a logger for tests that discards everything.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fast retries within milliseconds.
func fast() Options {
	return Options{BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond, Timeout: 2 * time.Second, Logger: quiet}
}

func closeNow(t *testing.T, n interface{ Close(context.Context) error }) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

var sample = allot.Notice{
	ID: "threshold|data-monthly|80|2026-11-01T00:00:00Z", Time: time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC),
	Kind: allot.NoticeThreshold, Budget: "data-monthly", Scope: "team:data", User: "bob",
	Message: `budget "data-monthly" (team:data) reached 80% of its limit: spent $40.00 of $50.00 this month; it resets at 2026-12-01T00:00:00Z.`,
	Detail:  map[string]any{"threshold": float64(80), "spent_usd": "40.000000000"},
}

func TestDeliveryRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		script       []int
		wantAttempts int
		want         Stats
	}{
		{"delivered at once", []int{200}, 1, Stats{Delivered: 1}},
		{"retried after 500s", []int{500, 502, 204}, 3, Stats{Delivered: 1}},
		{"retried after 429 and 408", []int{429, 408, 200}, 3, Stats{Delivered: 1}},
		{"given up after max attempts", []int{500}, 4, Stats{Failed: 1}},
		{"a 4xx is not retried", []int{400}, 1, Stats{Failed: 1}},
		{"a 404 is not retried", []int{404}, 1, Stats{Failed: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newHookServer(t, tc.script...)
			opts := fast()
			opts.MaxAttempts = 4
			n := New([]Hook{{URL: srv.URL}}, opts)
			n.Notify(sample)
			closeNow(t, n)
			reqs := srv.requests()
			if len(reqs) != tc.wantAttempts {
				t.Errorf("%d attempts, want %d", len(reqs), tc.wantAttempts)
			}
			var got allot.Notice
			if err := json.Unmarshal(reqs[len(reqs)-1], &got); err != nil || got.ID != sample.ID || got.Message != sample.Message ||
				!got.Time.Equal(sample.Time) || got.Detail["spent_usd"] != "40.000000000" {
				t.Errorf("generic body %s (%v): want the notice as JSON", reqs[len(reqs)-1], err)
			}
			if s := n.Stats(); s != tc.want {
				t.Errorf("stats %+v, want %+v", s, tc.want)
			}
		})
	}
}

// TestRetryAfterIsHonoured: a 429 or 503 with Retry-After waits that long
// rather than the (much shorter) backoff.
func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			srv := newHookServer(t, status, 200)
			srv.header.Set("Retry-After", "1")
			opts := fast()
			opts.MaxDelay = 3 * time.Second
			n := New([]Hook{{URL: srv.URL}}, opts)
			n.Notify(sample)
			closeNow(t, n)
			srv.mu.Lock()
			times := srv.times
			srv.mu.Unlock()
			if len(times) != 2 {
				t.Fatalf("%d attempts, want 2", len(times))
			}
			if gap := times[1].Sub(times[0]); gap < 900*time.Millisecond {
				t.Errorf("retried after %s; Retry-After asked for 1s", gap)
			}
		})
	}
}

func TestSlackBody(t *testing.T) {
	t.Parallel()
	srv := newHookServer(t)
	n := New([]Hook{{URL: srv.URL + "/services/T0/B0/secret", Format: FormatSlack}}, fast())
	down := allot.Notice{ID: "downgrade|platform|2026-11-01T00:00:00Z", Time: sample.Time, Kind: allot.NoticeDowngrade,
		Budget: "platform", Scope: "team:platform", User: "alice", Message: `budget "platform" (team:platform) is full and started downgrading calls (gpt-4o -> gpt-4o-mini) & more`}
	n.Notify(down)
	closeNow(t, n)
	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	var body struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text *struct {
				Type, Text string
			} `json:"text"`
			Elements []struct{ Type, Text string } `json:"elements"`
		} `json:"blocks"`
	}
	dec := json.NewDecoder(bytes.NewReader(reqs[0]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("Slack body %s: %v", reqs[0], err)
	}
	for _, want := range []string{"downgrading", "gpt-4o -&gt; gpt-4o-mini", "&amp; more"} {
		if !strings.Contains(body.Text, want) {
			t.Errorf("text %q lacks %q (Slack needs &, <, > escaped)", body.Text, want)
		}
	}
	if len(body.Blocks) != 2 || body.Blocks[0].Type != "section" || body.Blocks[0].Text == nil || body.Blocks[0].Text.Type != "mrkdwn" ||
		body.Blocks[1].Type != "context" || len(body.Blocks[1].Elements) != 1 || !strings.Contains(body.Blocks[1].Elements[0].Text, "alice") {
		t.Errorf("blocks %+v", body.Blocks)
	}
}

func TestKindsFilter(t *testing.T) {
	t.Parallel()
	all, refusals := newHookServer(t), newHookServer(t)
	n := New([]Hook{{URL: all.URL}, {URL: refusals.URL, Kinds: []allot.NoticeKind{allot.NoticeRefusal}}}, fast())
	for _, k := range []allot.NoticeKind{allot.NoticeThreshold, allot.NoticeDowngrade, allot.NoticeRefusal} {
		no := sample
		no.Kind, no.ID = k, string(k)
		n.Notify(no)
	}
	closeNow(t, n)
	if got := len(all.requests()); got != 3 {
		t.Errorf("unfiltered webhook got %d notices, want 3", got)
	}
	if got := refusals.requests(); len(got) != 1 || !bytes.Contains(got[0], []byte(`"kind":"refusal"`)) {
		t.Errorf("refusal-only webhook got %q", got)
	}
}

// TestNotifyNeverBlocks: an endpoint that never answers does not slow the
// caller; the queue drops its oldest notices and counts them, and Close
// gives up when its context ends.
func TestNotifyNeverBlocks(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); hang.Close() })
	healthy := newHookServer(t)
	opts := fast()
	opts.QueueSize = 8
	opts.Timeout = time.Minute
	n := New([]Hook{{URL: hang.URL}, {URL: healthy.URL}}, opts)
	start := time.Now()
	for i := range 2000 {
		no := sample
		no.ID = strings.Repeat("x", i%7) + string(rune('a'+i%26))
		n.Notify(no)
	}
	// A Notify that waited on the hanging webhook would take its minute
	// timeout; the bound leaves room for -race on a busy machine.
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("2000 Notify calls took %s with a hanging webhook", d)
	}
	if s := n.Stats(); s.Dropped < 2000-2*8-2 {
		t.Errorf("stats %+v: a full queue must drop", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if err := n.Close(ctx); err == nil {
		t.Error("Close returned nil while a webhook hung")
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("Close took %s past its deadline", d)
	}
	if len(healthy.requests()) == 0 {
		t.Error("the healthy webhook got nothing while the other hung")
	}
	n.Notify(sample) // after Close: dropped, never blocks or panics
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		hook Hook
		ok   bool
	}{
		{Hook{URL: "https://hooks.slack.com/services/T/B/X", Format: "slack"}, true},
		{Hook{URL: "http://127.0.0.1:9/x", Kinds: []allot.NoticeKind{"threshold", "refusal"}}, true},
		{Hook{URL: "ftp://x/y"}, false},
		{Hook{URL: "https://"}, false},
		{Hook{URL: "https://x", Format: "teams"}, false},
		{Hook{URL: "https://x", Kinds: []allot.NoticeKind{"spend"}}, false},
	}
	for _, tc := range tests {
		err := tc.hook.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v, want ok %v", tc.hook, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), "/X") {
			t.Errorf("error %q shows the URL's secret path", err)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"7", 7 * time.Second}, {" 2 ", 2 * time.Second}, {"0", 0}, {"-3", 0}, {"soon", 0},
		{"Fri, 20 Nov 2026 09:00:30 GMT", 30 * time.Second}, {"Fri, 20 Nov 2026 08:00:00 GMT", 0},
		{"99999999999", 24 * time.Hour},
	}
	for _, tc := range tests {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "1", "120", "Fri, 20 Nov 2026 09:00:30 GMT", "-1", "1e9", "９"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		if d := parseRetryAfter(s, now); d < 0 || d > 24*time.Hour {
			t.Errorf("parseRetryAfter(%q) = %s, want within [0, 24h]", s, d)
		}
	})
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	t.Parallel()
	for attempt := 1; attempt <= 40; attempt++ {
		d := backoff(attempt, time.Second, time.Minute)
		want := min(time.Second<<min(attempt-1, 30), time.Minute)
		if d < want/2 || d > want {
			t.Errorf("backoff(%d) = %s, want within [%s, %s]", attempt, d, want/2, want)
		}
	}
}
