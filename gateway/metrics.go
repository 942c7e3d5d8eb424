package gateway

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/allot-dev/allot"
)

// Metrics are the gateway's Prometheus series: requests, tokens and cost
// by model and team, upstream latency and calls in flight.
type Metrics struct {
	requests        *prometheus.CounterVec
	tokens          *prometheus.CounterVec
	cost            *prometheus.CounterVec
	upstreamLatency *prometheus.HistogramVec
	inFlight        prometheus.Gauge
	refused         *prometheus.CounterVec
	lastKnownGood   prometheus.Counter
}

// NewMetrics registers the gateway's series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "allot_requests_total", Help: "Proxied calls by route, provider and HTTP status.",
		}, []string{"route", "provider", "status"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "allot_tokens_total", Help: "Tokens by served model, team and kind (input, cache_read, cache_write, output, reasoning).",
		}, []string{"model", "team", "kind"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "allot_cost_usd_total", Help: "Cost in USD by served model and team (the ledger holds the exact amounts).",
		}, []string{"model", "team"}),
		upstreamLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "allot_upstream_latency_seconds", Help: "Time until the provider answered with headers.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 12),
		}, []string{"provider"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "allot_in_flight_requests", Help: "Calls being proxied now.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "allot_refused_total", Help: "Calls refused before reaching a provider, by reason (budget, rate_limit, forbidden, unavailable).",
		}, []string{"reason"}),
		lastKnownGood: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allot_key_last_known_good_total", Help: "Calls whose key was served from the last-known-good cache while the key directory was unreachable (failure_policy fail_open).",
		}),
	}
	reg.MustRegister(m.requests, m.tokens, m.cost, m.upstreamLatency, m.inFlight, m.refused, m.lastKnownGood)
	return m
}

func (m *Metrics) observe(ev *allot.Event) {
	m.requests.WithLabelValues(string(ev.Route), ev.Provider, strconv.Itoa(ev.Status)).Inc()
	t := ev.Tokens
	for _, k := range []struct {
		kind string
		n    int64
	}{{"input", t.Input}, {"cache_read", t.CacheRead}, {"cache_write", t.CacheWrite()}, {"output", t.Output}, {"reasoning", t.Reasoning}} {
		if k.n > 0 {
			m.tokens.WithLabelValues(ev.ServedModel, ev.Team, k.kind).Add(float64(k.n))
		}
	}
	if ev.Cost > 0 {
		m.cost.WithLabelValues(ev.ServedModel, ev.Team).Add(float64(ev.Cost) / float64(allot.USD))
	}
}
