package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/budget"
	"github.com/allot-dev/allot/gateway"
	"github.com/allot-dev/allot/ledger"
	"github.com/allot-dev/allot/pricing"
	"github.com/allot-dev/allot/provider/anthropic"
	"github.com/allot-dev/allot/provider/openai"
	"github.com/allot-dev/allot/sqlite"
	"github.com/allot-dev/allot/tokenizer"
	"github.com/allot-dev/allot/upstreamsim"
)

// providerKey is the key the simulator demands: only allot may hold it.
const providerKey = "sk-provider-secret-0000"

// harness is a whole allot in one test: SQLite ledger, gateway, and a
// simulated provider that only accepts the provider key.
type harness struct {
	t        *testing.T
	db       *sqlite.DB
	sim      *upstreamsim.Server
	simURL   string
	gw       *gateway.Gateway
	url      string
	writer   *ledger.Writer
	key      string // alice's allot key
	adminKey string
	pricer   *pricing.Catalog
	rationer *budget.Rationer
}

type harnessOptions struct {
	upstreamTimeout time.Duration
	maxBody         int64
	simURL          string // override: e.g. a closed port
	models          map[string]string
	policy          *allot.Policy    // rationing: budgets, rate limits, access
	now             func() time.Time // the gateway's and the rationer's clock
	observer        gateway.RationObserver
	wrapSim         func(http.Handler) http.Handler // e.g. a gate holding calls upstream
	counters        budget.Counters                 // shared counters (another replica's); default in memory
	tasks           func() *gateway.TaskRules       // task rules for untagged calls
	wrapRecorder    func(allot.Recorder) allot.Recorder
}

var testOrg = allot.Org{
	Name:  "acme",
	Teams: []allot.Team{{Name: "platform"}, {Name: "data"}},
	Users: []allot.User{
		{Name: "alice", Email: "alice@acme.test", Team: "platform", Role: allot.RoleMember},
		{Name: "root", Email: "root@acme.test", Team: "platform", Role: allot.RoleAdmin},
	},
}

func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "allot.db"))
	if err != nil {
		t.Fatalf("open ledger: %v", err)
	}
	if _, err := db.ApplyOrg(ctx, testOrg); err != nil {
		t.Fatalf("apply org: %v", err)
	}
	key, _, err := db.CreateKey(ctx, "alice", "laptop")
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	adminKey, _, err := db.CreateKey(ctx, "root", "admin")
	if err != nil {
		t.Fatalf("create admin key: %v", err)
	}
	sim := upstreamsim.New(upstreamsim.Options{Seed: 1, RequireKey: providerKey})
	var simHandler http.Handler = sim
	if o.wrapSim != nil {
		simHandler = o.wrapSim(sim)
	}
	simSrv := httptest.NewServer(simHandler)
	simURL := simSrv.URL
	if o.simURL != "" {
		simURL = o.simURL
	}
	oaURL, _ := url.Parse(simURL + "/v1")
	anURL, _ := url.Parse(simURL)
	writer := ledger.NewWriter(db, ledger.Options{FlushInterval: 5 * time.Millisecond})
	cat := pricing.Default()
	var rationer *budget.Rationer
	var admitter gateway.Admitter
	if o.policy != nil {
		counters := o.counters
		if counters == nil {
			counters = budget.NewMemoryCounters()
		}
		if rationer, err = budget.New(*o.policy, counters, cat, o.now); err != nil {
			t.Fatalf("policy: %v", err)
		}
		admitter = rationer
	}
	var rec allot.Recorder = writer
	if o.wrapRecorder != nil {
		rec = o.wrapRecorder(writer)
	}
	gw := gateway.New(gateway.Options{
		Upstreams: []gateway.Upstream{
			{Name: "openai", Protocol: openai.Protocol{}, BaseURL: oaURL, APIKey: providerKey},
			{Name: "anthropic", Protocol: anthropic.Protocol{}, BaseURL: anURL, APIKey: providerKey},
		},
		Models:          o.models,
		Keys:            db,
		Pricer:          cat,
		MaxOutput:       cat.MaxOutput,
		Recorder:        rec,
		Estimator:       tokenizer.New(),
		MaxBodyBytes:    o.maxBody,
		UpstreamTimeout: o.upstreamTimeout,
		Rationer:        admitter,
		RationObserver:  o.observer,
		Tasks:           o.tasks,
		Now:             o.now,
	})
	mux := http.NewServeMux()
	gw.Routes(mux)
	srv := httptest.NewServer(mux)
	h := &harness{t: t, db: db, sim: sim, simURL: simSrv.URL, gw: gw, url: srv.URL, writer: writer, key: key, adminKey: adminKey, pricer: cat, rationer: rationer}
	t.Cleanup(func() {
		srv.Close()
		simSrv.Close()
		_ = writer.Close(context.Background())
		_ = db.Close()
	})
	return h
}

// events flushes the writer and returns every stored event, oldest first.
func (h *harness) events() []allot.Event {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // generous: CI runs every package at once under -race
	defer cancel()
	if err := h.writer.Flush(ctx); err != nil {
		h.t.Fatalf("flush ledger: %v", err)
	}
	evs, err := h.db.Events(ctx, time.Unix(0, 0), time.Now().Add(time.Hour), 100000)
	if err != nil {
		h.t.Fatalf("read events: %v", err)
	}
	return evs
}

// waitEvents waits until n events are stored (the handler records its event
// as it returns, which may be after the client saw the end of the answer).
func (h *harness) waitEvents(n int) []allot.Event {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		evs := h.events()
		if len(evs) >= n || time.Now().After(deadline) {
			if len(evs) != n {
				h.t.Fatalf("ledger holds %d events, want %d: %+v", len(evs), n, evs)
			}
			return evs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitSimDone waits until the simulator finished handling every call.
func (h *harness) waitSimDone() []upstreamsim.Call {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.sim.WaitIdle(ctx); err != nil {
		h.t.Fatalf("simulator still busy: %v", err)
	}
	return h.sim.Calls()
}
