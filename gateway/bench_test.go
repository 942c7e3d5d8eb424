package gateway_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/budget"
	"github.com/allot-dev/allot/gateway"
	"github.com/allot-dev/allot/ledger"
	"github.com/allot-dev/allot/pricing"
	"github.com/allot-dev/allot/provider/openai"
)

// staticKeys resolves every key to one principal: the benchmark measures
// the gateway, not the directory.
type staticKeys struct{}

func (staticKeys) PrincipalByKeyHash(context.Context, []byte) (allot.Principal, error) {
	return allot.Principal{Org: "acme", Team: "platform", User: "alice", KeyID: "k1"}, nil
}

// countingRecorder counts events like the ledger writer would queue them.
type countingRecorder struct{ n atomic.Int64 }

func (c *countingRecorder) Record(allot.Event) { c.n.Add(1) }

const benchChat = `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":120,"completion_tokens":9,"total_tokens":129,"prompt_tokens_details":{"cached_tokens":0}}}`

// benchUpstream answers like a provider: a fixed completion, or a stream of
// 20 chunks plus usage when the request asks to stream.
func benchUpstream() *httptest.Server {
	chunk := `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"tok "},"finish_reason":null}],"usage":null}` + "\n\n"
	usage := `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":120,"completion_tokens":20,"total_tokens":140}}` + "\n\n"
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(body), `"stream":true`) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, benchChat)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		for i := 0; i < 20; i++ {
			_, _ = io.WriteString(w, chunk)
			f.Flush()
		}
		_, _ = io.WriteString(w, usage+"data: [DONE]\n\n")
	}))
}

// discardLedger stores nothing: the journaled benchmarks measure the
// request path, not a store.
type discardLedger struct{}

func (discardLedger) Append(_ context.Context, events []allot.Event) (int, error) {
	return len(events), nil
}
func (discardLedger) Unpriced(context.Context) ([]allot.UnpricedModel, error) { return nil, nil }

// benchTargets returns a bare httputil.ReverseProxy and the allot gateway,
// both in front of the same local upstream.
func benchTargets(b *testing.B) (bare, allotURL string, rec *countingRecorder, cleanup func()) {
	bare, allotURL, rec, cleanup = benchTargetsWith(b, nil, nil)
	return
}

// benchTargetsWith is benchTargets with a rationer in the gateway and,
// unless recorder is nil, a recorder other than a counter: `allot serve`
// records through a ledger.Writer with its journal.
func benchTargetsWith(b *testing.B, admitter gateway.Admitter, recorder allot.Recorder) (bare, allotURL string, rec *countingRecorder, cleanup func()) {
	up := benchUpstream()
	u, _ := url.Parse(up.URL)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = gateway.NewTransport()
	rp.FlushInterval = -1
	bareSrv := httptest.NewServer(rp)
	rec = &countingRecorder{}
	if recorder == nil {
		recorder = rec
	}
	vu, _ := url.Parse(up.URL + "/v1")
	gw := gateway.New(gateway.Options{
		Upstreams: []gateway.Upstream{{Name: "openai", Protocol: openai.Protocol{}, BaseURL: vu, APIKey: "sk-x"}},
		Keys:      staticKeys{}, Pricer: pricing.Default(), MaxOutput: pricing.Default().MaxOutput, Recorder: recorder, Rationer: admitter,
	})
	mux := http.NewServeMux()
	gw.Routes(mux)
	allotSrv := httptest.NewServer(mux)
	return bareSrv.URL, allotSrv.URL, rec, func() { allotSrv.Close(); bareSrv.Close(); up.Close() }
}

// journaledRecorder is the ledger writer `allot serve` records through,
// with its journal in a temporary directory, over a store that keeps
// nothing.
func journaledRecorder(b *testing.B) *ledger.Writer {
	w, err := ledger.OpenWriter(discardLedger{}, ledger.Options{JournalDir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = w.Close(context.Background()) })
	return w
}

func benchRequest(client *http.Client, base, body string) error {
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer ak-bench")
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err
}

var benchBodies = map[string]string{
	"nonstream": `{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":"Hello"}]}`,
	"stream":    `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":"Hello"}]}`,
}

// BenchmarkAddedLatency alternates requests to the bare proxy and to allot
// in the same run and reports the median added latency in µs and the
// ratio of medians (allot/bare).
//
// The -journal variants record through the ledger writer with its journal,
// as `allot serve` does: each call then writes its event (and its intent)
// to the journal on the request path.
func BenchmarkAddedLatency(b *testing.B) {
	for _, mode := range []string{"nonstream", "stream", "nonstream-journal", "stream-journal"} {
		b.Run(mode, func(b *testing.B) {
			var recorder allot.Recorder
			kind, journaled := strings.CutSuffix(mode, "-journal")
			if journaled {
				recorder = journaledRecorder(b)
			}
			bare, gw, _, cleanup := benchTargetsWith(b, nil, recorder)
			defer cleanup()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			body := benchBodies[kind]
			for i := 0; i < 200; i++ { // warm up connections and caches
				_ = benchRequest(client, bare, body)
				_ = benchRequest(client, gw, body)
			}
			var bareD, gwD []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if err := benchRequest(client, bare, body); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := benchRequest(client, gw, body); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				bareD = append(bareD, t1.Sub(t0))
				gwD = append(gwD, t2.Sub(t1))
			}
			b.StopTimer()
			mb, mg := median(bareD), median(gwD)
			b.ReportMetric(float64(mb.Microseconds()), "bare-median-µs")
			b.ReportMetric(float64(mg.Microseconds()), "allot-median-µs")
			b.ReportMetric(float64((mg-mb).Nanoseconds())/1e3, "added-median-µs")
		})
	}
}

// BenchmarkThroughput runs parallel clients against each target; compare
// the two sub-benchmarks' ns/op (allot/bare) for the throughput ratio.
func BenchmarkThroughput(b *testing.B) {
	for _, mode := range []string{"nonstream", "stream"} {
		for _, target := range []string{"bare", "allot"} {
			b.Run(mode+"/"+target, func(b *testing.B) {
				bare, gw, _, cleanup := benchTargets(b)
				defer cleanup()
				base := bare
				if target == "allot" {
					base = gw
				}
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
				body := benchBodies[mode]
				b.SetParallelism(4)
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := benchRequest(client, base, body); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkBudgetOverhead measures what rationing adds to a call: the same
// gateway with and without a policy of org, team and default user budgets,
// a model filter and a rate limit, alternated in one run; it reports the
// median added µs (target under 5).
func BenchmarkBudgetOverhead(b *testing.B) {
	policy := allot.Policy{
		Budgets: []allot.Budget{
			{Name: "org", Scope: "org", LimitUSD: "1000000"},
			{Name: "platform", Scope: "team:platform", LimitUSD: "100000", AlertAt: []int{50, 80, 100}},
			{Name: "premium", Scope: "org", Models: []string{"gpt-4o*"}, LimitTokens: 1 << 60, Period: "rolling:24h"},
		},
		Defaults:   allot.Defaults{UserBudget: &allot.Budget{LimitUSD: "50000"}},
		RateLimits: []allot.RateLimit{{Scope: "team:platform", RequestsPerMinute: 1 << 40, MaxConcurrent: 1 << 20}},
	}
	r, err := budget.New(policy, budget.NewMemoryCounters(), pricing.Default(), nil)
	if err != nil {
		b.Fatal(err)
	}
	_, plain, _, c1 := benchTargets(b)
	defer c1()
	_, rationed, _, c2 := benchTargetsWith(b, r, nil)
	defer c2()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	body := benchBodies["nonstream"]
	for i := 0; i < 200; i++ {
		_ = benchRequest(client, plain, body)
		_ = benchRequest(client, rationed, body)
	}
	var plainD, ratD []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := benchRequest(client, plain, body); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := benchRequest(client, rationed, body); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		plainD = append(plainD, t1.Sub(t0))
		ratD = append(ratD, t2.Sub(t1))
	}
	b.StopTimer()
	mp, mr := median(plainD), median(ratD)
	b.ReportMetric(float64(mp.Microseconds()), "plain-median-µs")
	b.ReportMetric(float64(mr.Microseconds()), "rationed-median-µs")
	b.ReportMetric(float64((mr-mp).Nanoseconds())/1e3, "added-median-µs")
}
