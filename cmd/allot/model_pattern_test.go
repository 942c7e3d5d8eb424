package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A model pattern that cannot match a model stops allot apply (org.yaml)
// and allot serve (allot.yaml) with a message naming it, rather than
// becoming a rule that silently matches nothing.
func TestInvalidModelPatternFailsApplyAndServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "allot.db")
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"apply: budget models", []string{"apply", "--database", db, "-f", write("budget.yaml", `name: acme
budgets:
  - {name: premium, scope: org, models: ["gpt-[45]o"], limit_usd: "10", period: month}
`)}, `budget "premium": models: model pattern "gpt-[45]o" contains "["`},
		{"apply: downgrade map", []string{"apply", "--database", db, "-f", write("downgrade.yaml", `name: acme
budgets:
  - {name: cheap, scope: org, limit_usd: "10", period: month, on_exceed: downgrade, downgrade: {"claude opus": claude-haiku-4-5}}
`)}, `budget "cheap": downgrade: model pattern "claude opus" contains a space`},
		{"apply: access list", []string{"apply", "--database", db, "-f", write("access.yaml", `name: acme
teams: [{name: data}]
access:
  - {scope: "team:data", deny_models: ["o{1,3}*"]}
`)}, `access rule "team:data": deny_models: model pattern "o{1,3}*" contains "{"`},
		{"serve: routing", []string{"serve", "--config", write("allot.yaml", `database: `+db+`
providers: [{name: oa, type: openai, base_url: "http://127.0.0.1:1"}]
models: {"gpt-[45]o": oa}
`)}, `models: model pattern "gpt-[45]o" contains "["`},
	}
	for _, tt := range tests {
		_, err := run(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: allot %s = %v, want an error saying %q", tt.name, tt.args[0], err, tt.want)
		}
	}
}
