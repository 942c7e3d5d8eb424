// Package gateway is allot's data plane: the OpenAI- and Anthropic-compatible
// HTTP endpoints. For each call it authenticates the virtual key, reads what
// it needs from the request, forwards it to the provider with the provider's
// key, streams the answer back chunk by chunk, taps usage on the way, prices
// it and records exactly one usage event.
package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider"
)

// Upstream is one configured provider as the gateway uses it.
type Upstream struct {
	Name     string            // configured name, recorded on events
	Protocol provider.Protocol // the wire format it speaks
	BaseURL  *url.URL          // e.g. https://api.openai.com/v1
	APIKey   string            // the provider key; never logged, never returned
}

// KeyResolver resolves a virtual key's hash to its principal.
type KeyResolver interface {
	PrincipalByKeyHash(ctx context.Context, hash []byte) (allot.Principal, error)
}

// Options configure a Gateway. Protocols, Keys, Pricer and Recorder are required.
type Options struct {
	Protocols       Protocols // the wire formats, by name; must hold every route's (openai, anthropic)
	Upstreams       []Upstream
	Models          map[string]string // model pattern -> upstream name; a plain name is a prefix (allot.ParseModelPrefix); the most specific match wins
	Keys            KeyResolver
	Pricer          allot.Pricer
	Recorder        allot.Recorder    // an allot.IntentRecorder also journals each call's intent before it is forwarded
	Estimator       allot.Estimator   // offline tokenizer for cut-short calls; nil counts 4 bytes a token
	Transport       http.RoundTripper // default: a tuned http.Transport
	MaxBodyBytes    int64             // default 32 MiB
	UpstreamTimeout time.Duration     // whole-call limit, default 10 minutes
	KeyCacheTTL     time.Duration     // how long a resolved key is trusted, default 10s
	// KeyLastKnownGood is how long a key the directory last said was valid
	// is still served while the directory is unreachable (failure_policy
	// fail_open); 0 refuses calls whose key cannot be checked (fail_closed).
	KeyLastKnownGood time.Duration
	// Ready, if set, says why this replica should get no new calls (a
	// store it depends on is unreachable); /readyz answers 503 with it.
	Ready func(context.Context) error
	// Warnings, if set, lists what works but needs a person's attention
	// (a provider without its key): /readyz still answers 200 "ready" and
	// adds one "warning: ..." line for each, so other providers serve.
	Warnings       func() []string
	Logger         *slog.Logger             // default slog.Default()
	Metrics        *Metrics                 // optional
	Rationer       Admitter                 // budgets, rate limits and model access; nil admits every call
	RationObserver RationObserver           // hears refusals, downgrades and alerts; optional
	MaxOutput      func(model string) int64 // output limit assumed when a request sets none (worst-case reservations), e.g. (*pricing.Catalog).MaxOutput; nil assumes allot.MaxCallTokens
	Tasks          func() *TaskRules        // the current task rules and labels for calls that declare no task; nil names none
	Now            func() time.Time         // clock, for tests; default time.Now
}

// Gateway serves the provider-compatible routes.
type Gateway struct {
	opts      Options
	byName    map[string]*Upstream
	byType    map[string]*Upstream // first upstream of each wire format: the route's default
	routes    []modelRoute         // Options.Models compiled, most specific first
	keys      *keyCache
	ids       *idSource
	draining  atomic.Bool
	transport http.RoundTripper
	intents   allot.IntentRecorder // Options.Recorder if it journals intents, else nil
}

// New returns a gateway; it panics on missing required options or an
// invalid Options.Models (config.Validate refuses one), which are wiring
// bugs rather than runtime conditions.
func New(opts Options) *Gateway {
	if opts.Keys == nil || opts.Pricer == nil || opts.Recorder == nil {
		panic("gateway.New: Keys, Pricer and Recorder are required")
	}
	for _, name := range clientProtocols {
		if opts.Protocols[name] == nil {
			panic("gateway.New: Protocols must hold the " + name + " wire format")
		}
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 32 << 20
	}
	if opts.UpstreamTimeout <= 0 {
		opts.UpstreamTimeout = 10 * time.Minute
	}
	if opts.KeyCacheTTL <= 0 {
		opts.KeyCacheTTL = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Estimator == nil {
		opts.Estimator = byteEstimator{}
	}
	g := &Gateway{
		opts:      opts,
		byName:    map[string]*Upstream{},
		byType:    map[string]*Upstream{},
		keys:      newKeyCache(opts.Keys, opts.KeyCacheTTL, opts.KeyLastKnownGood, opts.Now, opts.Logger, opts.Metrics),
		ids:       newIDSource(),
		transport: opts.Transport,
	}
	if g.transport == nil {
		g.transport = NewTransport()
	}
	g.intents, _ = opts.Recorder.(allot.IntentRecorder)
	for i := range opts.Upstreams {
		u := &opts.Upstreams[i]
		g.byName[u.Name] = u
		if _, ok := g.byType[u.Protocol.Name()]; !ok {
			g.byType[u.Protocol.Name()] = u
		}
	}
	routes, err := compileRoutes(opts.Models, g.byName)
	if err != nil {
		panic("gateway.New: " + err.Error())
	}
	g.routes = routes
	return g
}

// NewTransport returns the HTTP transport tuned for many concurrent,
// long-lived calls to a few provider hosts.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	t.IdleConnTimeout = 90 * time.Second
	t.ResponseHeaderTimeout = 0 // streams may take long to start; the per-call timeout covers it
	t.ForceAttemptHTTP2 = true
	return t
}

// Drain marks the gateway as shutting down: /readyz fails so load
// balancers stop sending calls, while in-flight calls finish.
func (g *Gateway) Drain() { g.draining.Store(true) }

// InvalidateKeys forgets cached key resolutions, e.g. after a revocation.
func (g *Gateway) InvalidateKeys() { g.keys.clear() }

// Routes registers the gateway's endpoints on mux.
func (g *Gateway) Routes(mux *http.ServeMux) {
	mux.Handle("POST /v1/chat/completions", g.proxy(allot.RouteChat))
	mux.Handle("POST /v1/responses", g.proxy(allot.RouteResponses))
	mux.Handle("POST /v1/embeddings", g.proxy(allot.RouteEmbeddings))
	mux.Handle("GET /v1/models", g.proxy(allot.RouteModels))
	mux.Handle("POST /v1/messages", g.proxy(allot.RouteMessages))
	mux.Handle("POST /v1/messages/count_tokens", g.proxy(allot.RouteCountTokens))
	mux.HandleFunc("/v1/", g.notFound)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", g.readyz)
}

// readyzTimeout bounds the checks of one /readyz.
const readyzTimeout = 2 * time.Second

// readyz answers 200 while the gateway serves normally and 503 with the
// reason while it drains, or while a store it depends on is unreachable
// and it serves degraded (last-known-good keys, spooled events, local
// counters) or refuses calls: load balancers then prefer a healthy
// replica, and operators see why.
func (g *Gateway) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if g.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("draining\n"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyzTimeout)
	defer cancel()
	err := g.keys.check(ctx)
	if err == nil && g.opts.Ready != nil {
		err = g.opts.Ready(ctx)
	}
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: " + err.Error() + "\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
	if g.opts.Warnings != nil {
		for _, m := range g.opts.Warnings() {
			_, _ = w.Write([]byte("warning: " + m + "\n"))
		}
	}
}

// notFound answers unknown /v1/ paths in the shape their clients expect.
func (g *Gateway) notFound(w http.ResponseWriter, r *http.Request) {
	route := allot.RouteChat
	if strings.HasPrefix(r.URL.Path, "/v1/messages") {
		route = allot.RouteMessages
	}
	code, msg := allot.ENotFound, "no route "+r.Method+" "+r.URL.Path+" on this allot gateway; it serves POST /v1/chat/completions, /v1/responses, /v1/embeddings, /v1/messages, /v1/messages/count_tokens and GET /v1/models"
	for _, known := range []string{"/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/models", "/v1/messages", "/v1/messages/count_tokens"} {
		if r.URL.Path == known {
			code, msg = allot.EMethod, "method "+r.Method+" is not allowed on "+r.URL.Path
		}
	}
	g.writeError(w, route, allot.Errorf(code, "%s", msg))
}
