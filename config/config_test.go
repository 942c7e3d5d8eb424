package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadFileThenEnv(t *testing.T) {
	t.Parallel()
	c, err := loadWith("testdata/allot.yaml", map[string]string{
		"ALLOT_LISTEN":                 "0.0.0.0:8787",
		"ALLOT_PROVIDER_CORP_BASE_URL": "https://other.corp.test",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:8787" {
		t.Errorf("env did not override listen: %q", c.Listen)
	}
	if c.Database != "/tmp/x.db" || time.Duration(c.UpstreamTimeout) != 90*time.Second {
		t.Errorf("file settings lost: %+v", c)
	}
	if c.Providers[1].BaseURL != "https://other.corp.test" || c.Models["claude-"] != "corp" {
		t.Errorf("providers: %+v models %v", c.Providers, c.Models)
	}
	if c.MaxBodyBytes != 32<<20 {
		t.Errorf("default max body lost: %d", c.MaxBodyBytes)
	}
	if o := c.Prices["my-finetune"]; o.OutputMTok.String() != "12.5" {
		t.Errorf("price override = %+v", o)
	}
	if len(c.Tasks) != 1 || c.Tasks[0].When.App != "claude-cli" || c.Insights.SavingsFloorUSD != "5" || c.Insights.ModelEquivalents["gpt-4o"] != "gpt-4o-mini" {
		t.Errorf("tasks %+v insights %+v", c.Tasks, c.Insights)
	}
	if c.ReservationLease() != 90*time.Second+5*time.Minute {
		t.Errorf("default reservation lease %s, want upstream_timeout + 5m", c.ReservationLease())
	}
}

// loadWith is Load with a fake environment.
func loadWith(path string, env map[string]string) (Config, error) {
	c := Default()
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := Parse(b, &c); err != nil {
		return c, err
	}
	if err := c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func TestConfigErrorsSayWhatToFix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown field", "listne: x\n", "listne"},
		{"bad provider type", "providers: [{name: x, type: gemini, base_url: http://x}]\n", "use openai or anthropic"},
		{"bad url", "providers: [{name: x, type: openai, base_url: api.openai.com}]\n", "must start with http"},
		{"unknown provider in models", "models: {\"gpt-\": nope}\n", "not declared"},
		{"bad duration", "upstream_timeout: soon\n", "duration"},
		{"lease shorter than calls", "upstream_timeout: 1m\nlease_ttl: 30s\n", "lease_ttl 30s must be longer than upstream_timeout 1m0s"},
		{"task rule without condition", "tasks: [{name: review}]\n", "task rule 1 (review): set at least one condition"},
		{"task rule with bad regexp", "tasks: [{name: review, when: {text_matches: \"(\"}}]\n", "not a valid (RE2) regular expression"},
		{"bad savings floor", "insights: {savings_floor_usd: lots}\n", "savings_floor_usd"},
		{"output limit past any model", "max_output_tokens: {\"gpt-\": 9223372036854775807}\n", "max_output_tokens \"gpt-\" is 9223372036854775807; use 0..100000000"},
		{"negative output limit", "max_output_tokens: {\"o3\": -1}\n", "use 0..100000000"},
		// A model pattern that cannot match a model fails the load naming it, in every table.
		{"bad routing pattern", "providers: [{name: x, type: openai, base_url: http://x}]\nmodels: {\"gpt-[45]o\": x}\n", `models: model pattern "gpt-[45]o" contains "["`},
		{"bad price pattern", "prices: {\"claude opus\": {input_mtok: 1, output_mtok: 2}}\n", `prices: model pattern "claude opus" contains a space`},
		{"bad output-limit pattern", "max_output_tokens: {\"o{1,3}\": 1000}\n", `max_output_tokens: model pattern "o{1,3}" contains "{"`},
		{"routing key given twice", "providers: [{name: x, type: openai, base_url: http://x}]\nmodels: {\"gpt-4o\": x, \"gpt-4o*\": x}\n", `models: "gpt-4o" and "gpt-4o*" are the same pattern`},
		{"output-limit key given twice", "max_output_tokens: {\"o3\": 1, \"o3*\": 2}\n", `max_output_tokens: "o3" and "o3*" are the same pattern`},
		{"bad equivalence pattern", "insights: {model_equivalents: {\"gpt-4[o]\": gpt-4o-mini}}\n", `model_equivalents: model pattern "gpt-4[o]"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "allot.yaml")
			if err := os.WriteFile(p, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := loadWith(p, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestMissingDefaultFileIsFine(t *testing.T) {
	t.Parallel()
	if _, err := Load(filepath.Join(t.TempDir(), "absent.yaml")); err == nil {
		t.Fatal("an explicit config path that does not exist must be an error")
	}
}
