package connlimit

import (
	"log/slog"
	"net/netip"
	"sync"
	"time"
)

// LogRefusals returns an OnRefuse that warns at most once per every about
// refused connections, with how many were refused since and the last
// client, so a flood cannot flood the log too.
func LogRefusals(logger *slog.Logger, l Limits, every time.Duration) func(client netip.Prefix, perClient bool) {
	var (
		mu      sync.Mutex
		last    time.Time
		pending int
	)
	return func(client netip.Prefix, perClient bool) {
		mu.Lock()
		pending++
		now := time.Now()
		if now.Sub(last) < every {
			mu.Unlock()
			return
		}
		n := pending
		last, pending = now, 0
		mu.Unlock()
		if perClient {
			logger.Warn("connections refused: a client is at limits.max_connections_per_client; raise it if this client is a load balancer or proxy",
				"client", client.String(), "max_connections_per_client", l.perClient(), "refused", n)
			return
		}
		logger.Warn("connections refused: allot is at limits.max_connections",
			"client", client.String(), "max_connections", l.MaxConns, "refused", n)
	}
}
