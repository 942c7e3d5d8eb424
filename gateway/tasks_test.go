package gateway_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	anthropicsdk "github.com/anthropics/anthropic-sdk-go/v2"
	anthropicopt "github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/gateway"
)

// TestUntaggedCallsTakeTheirTaskFromRulesAndLabels: a call that declares
// no task gets the one its system prompt is labelled with, else the first
// configured rule it matches, else stays untagged; a declared task always
// wins; new labels apply to the next call; task budgets see the named task.
func TestUntaggedCallsTakeTheirTaskFromRulesAndLabels(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rules, err := gateway.CompileTaskRules([]allot.TaskRule{
		{Name: "code-review", When: allot.TaskMatch{App: "claude-cli", TextMatches: `(?i)\breview\b`}},
		{Name: "scripting", When: allot.TaskMatch{App: "ide-*"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var cur atomic.Pointer[gateway.TaskRules]
	cur.Store(rules)
	h := newHarness(t, harnessOptions{tasks: cur.Load, policy: &allot.Policy{Budgets: []allot.Budget{
		{Name: "sql-cap", Scope: "task:sql", LimitUSD: "0.000001", Period: "day"},
	}}})

	const sqlPrompt = "You are a SQL expert. Answer with one query."
	call := func(app, task, system, text string) error {
		opts := []anthropicopt.RequestOption{anthropicopt.WithHeader("X-Allot-App", app)}
		if task != "" {
			opts = append(opts, anthropicopt.WithHeader("X-Allot-Task", task))
		}
		p := anthropicsdk.MessageNewParams{Model: "claude-haiku-4-5", MaxTokens: 50,
			Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock(text))}}
		if system != "" {
			p.System = []anthropicsdk.TextBlockParam{{Text: system}}
		}
		_, err := h.anthropic(opts...).Messages.New(ctx, p)
		return err
	}

	cases := []struct {
		name, app, task, system, text string
		want                          string
	}{
		{"rule on app and text", "claude-cli", "", "", "Please review this diff", "code-review"},
		{"text that no rule matches", "claude-cli", "", "", "Write a haiku about rain", allot.UntaggedTask},
		{"same text from another app", "codex", "", "", "Please review this diff", allot.UntaggedTask},
		{"app prefix rule", "ide-vscode", "", "", "rename this variable", "scripting"},
		{"declared task wins", "claude-cli", "docs", "", "Please review this diff", "docs"},
		{"unlabelled system prompt", "claude-cli", "", sqlPrompt, "Please review this query", "code-review"},
	}
	for i, c := range cases {
		if err := call(c.app, c.task, c.system, c.text); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := h.waitEvents(i + 1)[i].Task; got != c.want {
			t.Errorf("%s: task %q, want %q", c.name, got, c.want)
		}
	}

	// An admin labels the SQL prompt: the next such call is task "sql",
	// whose budget is exhausted by any call, so it is refused before it
	// reaches the provider.
	fp := h.events()[len(cases)-1].SystemFP
	if fp == 0 {
		t.Fatal("the call with a system prompt has no fingerprint")
	}
	cur.Store(rules.WithLabels(allot.TaskLabels{fp: "sql"}))
	before := len(h.sim.Calls())
	err = call("claude-cli", "", sqlPrompt, "Please review this query")
	var apiErr *anthropicsdk.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 {
		t.Fatalf("a call of the labelled task over its budget: want 429, got %v", err)
	}
	if n := len(h.sim.Calls()); n != before {
		t.Errorf("the refused call reached the provider")
	}
	// A declared task still wins over the label.
	if err := call("claude-cli", "analytics", sqlPrompt, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	evs := h.waitEvents(len(cases) + 1)
	if got := evs[len(evs)-1].Task; got != "analytics" {
		t.Errorf("declared task with a labelled prompt: %q, want analytics", got)
	}
}
