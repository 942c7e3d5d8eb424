package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/allot-dev/allot"
)

// settings is a SettingReader tests change by hand.
type settings struct {
	mu   sync.Mutex
	vals map[string][]byte
	err  error
}

func (s *settings) Setting(_ context.Context, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.vals[name], s.err
}

func (s *settings) set(name, value string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vals[name], s.err = []byte(value), err
}

// LiveTasks applies the configured rules at once and a label stored later
// from the next refresh; a failed read or undecodable labels keep the
// rules in force, and bad configured rules or labels refuse the start.
func TestLiveTasksFollowsStoredLabels(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	rules := allot.TaskRules{{Name: "code-review", When: allot.TaskMatch{App: "claude-cli"}}}
	store := &settings{vals: map[string][]byte{}}
	live, err := NewLiveTasks(ctx, rules, store, quiet)
	if err != nil {
		t.Fatal(err)
	}
	task := func() (string, string) {
		t.Helper()
		byApp, _ := live.Current().Match("claude-cli", []byte(`{}`), 0)
		byFP, _ := live.Current().Match("curl", []byte(`{}`), 0xabc)
		return byApp, byFP
	}
	steps := []struct {
		name    string
		labels  string
		readErr error
		wantErr string
		want    string // the task of a call with fingerprint 0xabc
	}{
		{"no labels yet", "", nil, "", ""},
		{"a label is stored", `{"0000000000000abc":"triage"}`, nil, "", "triage"},
		{"the store is down", `{}`, errors.New("database is gone"), "database is gone", "triage"},
		{"labels that do not decode", `{"0000000000000abc":`, nil, "stored task labels", "triage"},
		{"the label is renamed", `{"0000000000000abc":"support"}`, nil, "", "support"},
	}
	for _, st := range steps {
		store.set(allot.TaskLabelsSetting, st.labels, st.readErr)
		err := live.Refresh(ctx)
		if (err == nil) != (st.wantErr == "") || (err != nil && !strings.Contains(err.Error(), st.wantErr)) {
			t.Errorf("%s: Refresh error %v, want %q", st.name, err, st.wantErr)
		}
		if byApp, byFP := task(); byApp != "code-review" || byFP != st.want {
			t.Errorf("%s: tasks %q (by app) and %q (by label), want code-review and %q", st.name, byApp, byFP, st.want)
		}
	}

	if _, err := NewLiveTasks(ctx, allot.TaskRules{{Name: "bad", When: allot.TaskMatch{TextMatches: "("}}}, store, quiet); err == nil {
		t.Error("a rule that does not compile was accepted")
	}
	store.set(allot.TaskLabelsSetting, "not json", nil)
	if _, err := NewLiveTasks(ctx, rules, store, quiet); err == nil {
		t.Error("a start with undecodable labels was accepted")
	}
}
