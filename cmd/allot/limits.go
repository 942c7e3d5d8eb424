package main

import (
	"fmt"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/allot-dev/allot/config"
	"github.com/allot-dev/allot/internal/connlimit"
)

// connLimits turns the config's limits: into connlimit's.
func connLimits(c config.Limits) connlimit.Limits {
	return connlimit.Limits{
		MaxConns:          c.MaxConnections,
		MaxConnsPerClient: c.MaxConnectionsPerClient,
		ReadHeaderTimeout: time.Duration(c.ReadHeaderTimeout),
		BodyReadTimeout:   time.Duration(c.BodyReadTimeout),
		BodyMinRate:       c.BodyMinBytesPerSecond,
		IdleTimeout:       time.Duration(c.IdleTimeout),
		WriteStallTimeout: time.Duration(c.WriteStallTimeout),
		MaxHeaderBytes:    c.MaxHeaderBytes,
	}
}

// listen opens cfg.Listen under the connection caps of limits:, lowered
// to fit the process's open-file limit, and exports the connection counts.
func (s *server) listen(reg prometheus.Registerer) (*connlimit.Listener, connlimit.Limits, error) {
	lim := connLimits(s.cfg.Limits)
	nofile := connlimit.OpenFileLimit()
	if fit, lowered := lim.FitFDs(nofile); lowered {
		s.logger.Warn("limits.max_connections lowered to fit the open-file limit; raise the limit (ulimit -n, LimitNOFILE=) to hold more",
			"configured", lim.MaxConns, "max_connections", fit.MaxConns, "open_file_limit", nofile)
		lim = fit
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return nil, lim, fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	cl := connlimit.NewListener(ln, lim)
	cl.OnRefuse = connlimit.LogRefusals(s.logger, lim, 10*time.Second)
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "allot_connections_open", Help: "Client connections held now."},
			func() float64 { return float64(cl.Open()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "allot_connections_refused_total", Help: "Client connections closed at accept: over limits.max_connections or max_connections_per_client."},
			func() float64 { return float64(cl.Refused()) }),
	)
	return cl, lim, nil
}
