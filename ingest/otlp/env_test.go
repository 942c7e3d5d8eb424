package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/pricing"
	"github.com/allot-dev/allot/sqlite"
)

var update = flag.Bool("update", false, "rewrite the protobuf fixtures (testdata/*.binpb) from the JSON ones")

// t0 is the start of the fixtures' first interval: 2026-11-03T10:00:00Z.
var t0 = time.Unix(0, 1793700000000000000).UTC()

// ledgerRecorder appends each event to a SQLite ledger at once.
type ledgerRecorder struct {
	t  testing.TB
	db *sqlite.DB
	mu sync.Mutex
	n  int
}

func (l *ledgerRecorder) Record(e allot.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.db.Append(context.Background(), []allot.Event{e}); err != nil {
		l.t.Errorf("append %+v: %v", e, err)
	}
	l.n++
}

// env is a receiver writing to a fresh ledger, with a settable clock.
type env struct {
	t     *testing.T
	db    *sqlite.DB
	rec   *Receiver
	clock atomic.Int64
}

var people = map[string]allot.Principal{
	"ak-alice": {Org: "acme", Team: "platform", User: "alice", KeyID: "kalice", KeyLabel: "laptop", Role: allot.RoleAdmin},
	"ak-bob":   {Org: "acme", Team: "data", User: "bob", KeyID: "kbob", KeyLabel: "laptop", Role: allot.RoleMember},
}

var directory = map[string]allot.User{
	"carol@acme.test": {Name: "carol", Email: "carol@acme.test", Team: "data", Role: allot.RoleMember},
	"bob@acme.test":   {Name: "bob", Email: "bob@acme.test", Team: "data", Role: allot.RoleMember},
}

func authenticate(r *http.Request) (allot.Principal, error) {
	key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if p, ok := people[key]; ok {
		return p, nil
	}
	return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "invalid allot key")
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "allot.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{t: t, db: db}
	e.clock.Store(t0.Add(-time.Minute).UnixNano())
	e.rec = &Receiver{
		Authenticate: authenticate,
		Recorder:     &ledgerRecorder{t: t, db: db},
		Pricer:       pricing.Default(),
		Now:          func() time.Time { return time.Unix(0, e.clock.Load()) },
		MetricsHold:  -1,
		UserByEmail: func(_ context.Context, email string) (allot.User, bool, error) {
			u, ok := directory[email]
			return u, ok, nil
		},
	}
	_ = e.rec.Stats()                           // start the receiver before the fixtures' series begin
	e.clock.Store(t0.Add(time.Hour).UnixNano()) // then move to after them
	return e
}

// post sends body to path with the key and content type, gzipping it when asked.
func (e *env) post(path, key, contentType string, body []byte, gz bool) *httptest.ResponseRecorder {
	e.t.Helper()
	if gz {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(body)
		zw.Close()
		body = b.Bytes()
	}
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	w := httptest.NewRecorder()
	e.rec.ServeHTTP(w, req)
	return w
}

// totals sums the ledger's report over the fixtures' month.
func (e *env) totals() (allot.Tokens, allot.Money, int64) {
	e.t.Helper()
	rows, err := e.db.Report(context.Background(), allot.ReportQuery{
		By: []allot.Dimension{allot.DimUser}, From: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	var t allot.Tokens
	var cost allot.Money
	var n int64
	for _, r := range rows {
		t = t.Add(r.Tokens)
		cost += r.Cost
		n += r.Requests
	}
	return t, cost, n
}

// events lists the stored events.
func (e *env) events() []allot.Event {
	e.t.Helper()
	evs, err := e.db.Events(context.Background(), t0.Add(-24*time.Hour), t0.Add(48*time.Hour), 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

// message returns an empty message of the signal a fixture holds.
func message(name string) proto.Message {
	switch {
	case strings.Contains(name, "_metrics"):
		return &metricspb.MetricsData{}
	case strings.Contains(name, "_logs"):
		return &logspb.LogsData{}
	}
	return &tracepb.TracesData{}
}

func pathOf(name string) string {
	switch {
	case strings.Contains(name, "_metrics"):
		return "/v1/metrics"
	case strings.Contains(name, "_logs"):
		return "/v1/logs"
	}
	return "/v1/traces"
}

// fixture reads testdata/NAME.json and its protobuf twin NAME.binpb, which
// -update rewrites from the JSON. It checks that both hold the same data.
func fixture(t *testing.T, name string) (jsonBody, protoBody []byte) {
	t.Helper()
	jsonBody, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	fromJSON := message(name)
	if err := decode(jsonBody, encJSON, fromJSON); err != nil {
		t.Fatalf("%s.json: %v", name, err)
	}
	pbPath := filepath.Join("testdata", name+".binpb")
	if *update {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(fromJSON)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pbPath, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	protoBody, err = os.ReadFile(pbPath)
	if err != nil {
		t.Fatalf("%v (run go test -run TestFixtures -update)", err)
	}
	fromProto := message(name)
	if err := proto.Unmarshal(protoBody, fromProto); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(fromJSON, fromProto) {
		t.Fatalf("%s.binpb differs from %s.json; run go test -run TestFixtures -update", name, name)
	}
	return jsonBody, protoBody
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
