package config

import (
	"strings"
	"testing"
)

// TestSpoolIsNeverDerivedFromAURL: a PostgreSQL database's spool is a
// plain state directory, never the URL (with its password) taken as a
// path; a SQLite database keeps its spool next to the file.
func TestSpoolIsNeverDerivedFromAURL(t *testing.T) {
	t.Parallel()
	const dsn = "postgres://allot:s3cret@db.internal:5432/allot?sslmode=disable"
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	for _, c := range []struct {
		name     string
		cfg      Config
		env      map[string]string
		want     string
		notURLed bool
	}{
		{"sqlite file", Config{Database: "/var/lib/allot/allot.db"}, nil, "/var/lib/allot/allot.db.spool", false},
		{"postgres with XDG_STATE_HOME", Config{Database: dsn}, map[string]string{"XDG_STATE_HOME": "/home/a/.local/state"}, "/home/a/.local/state/allot/spool", true},
		{"postgres without XDG_STATE_HOME", Config{Database: dsn}, nil, "allot-spool", true},
		{"postgres with a relative XDG_STATE_HOME", Config{Database: dsn}, map[string]string{"XDG_STATE_HOME": "state"}, "allot-spool", true},
		{"postgresql scheme", Config{Database: "postgresql://u:p@h/db"}, nil, "allot-spool", true},
		{"spool_dir wins", Config{Database: dsn, SpoolDir: "/srv/spool"}, nil, "/srv/spool", true},
	} {
		got := c.cfg.Spool(env(c.env))
		if got != c.want {
			t.Errorf("%s: spool %q, want %q", c.name, got, c.want)
		}
		if c.notURLed && (strings.Contains(got, "s3cret") || strings.Contains(got, ":/") || strings.Contains(got, "@")) {
			t.Errorf("%s: spool %q is derived from the database URL", c.name, got)
		}
	}
}

// TestSurfaceKeys reads tls, trust_proxy and metrics, and refuses half a
// TLS setting and a metrics listener on the main address.
func TestSurfaceKeys(t *testing.T) {
	t.Parallel()
	c := Default()
	err := Parse([]byte("tls: {cert_file: /etc/allot/cert.pem, key_file: /etc/allot/key.pem}\ntrust_proxy: true\nmetrics: {token_env: ALLOT_METRICS_TOKEN, listen: 127.0.0.1:9090}\n"), &c)
	if err != nil || c.Validate() != nil {
		t.Fatalf("parse: %v; validate: %v", err, c.Validate())
	}
	if !c.TLS.Enabled() || c.TLS.KeyFile != "/etc/allot/key.pem" || !c.TrustProxy || c.Metrics.TokenEnv != "ALLOT_METRICS_TOKEN" || c.Metrics.Listen != "127.0.0.1:9090" {
		t.Errorf("read %+v %v %+v", c.TLS, c.TrustProxy, c.Metrics)
	}
	half := Default()
	half.TLS.CertFile = "cert.pem"
	if err := half.Validate(); err == nil || !strings.Contains(err.Error(), "key_file") {
		t.Errorf("tls without key_file: %v", err)
	}
	same := Default()
	same.Metrics.Listen = same.Listen
	if err := same.Validate(); err == nil {
		t.Error("metrics.listen on the main address was accepted")
	}
	if _, err := (Metrics{TokenEnv: "X"}).Token(func(string) string { return " " }); err == nil {
		t.Error("an empty metrics token was accepted")
	}
}
