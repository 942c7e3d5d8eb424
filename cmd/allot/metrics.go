package main

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/allot-dev/allot/config"
)

// metricsHandler serves reg, behind the bearer token of cfg.Metrics when
// one is set: the metrics show spend by team and model.
func metricsHandler(cfg config.Metrics, reg *prometheus.Registry) (http.Handler, error) {
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	token, err := cfg.Token(os.Getenv)
	if err != nil || token == "" {
		return h, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="allot metrics"`)
			http.Error(w, "metrics need the bearer token of metrics.token_env", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}), nil
}

// serveMetrics mounts /metrics: on its own listener when metrics.listen is
// set (returned, to be shut down with the server), else on mux.
func serveMetrics(cfg config.Metrics, reg *prometheus.Registry, mux *http.ServeMux, logger *slog.Logger) (*http.Server, error) {
	h, err := metricsHandler(cfg, reg)
	if err != nil {
		return nil, err
	}
	if cfg.Listen == "" {
		mux.Handle("GET /metrics", h)
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics on %s: %w", cfg.Listen, err)
	}
	own := http.NewServeMux()
	own.Handle("GET /metrics", h)
	srv := &http.Server{Addr: ln.Addr().String(), Handler: withSecurityHeaders(own), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			logger.Error("metrics listener stopped", "listen", cfg.Listen, "err", err)
		}
	}()
	return srv, nil
}
