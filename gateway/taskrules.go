package gateway

import (
	"regexp"
	"strings"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/gateway/internal/reqtext"
)

// TaskRules names the task of calls that declare none (no X-Allot-Task,
// no metadata.task): an admin's label of the call's system-prompt
// fingerprint first, then the first configured rule whose conditions all
// hold. The request's text is read to match text_matches, never stored.
// A *TaskRules is immutable and safe for concurrent use.
type TaskRules struct {
	rules  []taskRule
	labels allot.TaskLabels
}

// taskRule is a compiled allot.TaskRule.
type taskRule struct {
	name      string
	app       string // exact, or a prefix when appPrefix
	appPrefix bool
	text      *regexp.Regexp
	fp        uint64
	hasFP     bool
}

// CompileTaskRules checks and compiles rules (config `tasks:`). A rule
// without a name or a condition, naming the untagged task, or with a bad
// expression or fingerprint is an EInvalid error naming the rule.
func CompileTaskRules(rules []allot.TaskRule) (*TaskRules, error) {
	if err := allot.TaskRules(rules).Validate(); err != nil {
		return nil, err
	}
	t := &TaskRules{}
	for _, r := range rules {
		w := r.When
		c := taskRule{name: strings.TrimSpace(r.Name), app: w.App}
		if p, ok := strings.CutSuffix(w.App, "*"); ok {
			c.app, c.appPrefix = p, true
		}
		if w.TextMatches != "" {
			c.text = regexp.MustCompile(w.TextMatches) // checked by Validate
		}
		if w.SystemFP != "" {
			c.fp, _ = allot.ParseFingerprint(w.SystemFP)
			c.hasFP = true
		}
		t.rules = append(t.rules, c)
	}
	return t, nil
}

// WithLabels returns rules that also apply the given fingerprint labels
// (`allot tasks label`), which win over the rules.
func (t *TaskRules) WithLabels(labels allot.TaskLabels) *TaskRules {
	out := &TaskRules{labels: make(allot.TaskLabels, len(labels))}
	if t != nil {
		out.rules = t.rules
	}
	for fp, name := range labels {
		if name != "" && name != allot.UntaggedTask {
			out.labels[fp] = name
		}
	}
	return out
}

// Match returns the task of an untagged call from app with request body
// body and system-prompt fingerprint systemFP (0 for none), and whether
// any label or rule named one. A nil *TaskRules matches nothing.
func (t *TaskRules) Match(app string, body []byte, systemFP uint64) (string, bool) {
	if t == nil {
		return "", false
	}
	if systemFP != 0 {
		if name, ok := t.labels[systemFP]; ok {
			return name, true
		}
	}
	var text []byte
	read := false
	for i := range t.rules {
		r := &t.rules[i]
		if r.appPrefix && !strings.HasPrefix(app, r.app) || !r.appPrefix && r.app != "" && app != r.app {
			continue
		}
		if r.hasFP && systemFP != r.fp {
			continue
		}
		if r.text != nil {
			if !read {
				text, read = reqtext.Values(body), true
			}
			if !r.text.Match(text) {
				continue
			}
		}
		return r.name, true
	}
	return "", false
}
