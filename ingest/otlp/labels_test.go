package otlp

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// captureRecorder keeps the events the receiver hands over, as handed.
type captureRecorder struct {
	mu     sync.Mutex
	events []allot.Event
	next   allot.Recorder
}

func (c *captureRecorder) Record(e allot.Event) {
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
	c.next.Record(e)
}

// TestOverLongAttributesAreCapped sends Claude Code's api_request events
// with a 20 MB session.id and a 1 MB model name: the receiver hands the
// recorder, and the ledger keeps, labels of at most allot.MaxLabelBytes,
// and the two sessions that differ only past the cap stay two sessions.
func TestOverLongAttributesAreCapped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	capture := &captureRecorder{next: e.rec.Recorder}
	e.rec.Recorder = capture
	e.rec.MaxBodyBytes = 48 << 20
	session := strings.Repeat("s", 20<<20)
	model := strings.Repeat("m", 1<<20)
	body := string(readJSON(t, "claude_code_logs"))
	// The fixture's four records are a prompt and an api_request each in
	// session s2; the api_requests get sessions that differ past the cap.
	for _, s := range []string{"a", session + "1", "b", session + "2"} {
		body = strings.Replace(body, `"stringValue": "s2"`, `"stringValue": "`+s+`"`, 1)
	}
	body = strings.Replace(body, `"stringValue": "claude-sonnet-4-5-20250929"`, `"stringValue": "`+model+`"`, 1)
	mustOK(t, e.post("/v1/logs", "ak-bob", "application/json", []byte(body), false))

	if len(capture.events) != 2 {
		t.Fatalf("%d events recorded, want 2", len(capture.events))
	}
	for _, ev := range capture.events {
		if !ev.LabelsCapped() {
			t.Errorf("receiver recorded an event with over-long labels: session %d bytes, model %d bytes", len(ev.Session), len(ev.ServedModel))
		}
	}
	stored := e.events()
	if len(stored) != 2 {
		t.Fatalf("%d events stored, want 2", len(stored))
	}
	for _, ev := range stored {
		if len(ev.Session) > allot.MaxLabelBytes || len(ev.ServedModel) > allot.MaxLabelBytes {
			t.Errorf("stored session of %d bytes and model of %d bytes, want at most %d", len(ev.Session), len(ev.ServedModel), allot.MaxLabelBytes)
		}
	}
	if stored[0].Session == stored[1].Session {
		t.Errorf("two sessions that differ past the cap were merged into %q", stored[0].Session)
	}
}

// TestSeriesTableKeepsLongKeysHashed checks that a series identified by
// megabytes of attributes costs the table a short key, and is still
// told apart from a series that differs at the end.
func TestSeriesTableKeepsLongKeysHashed(t *testing.T) {
	t.Parallel()
	tab := newSeriesTable(t0.Add(-time.Hour))
	long := strings.Repeat("k", 1<<20)
	at := uint64(t0.UnixNano())
	for _, k := range []string{long + "1", long + "2"} {
		if d, _, ok := tab.delta(k, at, at+1, 5, t0); !ok || d != 5 {
			t.Fatalf("first point of a new series: delta %d, %v", d, ok)
		}
	}
	if len(tab.m) != 2 {
		t.Fatalf("%d series kept, want 2", len(tab.m))
	}
	for k := range tab.m {
		if len(k) > maxSeriesKey {
			t.Errorf("series key of %d bytes kept", len(k))
		}
	}
	if d, _, ok := tab.delta(long+"1", at, at+2, 7, t0); !ok || d != 2 {
		t.Errorf("second point of the long series: delta %d, %v; want 2", d, ok)
	}
}
