// Package config reads allot.yaml and ALLOT_* environment variables into one
// Config. Precedence: built-in defaults < config file < environment < flags
// (flags are applied by the CLI).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/pricing"
)

// DefaultFile is the config file used when --config is not given and it exists.
const DefaultFile = "allot.yaml"

// Config is every setting of allot.
type Config struct {
	Listen          string                      `yaml:"listen"`            // address of the gateway, API and dashboard
	Database        string                      `yaml:"database"`          // SQLite file path (embedded default)
	Providers       []Provider                  `yaml:"providers"`         // upstreams allot forwards to
	Models          map[string]string           `yaml:"models"`            // model pattern -> provider name; a plain name is a prefix (allot.ParseModelPrefix)
	Prices          map[string]pricing.Override `yaml:"prices"`            // model pattern -> price override, USD per million tokens
	MaxBodyBytes    int64                       `yaml:"max_body_bytes"`    // largest accepted request body
	UpstreamTimeout Duration                    `yaml:"upstream_timeout"`  // whole-call limit for one upstream call
	ShutdownTimeout Duration                    `yaml:"shutdown_timeout"`  // how long SIGTERM waits for in-flight calls
	LogFormat       string                      `yaml:"log_format"`        // json | text
	LogLevel        string                      `yaml:"log_level"`         // debug | info | warn | error
	Org             string                      `yaml:"org"`               // optional org.yaml applied at start
	MaxOutputTokens map[string]int64            `yaml:"max_output_tokens"` // model pattern (a plain name is a prefix) -> output limit reserved when a request sets none; merged over pricing's built-in table
	Counters        string                      `yaml:"counters"`          // redis://host:port/db shares budget counters between replicas; empty: in memory (or Postgres with a Postgres database)
	FailurePolicy   string                      `yaml:"failure_policy"`    // fail_open | fail_closed: what to do when the counters or ledger store is unreachable
	SpoolDir        string                      `yaml:"spool_dir"`         // where events wait on disk while the ledger store is unreachable; default: see Config.Spool
	LedgerRetention Duration                    `yaml:"ledger_retention"`  // drop ledger events older than this (Postgres: whole monthly partitions); 0 keeps all
	Webhooks        []Webhook                   `yaml:"webhooks"`          // where budget alerts are delivered
	LeaseTTL        Duration                    `yaml:"lease_ttl"`         // how long a replica's budget reservations outlive it if it dies; longer than upstream_timeout; default upstream_timeout + 5m
	Insights        allot.InsightPolicy         `yaml:"insights"`          // recommendation floor, anomaly factor, model equivalents
	Tasks           allot.TaskRules             `yaml:"tasks"`             // rules naming the task of calls that declare none
	Limits          Limits                      `yaml:"limits"`            // connection caps and deadlines, see limits.go
	TLS             TLS                         `yaml:"tls"`               // serve HTTPS with this certificate; empty: plain HTTP
	TrustProxy      bool                        `yaml:"trust_proxy"`       // trust X-Forwarded-Proto from a proxy in front (Secure cookies when it says https)
	Metrics         Metrics                     `yaml:"metrics"`           // who may read /metrics
	KeyCache        KeyCache                    `yaml:"key_cache"`         // how long resolved allot keys are trusted
	OIDC            OIDC                        `yaml:"oidc"`              // dashboard sign-in with OpenID Connect, see identity.go
	Keys            Keys                        `yaml:"keys"`              // bounds on self-service keys
	Admins          []string                    `yaml:"admins"`            // emails made admins at start (bootstrap), see docs/sso.md
	SCIM            SCIM                        `yaml:"scim"`              // provisioning by an identity provider at /scim/v2, see scim.go
}

// TLS is the certificate allot serves HTTPS with.
type TLS struct {
	CertFile string `yaml:"cert_file"` // PEM certificate chain
	KeyFile  string `yaml:"key_file"`  // PEM private key
}

// Enabled reports whether HTTPS is configured.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Metrics says who may read the Prometheus metrics, which show spend by
// team and model. By default /metrics is open on the main listener.
type Metrics struct {
	// TokenEnv names an environment variable holding a bearer token that
	// a scrape must send (Authorization: Bearer …).
	TokenEnv string `yaml:"token_env"`
	// Listen serves /metrics on this address only (e.g. 127.0.0.1:9090),
	// not on the main listener.
	Listen string `yaml:"listen"`
}

// Token reads the metrics bearer token from TokenEnv: "" when no TokenEnv
// is set, an error when it names an empty variable.
func (m Metrics) Token(getenv func(string) string) (string, error) {
	if m.TokenEnv == "" {
		return "", nil
	}
	tok := strings.TrimSpace(getenv(m.TokenEnv))
	if tok == "" {
		return "", fmt.Errorf("config: metrics.token_env names %s, which is empty; set it to the token Prometheus sends", m.TokenEnv)
	}
	return tok, nil
}

// KeyCache says how long the gateway trusts a resolved allot key.
type KeyCache struct {
	// TTL is how long a resolution is used before the key directory (the
	// database) is asked again. A revoked key stops sooner: every replica
	// drops keys revoked in the store within a second or so
	// (gateway.WatchRevocations).
	TTL Duration `yaml:"ttl"`
	// LastKnownGood is, under failure_policy fail_open, how long after the
	// directory last said a key was valid that key is still served while
	// the directory is unreachable; other keys then get 503. Unused under
	// fail_closed, which refuses every key it cannot check; 0 turns it off.
	LastKnownGood Duration `yaml:"last_known_good"`
}

// Webhook is one alert destination.
type Webhook struct {
	URL    string   `yaml:"url"`
	Format string   `yaml:"format"` // json (the notice as JSON) | slack (incoming-webhook text)
	Kinds  []string `yaml:"kinds"`  // threshold, downgrade, refusal; empty means all
}

// Provider is one upstream: a wire format, a base URL and where its key comes from.
type Provider struct {
	Name       string `yaml:"name"`         // unique name, used in models: and on events
	Type       string `yaml:"type"`         // openai | anthropic: the wire format it speaks
	BaseURL    string `yaml:"base_url"`     // e.g. https://api.openai.com/v1
	APIKeyEnv  string `yaml:"api_key_env"`  // env var holding the provider key
	APIKeyFile string `yaml:"api_key_file"` // or a file holding it (e.g. a mounted secret)
}

// APIKey reads the provider key from its env var or file; the key never
// sits in the config file itself (design invariant 8).
func (p Provider) APIKey() (string, error) {
	if p.APIKeyFile != "" {
		b, err := os.ReadFile(p.APIKeyFile)
		if err != nil {
			return "", fmt.Errorf("read api key of provider %s: %w", p.Name, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if p.APIKeyEnv != "" {
		return os.Getenv(p.APIKeyEnv), nil
	}
	return "", nil
}

// ReservationLease is how long a replica's budget reservations live
// unless settled or released: lease_ttl, or upstream_timeout plus five
// minutes. A replica that dies frees its share of a budget after it.
func (c Config) ReservationLease() time.Duration {
	if c.LeaseTTL > 0 {
		return time.Duration(c.LeaseTTL)
	}
	return time.Duration(c.UpstreamTimeout) + 5*time.Minute
}

// Spool is the directory where events wait while the ledger store is
// unreachable (and the crash journal lives): spool_dir when set; for a
// SQLite database, <database>.spool next to the file; for a database
// given as a URL (postgres://…), $XDG_STATE_HOME/allot/spool when
// XDG_STATE_HOME is set, else ./allot-spool. A URL is never part of
// the path: it may hold a password, and taken as a path it would make
// folders named after the server. getenv reads the environment
// (os.Getenv). The ledger creates the directory with mode 0700.
func (c Config) Spool(getenv func(string) string) string {
	switch {
	case c.SpoolDir != "":
		return c.SpoolDir
	case !strings.Contains(c.Database, "://"):
		return c.Database + ".spool"
	}
	if state := getenv("XDG_STATE_HOME"); filepath.IsAbs(state) { // the spec ignores relative values
		return filepath.Join(state, "allot", "spool")
	}
	return "allot-spool"
}

// Duration is a time.Duration written as "30s" or "10m" in YAML.
type Duration time.Duration

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 30s, 10m or 400d", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// ParseDuration parses a Go duration, or whole days written as "400d".
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a whole number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// Default returns the built-in defaults: OpenAI and Anthropic upstreams with
// keys from OPENAI_API_KEY and ANTHROPIC_API_KEY, SQLite in ./allot.db.
func Default() Config {
	return Config{
		Listen:   "127.0.0.1:8787",
		Database: "./allot.db",
		Providers: []Provider{
			{Name: "openai", Type: "openai", BaseURL: "https://api.openai.com/v1", APIKeyEnv: "OPENAI_API_KEY"},
			{Name: "anthropic", Type: "anthropic", BaseURL: "https://api.anthropic.com", APIKeyEnv: "ANTHROPIC_API_KEY"},
		},
		MaxBodyBytes:    32 << 20,
		UpstreamTimeout: Duration(10 * time.Minute),
		ShutdownTimeout: Duration(30 * time.Second),
		LogFormat:       "json",
		LogLevel:        "info",
		FailurePolicy:   "fail_closed",
		Limits:          DefaultLimits(),
		KeyCache:        KeyCache{TTL: Duration(10 * time.Second), LastKnownGood: Duration(24 * time.Hour)},
	}
}

// KeyLastKnownGood is how long the gateway serves keys last seen valid
// while the key directory is unreachable: key_cache.last_known_good under
// fail_open, none under fail_closed.
func (c Config) KeyLastKnownGood() time.Duration {
	if c.FailurePolicy != "fail_open" {
		return 0
	}
	return time.Duration(c.KeyCache.LastKnownGood)
}

// Load reads the config: path if given (it must exist), else ./allot.yaml
// when present, else the defaults; then ALLOT_* environment variables.
func Load(path string) (Config, error) {
	c := Default()
	explicit := path != ""
	if !explicit {
		path = DefaultFile
	}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := Parse(b, &c); err != nil {
			return c, fmt.Errorf("config %s: %w", path, err)
		}
	case explicit || !errors.Is(err, os.ErrNotExist):
		return c, fmt.Errorf("read config %s: %w", path, err)
	}
	if err := c.ApplyEnv(os.LookupEnv); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// Parse decodes YAML onto c, refusing unknown fields so typos are caught.
func Parse(b []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// ApplyEnv overrides settings from ALLOT_* variables: ALLOT_LISTEN,
// ALLOT_DATABASE, ALLOT_MAX_BODY_BYTES, ALLOT_UPSTREAM_TIMEOUT,
// ALLOT_SHUTDOWN_TIMEOUT, ALLOT_LOG_FORMAT, ALLOT_LOG_LEVEL, ALLOT_ORG,
// ALLOT_COUNTERS, ALLOT_FAILURE_POLICY, ALLOT_SPOOL_DIR, ALLOT_LEDGER_RETENTION, ALLOT_LEASE_TTL,
// ALLOT_KEY_CACHE_TTL, ALLOT_KEY_CACHE_LAST_KNOWN_GOOD, ALLOT_LIMITS_<KEY> for each key of limits:
// (e.g. ALLOT_LIMITS_MAX_CONNECTIONS), and per provider ALLOT_PROVIDER_<NAME>_BASE_URL and ..._API_KEY_ENV.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	str := map[string]*string{
		"ALLOT_LISTEN": &c.Listen, "ALLOT_DATABASE": &c.Database,
		"ALLOT_LOG_FORMAT": &c.LogFormat, "ALLOT_LOG_LEVEL": &c.LogLevel, "ALLOT_ORG": &c.Org,
		"ALLOT_COUNTERS": &c.Counters, "ALLOT_FAILURE_POLICY": &c.FailurePolicy, "ALLOT_SPOOL_DIR": &c.SpoolDir,
	}
	for name, p := range str {
		if v, ok := lookup(name); ok {
			*p = v
		}
	}
	if v, ok := lookup("ALLOT_MAX_BODY_BYTES"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("ALLOT_MAX_BODY_BYTES=%q: not a whole number of bytes", v)
		}
		c.MaxBodyBytes = n
	}
	for name, p := range map[string]*Duration{"ALLOT_UPSTREAM_TIMEOUT": &c.UpstreamTimeout, "ALLOT_SHUTDOWN_TIMEOUT": &c.ShutdownTimeout, "ALLOT_LEDGER_RETENTION": &c.LedgerRetention, "ALLOT_LEASE_TTL": &c.LeaseTTL,
		"ALLOT_KEY_CACHE_TTL": &c.KeyCache.TTL, "ALLOT_KEY_CACHE_LAST_KNOWN_GOOD": &c.KeyCache.LastKnownGood} {
		if v, ok := lookup(name); ok {
			d, err := ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%s=%q: not a duration like 30s or 400d", name, v)
			}
			*p = Duration(d)
		}
	}
	if err := c.Limits.applyEnv(lookup); err != nil {
		return err
	}
	for i := range c.Providers {
		p := &c.Providers[i]
		prefix := "ALLOT_PROVIDER_" + envName(p.Name) + "_"
		if v, ok := lookup(prefix + "BASE_URL"); ok {
			p.BaseURL = v
		}
		if v, ok := lookup(prefix + "API_KEY_ENV"); ok {
			p.APIKeyEnv = v
		}
	}
	return nil
}

func envName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, s)
}

// Validate checks the config and says what to fix.
func (c Config) Validate() error {
	if c.Listen == "" {
		return errors.New("config: listen is empty; set e.g. listen: 127.0.0.1:8787")
	}
	if c.Database == "" {
		return errors.New("config: database is empty; set e.g. database: ./allot.db")
	}
	if c.MaxBodyBytes <= 0 {
		return fmt.Errorf("config: max_body_bytes must be positive, got %d", c.MaxBodyBytes)
	}
	names := map[string]bool{}
	for i, p := range c.Providers {
		if p.Name == "" {
			return fmt.Errorf("config: providers[%d] has no name", i)
		}
		if names[p.Name] {
			return fmt.Errorf("config: provider %q is declared twice", p.Name)
		}
		names[p.Name] = true
		if p.Type != "openai" && p.Type != "anthropic" {
			return fmt.Errorf("config: provider %q has type %q; use openai or anthropic", p.Name, p.Type)
		}
		if !strings.HasPrefix(p.BaseURL, "http://") && !strings.HasPrefix(p.BaseURL, "https://") {
			return fmt.Errorf("config: provider %q base_url %q must start with http:// or https://", p.Name, p.BaseURL)
		}
	}
	if err := pricing.ValidateMaxOutput(c.MaxOutputTokens); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	for key := range c.Prices {
		if _, err := allot.ParseModelPattern(key); err != nil {
			return fmt.Errorf("config: prices: %s", allot.ErrorOf(err).Message)
		}
	}
	if c.FailurePolicy != "fail_open" && c.FailurePolicy != "fail_closed" {
		return fmt.Errorf("config: failure_policy %q must be fail_open or fail_closed", c.FailurePolicy)
	}
	if c.Counters != "" && !strings.HasPrefix(c.Counters, "redis://") && !strings.HasPrefix(c.Counters, "rediss://") {
		return fmt.Errorf("config: counters %q must be a redis:// URL (or empty for in-process counters)", c.Counters)
	}
	for i, h := range c.Webhooks {
		if !strings.HasPrefix(h.URL, "http://") && !strings.HasPrefix(h.URL, "https://") {
			return fmt.Errorf("config: webhooks[%d] url %q must start with http:// or https://", i, h.URL)
		}
		if h.Format != "" && h.Format != "json" && h.Format != "slack" {
			return fmt.Errorf("config: webhooks[%d] format %q must be json or slack", i, h.Format)
		}
	}
	if c.LeaseTTL != 0 && c.LeaseTTL <= c.UpstreamTimeout {
		return fmt.Errorf("config: lease_ttl %s must be longer than upstream_timeout %s, or reservations of slow calls would lapse", time.Duration(c.LeaseTTL), time.Duration(c.UpstreamTimeout))
	}
	if c.TLS.Enabled() && (c.TLS.CertFile == "" || c.TLS.KeyFile == "") {
		return errors.New("config: tls needs both cert_file and key_file")
	}
	if c.Metrics.Listen != "" && c.Metrics.Listen == c.Listen {
		return fmt.Errorf("config: metrics.listen %s is the main listen address; leave it empty to serve /metrics there", c.Metrics.Listen)
	}
	if c.KeyCache.TTL <= 0 || c.KeyCache.LastKnownGood < 0 {
		return fmt.Errorf("config: key_cache ttl %s must be positive and last_known_good %s not negative", time.Duration(c.KeyCache.TTL), time.Duration(c.KeyCache.LastKnownGood))
	}
	if err := c.SCIM.Validate(); err != nil {
		return err
	}
	if err := c.Insights.Validate(); err != nil {
		return fmt.Errorf("config: insights: %w", err)
	}
	if err := c.Tasks.Validate(); err != nil {
		return fmt.Errorf("config: tasks: %w", err)
	}
	if err := c.Limits.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := c.OIDC.validate(); err != nil {
		return err
	}
	if err := c.Keys.validate(); err != nil {
		return err
	}
	if err := validateAdmins(c.Admins); err != nil {
		return err
	}
	routes := make(map[allot.ModelPattern]string, len(c.Models))
	for _, model := range slices.Sorted(maps.Keys(c.Models)) {
		prov := c.Models[model]
		p, err := allot.ParseModelPrefix(model)
		if err != nil {
			return fmt.Errorf("config: models: %s", allot.ErrorOf(err).Message)
		}
		if other, dup := routes[p]; dup {
			return fmt.Errorf("config: models: %q and %q are the same pattern (a plain name is a prefix there); keep one", other, model)
		}
		routes[p] = model
		if !names[prov] {
			return fmt.Errorf("config: models: %q routes to provider %q, which is not declared under providers", model, prov)
		}
	}
	return nil
}
