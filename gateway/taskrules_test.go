package gateway

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/allot-dev/allot"
)

func TestTaskRulesMatch(t *testing.T) {
	t.Parallel()
	rules, err := CompileTaskRules([]allot.TaskRule{
		{Name: "code-review", When: allot.TaskMatch{App: "claude-cli", TextMatches: `(?i)\breview\b`}},
		{Name: "pinned", When: allot.TaskMatch{SystemFP: "00000000000000ff"}},
		{Name: "codex-work", When: allot.TaskMatch{App: "codex*"}},
		{Name: "translation", When: allot.TaskMatch{TextMatches: `translate (this|into)`}},
	})
	if err != nil {
		t.Fatal(err)
	}
	labelled := rules.WithLabels(allot.TaskLabels{0xabc: "triage", 0xff: "labelled-wins", 0xdead: ""})
	body := func(text string) []byte {
		b, _ := json.Marshal(map[string]any{"model": "claude-sonnet-4-5", "system": "You are helpful",
			"messages": []map[string]any{{"role": "user", "content": text}}})
		return b
	}
	tests := []struct {
		name  string
		rules *TaskRules
		app   string
		body  []byte
		fp    uint64
		want  string
	}{
		{"text and app", rules, "claude-cli", body("Please REVIEW this diff"), 0, "code-review"},
		{"text but other app", rules, "openai-python", body("please review this"), 0, ""},
		{"a word that only contains review", rules, "claude-cli", body("reviewer notes"), 0, ""},
		{"fingerprint rule", rules, "curl", body("hi"), 0xff, "pinned"},
		{"app prefix", rules, "codex-tui", body("hi"), 0, "codex-work"},
		{"escaped text", rules, "x", []byte(`{"input":"please translate \u0074his now"}`), 0, "translation"},
		{"keys are not text", rules, "x", []byte(`{"translate into":"nothing"}`), 0, ""},
		{"label first", labelled, "claude-cli", body("review"), 0xabc, "triage"},
		{"label over fingerprint rule", labelled, "curl", body("hi"), 0xff, "labelled-wins"},
		{"empty label ignored", labelled, "curl", body("hi"), 0xdead, ""},
		{"nothing matches", rules, "curl", body("hello"), 1, ""},
		{"nil rules", nil, "claude-cli", body("review"), 0xabc, ""},
		{"labels only", (*TaskRules)(nil).WithLabels(allot.TaskLabels{7: "seven"}), "", nil, 7, "seven"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := tt.rules.Match(tt.app, tt.body, tt.fp)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("Match = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

func TestCompileTaskRulesRefusesBadRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rule allot.TaskRule
		says string
	}{
		{allot.TaskRule{When: allot.TaskMatch{App: "x"}}, "name"},
		{allot.TaskRule{Name: allot.UntaggedTask, When: allot.TaskMatch{App: "x"}}, "name"},
		{allot.TaskRule{Name: "a"}, "at least one condition"},
		{allot.TaskRule{Name: "a", When: allot.TaskMatch{TextMatches: "(unclosed"}}, "regular expression"},
		{allot.TaskRule{Name: "a", When: allot.TaskMatch{SystemFP: "xyz"}}, "fingerprint"},
	} {
		_, err := CompileTaskRules([]allot.TaskRule{tc.rule})
		if allot.CodeOf(err) != allot.EInvalid || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%+v: %v, want EInvalid about %s", tc.rule, err, tc.says)
		}
	}
}
