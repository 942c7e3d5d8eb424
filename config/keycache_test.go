package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKeyCache: key_cache defaults to a 10s TTL and a 24h last-known-good
// period, either can be set alone in the file or the environment, and the
// last-known-good period applies under fail_open only.
func TestKeyCache(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		env        map[string]string
		wantTTL    time.Duration
		wantLKG    time.Duration // KeyLastKnownGood(): what the gateway uses
		wantErr    string
	}{
		{name: "defaults, fail_closed", wantTTL: 10 * time.Second},
		{name: "defaults, fail_open", yaml: "failure_policy: fail_open\n", wantTTL: 10 * time.Second, wantLKG: 24 * time.Hour},
		{name: "ttl alone keeps the default period", yaml: "failure_policy: fail_open\nkey_cache: {ttl: 2s}\n", wantTTL: 2 * time.Second, wantLKG: 24 * time.Hour},
		{name: "period in days", yaml: "failure_policy: fail_open\nkey_cache: {last_known_good: 7d}\n", wantTTL: 10 * time.Second, wantLKG: 7 * 24 * time.Hour},
		{name: "period unused under fail_closed", yaml: "key_cache: {last_known_good: 7d}\n", wantTTL: 10 * time.Second},
		{name: "environment wins", yaml: "failure_policy: fail_open\nkey_cache: {ttl: 2s}\n",
			env:     map[string]string{"ALLOT_KEY_CACHE_TTL": "30s", "ALLOT_KEY_CACHE_LAST_KNOWN_GOOD": "1h"},
			wantTTL: 30 * time.Second, wantLKG: time.Hour},
		{name: "zero period turns it off", yaml: "failure_policy: fail_open\nkey_cache: {last_known_good: 0s}\n", wantTTL: 10 * time.Second},
		{name: "zero ttl", yaml: "key_cache: {ttl: 0s}\n", wantErr: "key_cache ttl 0s must be positive"},
		{name: "negative period", yaml: "key_cache: {last_known_good: -1h}\n", wantErr: "last_known_good -1h0m0s not negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "allot.yaml")
			if err := os.WriteFile(p, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := loadWith(p, tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := time.Duration(c.KeyCache.TTL); got != tt.wantTTL {
				t.Errorf("key_cache.ttl = %s, want %s", got, tt.wantTTL)
			}
			if got := c.KeyLastKnownGood(); got != tt.wantLKG {
				t.Errorf("KeyLastKnownGood() = %s, want %s", got, tt.wantLKG)
			}
		})
	}
}
