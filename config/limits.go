package config

import (
	"fmt"
	"strconv"
	"time"
)

// Limits bound what clients can hold of the server: connections, the time
// each part of a request may take, and header memory (see
// internal/connlimit). No limit spans a whole request or response, so
// long uploads that keep arriving and long streams are never cut.
type Limits struct {
	MaxConnections          int      `yaml:"max_connections"`            // simultaneous connections from all clients; more are closed at accept
	MaxConnectionsPerClient int      `yaml:"max_connections_per_client"` // from one client address (IPv4, or IPv6 /64); behind a load balancer set it to max_connections
	ReadHeaderTimeout       Duration `yaml:"read_header_timeout"`        // time to send a request's headers
	BodyReadTimeout         Duration `yaml:"body_read_timeout"`          // grace before a request body must arrive at body_min_bytes_per_second
	BodyMinBytesPerSecond   int64    `yaml:"body_min_bytes_per_second"`  // slowest average rate of a request body after the grace
	IdleTimeout             Duration `yaml:"idle_timeout"`               // a keep-alive connection without a request is closed after this
	WriteStallTimeout       Duration `yaml:"write_stall_timeout"`        // longest one write of a response may wait on a client that does not read
	MaxHeaderBytes          int      `yaml:"max_header_bytes"`           // request line and headers of one request
}

// DefaultLimits are safe for a gateway facing many clients directly.
func DefaultLimits() Limits {
	return Limits{
		MaxConnections:          4096,
		MaxConnectionsPerClient: 256,
		ReadHeaderTimeout:       Duration(10 * time.Second),
		BodyReadTimeout:         Duration(30 * time.Second),
		BodyMinBytesPerSecond:   4096,
		IdleTimeout:             Duration(120 * time.Second),
		WriteStallTimeout:       Duration(60 * time.Second),
		MaxHeaderBytes:          64 << 10,
	}
}

// Bounds of the limits settings; values outside are surely typos.
const (
	maxLimitConnections = 1 << 20
	maxLimitTimeout     = time.Hour
	minLimitHeaderBytes = 4 << 10
	maxLimitHeaderBytes = 16 << 20
	maxLimitBodyRate    = 1 << 30
)

// applyEnv reads ALLOT_LIMITS_<KEY> for each key of limits:.
func (l *Limits) applyEnv(lookup func(string) (string, bool)) error {
	ints := map[string]*int{
		"ALLOT_LIMITS_MAX_CONNECTIONS":            &l.MaxConnections,
		"ALLOT_LIMITS_MAX_CONNECTIONS_PER_CLIENT": &l.MaxConnectionsPerClient,
		"ALLOT_LIMITS_MAX_HEADER_BYTES":           &l.MaxHeaderBytes,
	}
	for name, p := range ints {
		if v, ok := lookup(name); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%s=%q: not a whole number", name, v)
			}
			*p = n
		}
	}
	if v, ok := lookup("ALLOT_LIMITS_BODY_MIN_BYTES_PER_SECOND"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("ALLOT_LIMITS_BODY_MIN_BYTES_PER_SECOND=%q: not a whole number of bytes", v)
		}
		l.BodyMinBytesPerSecond = n
	}
	durs := map[string]*Duration{
		"ALLOT_LIMITS_READ_HEADER_TIMEOUT": &l.ReadHeaderTimeout,
		"ALLOT_LIMITS_BODY_READ_TIMEOUT":   &l.BodyReadTimeout,
		"ALLOT_LIMITS_IDLE_TIMEOUT":        &l.IdleTimeout,
		"ALLOT_LIMITS_WRITE_STALL_TIMEOUT": &l.WriteStallTimeout,
	}
	for name, p := range durs {
		if v, ok := lookup(name); ok {
			d, err := ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%s=%q: not a duration like 10s or 2m", name, v)
			}
			*p = Duration(d)
		}
	}
	return nil
}

// Validate checks every limit is set and sane, and says what to fix.
func (l Limits) Validate() error {
	if l.MaxConnections < 1 || l.MaxConnections > maxLimitConnections {
		return fmt.Errorf("limits.max_connections %d must be between 1 and %d", l.MaxConnections, maxLimitConnections)
	}
	if l.MaxConnectionsPerClient < 1 || l.MaxConnectionsPerClient > l.MaxConnections {
		return fmt.Errorf("limits.max_connections_per_client %d must be between 1 and max_connections (%d); behind a load balancer set it to max_connections", l.MaxConnectionsPerClient, l.MaxConnections)
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"read_header_timeout", l.ReadHeaderTimeout},
		{"body_read_timeout", l.BodyReadTimeout},
		{"idle_timeout", l.IdleTimeout},
		{"write_stall_timeout", l.WriteStallTimeout},
	} {
		if d.v <= 0 || time.Duration(d.v) > maxLimitTimeout {
			return fmt.Errorf("limits.%s %s must be positive and at most %s; a connection without it can be held forever", d.key, time.Duration(d.v), maxLimitTimeout)
		}
	}
	if l.BodyMinBytesPerSecond < 1 || l.BodyMinBytesPerSecond > maxLimitBodyRate {
		return fmt.Errorf("limits.body_min_bytes_per_second %d must be between 1 and %d", l.BodyMinBytesPerSecond, maxLimitBodyRate)
	}
	if l.MaxHeaderBytes < minLimitHeaderBytes || l.MaxHeaderBytes > maxLimitHeaderBytes {
		return fmt.Errorf("limits.max_header_bytes %d must be between %d and %d", l.MaxHeaderBytes, minLimitHeaderBytes, maxLimitHeaderBytes)
	}
	return nil
}
