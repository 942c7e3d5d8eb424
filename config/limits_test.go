package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLimitsDefaultsFileAndEnv(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "allot.yaml")
	if err := os.WriteFile(p, []byte("limits:\n  max_connections: 1000\n  idle_timeout: 30s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadWith(p, map[string]string{
		"ALLOT_LIMITS_MAX_CONNECTIONS_PER_CLIENT": "50",
		"ALLOT_LIMITS_BODY_READ_TIMEOUT":          "5s",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultLimits()
	want.MaxConnections = 1000
	want.IdleTimeout = Duration(30 * time.Second)
	want.MaxConnectionsPerClient = 50
	want.BodyReadTimeout = Duration(5 * time.Second)
	if c.Limits != want {
		t.Errorf("limits = %+v\nwant     %+v (keys not set keep their defaults)", c.Limits, want)
	}
}

func TestLimitsErrorsSayWhatToFix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		env        map[string]string
		want       string
	}{
		{"no connections", "limits: {max_connections: 0}\n", nil, "limits.max_connections 0 must be between 1 and"},
		{"per client over all", "limits: {max_connections: 10, max_connections_per_client: 11}\n", nil, "behind a load balancer set it to max_connections"},
		{"per client zero", "limits: {max_connections_per_client: 0}\n", nil, "max_connections_per_client 0"},
		{"no header deadline", "limits: {read_header_timeout: 0s}\n", nil, "limits.read_header_timeout 0s must be positive"},
		{"no idle deadline", "limits: {idle_timeout: 0s}\n", nil, "limits.idle_timeout 0s must be positive"},
		{"endless body", "limits: {body_read_timeout: 2h}\n", nil, "limits.body_read_timeout 2h0m0s must be positive and at most 1h0m0s"},
		{"no write deadline", "limits: {write_stall_timeout: -1s}\n", nil, "limits.write_stall_timeout"},
		{"no body rate", "limits: {body_min_bytes_per_second: 0}\n", nil, "limits.body_min_bytes_per_second 0"},
		{"tiny headers", "limits: {max_header_bytes: 100}\n", nil, "limits.max_header_bytes 100 must be between 4096"},
		{"unknown key", "limits: {max_conns: 10}\n", nil, "max_conns"},
		{"bad env number", "", map[string]string{"ALLOT_LIMITS_MAX_CONNECTIONS": "many"}, `ALLOT_LIMITS_MAX_CONNECTIONS="many"`},
		{"bad env duration", "", map[string]string{"ALLOT_LIMITS_IDLE_TIMEOUT": "soon"}, `ALLOT_LIMITS_IDLE_TIMEOUT="soon"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "allot.yaml")
			if err := os.WriteFile(p, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := loadWith(p, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}
