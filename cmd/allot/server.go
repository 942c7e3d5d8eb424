package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
	"github.com/allot-dev/allot/budget"
	"github.com/allot-dev/allot/config"
	"github.com/allot-dev/allot/gateway"
	"github.com/allot-dev/allot/ingest/otlp"
	"github.com/allot-dev/allot/insights"
	"github.com/allot-dev/allot/internal/connlimit"
	"github.com/allot-dev/allot/internal/warm"
	"github.com/allot-dev/allot/ledger"
	"github.com/allot-dev/allot/notify"
	"github.com/allot-dev/allot/postgres"
	"github.com/allot-dev/allot/pricing"
	"github.com/allot-dev/allot/provider/anthropic"
	"github.com/allot-dev/allot/provider/openai"
	"github.com/allot-dev/allot/redis"
	"github.com/allot-dev/allot/tokenizer"
	"github.com/allot-dev/allot/web"
)

// serverOptions adjust startServer for the demo and tests.
type serverOptions struct {
	logger *slog.Logger
}

// server is a running allot: HTTP server, gateway, ledger writer and database.
type server struct {
	cfg     config.Config
	addr    string
	http    *http.Server
	gw      *gateway.Gateway
	writer  *ledger.Writer
	db      allot.Store
	pg      *postgres.DB // db when it is PostgreSQL, else nil: shared counters and retention are PostgreSQL's
	logger  *slog.Logger
	served  chan error
	conns   *connlimit.Listener
	catalog *pricing.Catalog
	ration  *budget.Live
	sink    *notify.Sink       // stores budget alerts and delivers them to webhooks
	otlp    *otlp.Receiver     // usage reported by tools over OpenTelemetry
	metrics *http.Server       // /metrics on its own listener (metrics.listen), or nil
	closers []io.Closer        // shared counters and the like, closed last
	stop    context.CancelFunc // ends background loops
}

func newLogger(cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	hopts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, hopts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, hopts))
}

// loadCatalog returns the price catalog: a feed stored by `allot prices
// update` if any, else the embedded one, with the config's price overrides
// and max_output_tokens.
func loadCatalog(ctx context.Context, cfg config.Config, dir allot.Directory) (*pricing.Catalog, error) {
	cat := pricing.Default()
	feed, err := dir.Setting(ctx, pricesSetting)
	if err != nil {
		return nil, fmt.Errorf("read stored price feed: %w", err)
	}
	if feed != nil {
		if cat, err = pricing.Load(feed); err != nil {
			return nil, fmt.Errorf("stored price feed: %w", err)
		}
	}
	if len(cfg.Prices) > 0 {
		if cat, err = cat.WithOverrides(cfg.Prices); err != nil {
			return nil, fmt.Errorf("config prices: %w", err)
		}
	}
	if len(cfg.MaxOutputTokens) > 0 {
		if cat, err = cat.WithMaxOutput(cfg.MaxOutputTokens); err != nil {
			return nil, fmt.Errorf("config %w", err)
		}
	}
	return cat, nil
}

// protocols are the wire formats allot speaks, by the names a provider's
// type: takes; the gateway is given them rather than importing them.
var protocols = gateway.Protocols{"openai": openai.Protocol{}, "anthropic": anthropic.Protocol{}}

// upstreams turns the configured providers into the gateway's upstreams.
func upstreams(cfg config.Config) ([]gateway.Upstream, error) {
	var ups []gateway.Upstream
	for _, p := range cfg.Providers {
		u, err := url.Parse(p.BaseURL)
		if err != nil {
			return nil, fmt.Errorf("provider %s base_url: %w", p.Name, err)
		}
		key, err := p.APIKey()
		if err != nil {
			return nil, err
		}
		ups = append(ups, gateway.Upstream{Name: p.Name, Protocol: protocols[p.Type], BaseURL: u, APIKey: key})
	}
	return ups, nil
}

// startServer opens the store and starts serving cfg.Listen.
func startServer(ctx context.Context, cfg config.Config, opts serverOptions) (*server, error) {
	logger := opts.logger
	if logger == nil {
		logger = newLogger(cfg)
	}
	db, pg, err := openDatabase(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	s := &server{cfg: cfg, db: db, pg: pg, logger: logger, served: make(chan error, 1)}
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *server) init(ctx context.Context) error {
	cfg := s.cfg
	if _, err := cfg.Metrics.Token(os.Getenv); err != nil { // before anything starts
		return err
	}
	if cfg.Org != "" {
		if _, err := applyOrgFile(ctx, s.db, cfg.Org); err != nil {
			return err
		}
	}
	if err := bootstrapAdmins(ctx, cfg, s.db, s.logger.Warn); err != nil {
		return err
	}
	sso, err := singleSignOn(cfg, s.db)
	if err != nil {
		return err
	}
	cat, err := loadCatalog(ctx, cfg, s.db)
	if err != nil {
		return err
	}
	s.catalog = cat
	ups, err := upstreams(cfg)
	if err != nil {
		return err
	}
	warnings := warnMissingProviderKeys(s.logger, cfg.Providers, os.Getenv)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	spool := cfg.Spool(os.Getenv)
	if s.writer, err = ledger.OpenWriter(s.db, ledger.Options{Logger: s.logger, SpoolDir: spool, JournalDir: spool}); err != nil {
		return fmt.Errorf("open the ledger writer: %w", err)
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "allot_ledger_queue_depth", Help: "Usage events recorded and not yet written to the ledger.",
	}, func() float64 { return float64(s.writer.Depth()) }))
	shared, err := s.openCounters(ctx)
	if err != nil {
		return err
	}
	var counters budget.Counters // nil: in this process's memory
	if shared != nil {
		counters = shared
	}
	if s.ration, err = budget.NewLive(ctx, s.db, budget.LiveOptions{Counters: counters, Pricer: cat, Flush: s.writer.Flush, Logger: s.logger, LeaseTTL: cfg.ReservationLease()}); err != nil {
		return err
	}
	s.ration.CountRecovered(ctx, s.writer.Recovered())
	if err := s.startNotices(); err != nil {
		return err
	}
	bg, stop := context.WithCancel(context.Background())
	s.stop = stop
	go s.ration.Run(bg, 2*time.Second)
	s.startRetention(bg)
	go warm.Keep(bg, s.db, s.logger, warm.Every) // the first reports after a restart, or a new day, then come from memory
	tasks, err := gateway.NewLiveTasks(ctx, cfg.Tasks, s.db, s.logger)
	if err != nil {
		return err
	}
	go tasks.Run(bg, 2*time.Second)
	// Load the tokenizer now, so the first cut-short call does not wait.
	est := tokenizer.New()
	go func() {
		if err := est.Load(); err != nil {
			s.logger.Warn("tokenizer unavailable: estimates count four bytes a token", "err", err)
		}
	}()
	s.gw = gateway.New(gateway.Options{
		Protocols:       protocols,
		Upstreams:       ups,
		Models:          cfg.Models,
		Keys:            s.db,
		Pricer:          cat,
		Recorder:        s.writer,
		Estimator:       est,
		MaxBodyBytes:    cfg.MaxBodyBytes,
		UpstreamTimeout: time.Duration(cfg.UpstreamTimeout),
		Logger:          s.logger,
		Metrics:         gateway.NewMetrics(reg),
		Rationer:        s.ration,
		RationObserver:  &notify.Observer{Sink: s.sink, Rationer: s.ration.Current},
		MaxOutput:       cat.MaxOutput,
		Tasks:           tasks.Current,

		// A PostgreSQL outage: keys last seen valid are served under fail_open, /readyz fails.
		KeyCacheTTL:      time.Duration(cfg.KeyCache.TTL),
		KeyLastKnownGood: cfg.KeyLastKnownGood(),
		Ready:            readiness(s.writer, shared),
		Warnings:         warnings,
	})
	mux := http.NewServeMux()
	s.gw.Routes(mux)
	go s.gw.WatchRevocations(bg, s.db, gateway.RevocationPoll) // leaving is immediate on every replica
	if err := s.mountSCIM(mux); err != nil {
		return err
	}
	// The dashboard signs people in with their key; the API accepts its
	// session cookie as well as a key.
	// Who may see whom by name: one policy for every view (allot.CanSee).
	vis, err := peerVisibility(ctx, cfg, s.db)
	if err != nil {
		return err
	}
	dash := web.New(web.Options{Keys: s.db, Users: s.db, SSO: sso, People: s.db, PeerVisibility: vis, Logger: s.logger, TrustProxy: cfg.TrustProxy})
	auth := dash.Authenticate(s.gw.Authenticate)
	iopts, err := insightOptions(ctx, cfg, s.db)
	if err != nil {
		return err
	}
	(&api.Server{
		Authenticate: auth, AuthenticateKey: s.gw.Authenticate,
		Reports: s.db, Events: s.db, People: s.db, Unpriced: s.db.Unpriced, Grants: s.db, Policy: s.db, Audit: s.db,
		Notices: s.db, Source: s.db, Ledger: s.db, KeyStore: s.db, Emails: s.db, Leaving: s.db,
		KeyLimits:      api.KeyLimits{MaxPerPerson: cfg.Keys.MaxPerPerson, MaxLifetime: time.Duration(cfg.Keys.MaxLifetime)},
		Rationer:       s.ration.Current,
		Refresh:        func(ctx context.Context) error { _, err := s.ration.Refresh(ctx); return err },
		Pricer:         func() allot.Pricer { return cat },
		Options:        func() insights.Options { return iopts },
		PeerVisibility: vis, Logger: s.logger,
	}).Routes(mux)
	dash.Routes(mux)
	// Usage reported by tools the gateway cannot see counts against budgets too.
	reported := budget.NewReported(bg, s.writer, s.ration, s.logger)
	s.otlp = &otlp.Receiver{Authenticate: s.gw.Authenticate, Recorder: reported, Pricer: cat, Logger: s.logger,
		MaxBodyBytes: cfg.MaxBodyBytes, UserByEmail: otlp.UsersByEmail(s.db.Users, time.Minute)}
	for _, path := range []string{"POST /v1/metrics", "POST /v1/logs", "POST /v1/traces"} {
		mux.Handle(path, s.otlp)
	}
	if s.metrics, err = serveMetrics(cfg.Metrics, reg, mux, s.logger); err != nil {
		return err
	}

	ln, lim, err := s.listen(reg)
	if err != nil {
		s.closeMetrics()
		return err
	}
	s.conns = ln
	s.addr = ln.Addr().String()
	secure, err := listenTLS(cfg.TLS, ln)
	if err != nil {
		_ = ln.Close()
		s.closeMetrics()
		return err
	}
	s.http = &http.Server{Handler: withSecurityHeaders(lim.Handler(mux)), ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn)}
	lim.Apply(s.http) // header, idle and size limits; bodies and writes are bounded by progress in Handler
	go func() { s.served <- s.http.Serve(secure) }()
	return nil
}

// wait serves until ctx ends, then shuts down gracefully: stop accepting,
// drain in-flight calls, write every event, close the database.
func (s *server) wait(ctx context.Context) error {
	select {
	case err := <-s.served:
		if !errors.Is(err, http.ErrServerClosed) {
			s.shutdown()
			return fmt.Errorf("serve: %w", err)
		}
	case <-ctx.Done():
	}
	return s.shutdown()
}

func (s *server) shutdown() error {
	s.logger.Info("shutting down: draining in-flight calls")
	s.gw.Drain()
	if s.stop != nil {
		s.stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(s.cfg.ShutdownTimeout))
	defer cancel()
	s.closeMetrics()
	err := s.http.Shutdown(ctx)
	if err != nil {
		s.logger.Warn("in-flight calls cut at shutdown timeout", "err", err)
		_ = s.http.Close()
	}
	flushCtx, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	s.otlp.Close() // counts the metric points it was holding back
	if err := s.sink.Close(flushCtx); err != nil {
		s.logger.Warn("alerts not delivered at shutdown", "err", err)
	}
	werr := s.writer.Close(flushCtx)
	for _, c := range s.closers {
		_ = c.Close()
	}
	cerr := s.db.Close()
	if werr != nil {
		return fmt.Errorf("flush ledger: %w", werr)
	}
	if cerr != nil {
		return fmt.Errorf("close database: %w", cerr)
	}
	s.logger.Info("stopped; every usage event is written")
	return nil
}

// closeMetrics stops the metrics listener, if it has one.
func (s *server) closeMetrics() {
	if s.metrics != nil {
		_ = s.metrics.Close()
	}
}

// openCounters returns the budget counters replicas share, behind the
// failure policy: in Redis when counters: is set, else in PostgreSQL when
// that is the store; nil when they live in this process's memory.
func (s *server) openCounters(ctx context.Context) (*budget.Failover, error) {
	cfg := s.cfg
	if cfg.Counters == "" {
		if s.pg != nil { // replicas share counters in their database
			pc, err := postgres.NewCounters(ctx, s.pg, postgres.CountersOptions{})
			if err != nil {
				return nil, fmt.Errorf("budget counters in PostgreSQL: %w", err)
			}
			fo, err := budget.NewFailover(pc, budget.FailoverOptions{Policy: budget.FailurePolicy(cfg.FailurePolicy), Logger: s.logger})
			if err != nil {
				return nil, err
			}
			s.closers = append(s.closers, fo, pc)
			return fo, nil
		}
		return nil, nil
	}
	rc, err := redis.New(ctx, cfg.Counters, redis.Options{SkipPing: cfg.FailurePolicy == string(budget.FailOpen)})
	if err != nil {
		return nil, fmt.Errorf("budget counters %s: %w", cfg.Counters, err)
	}
	fo, err := budget.NewFailover(rc, budget.FailoverOptions{Policy: budget.FailurePolicy(cfg.FailurePolicy), Logger: s.logger})
	if err != nil {
		rc.Close()
		return nil, err
	}
	s.closers = append(s.closers, fo, rc)
	return fo, nil
}

// startNotices starts delivering budget alerts to the configured webhooks;
// every alert is also stored (allot alerts) whether or not hooks exist.
func (s *server) startNotices() error {
	var hooks []notify.Hook
	for i, w := range s.cfg.Webhooks {
		h := notify.Hook{URL: w.URL, Format: w.Format}
		for _, k := range w.Kinds {
			h.Kinds = append(h.Kinds, allot.NoticeKind(k))
		}
		if err := h.Validate(); err != nil {
			return fmt.Errorf("config: webhooks[%d]: %w", i, err)
		}
		hooks = append(hooks, h)
	}
	s.sink = notify.NewSink(s.db, notify.New(hooks, notify.Options{Logger: s.logger}), s.logger)
	return nil
}

// startRetention drops ledger events older than ledger_retention once a
// day, where the store can: PostgreSQL drops whole monthly partitions;
// SQLite keeps everything (retention is no part of allot.Store).
func (s *server) startRetention(ctx context.Context) {
	keep := time.Duration(s.cfg.LedgerRetention)
	if keep <= 0 {
		return
	}
	if s.pg == nil {
		s.logger.Warn("ledger_retention is applied by the PostgreSQL store only; the SQLite ledger keeps everything")
		return
	}
	go s.pg.KeepRetention(ctx, keep)
}
