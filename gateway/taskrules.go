package gateway

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/allot-dev/allot"
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
				text, read = requestText(body), true
			}
			if !r.text.Match(text) {
				continue
			}
		}
		return r.name, true
	}
	return "", false
}

// requestText returns the string values of a JSON request body (not its
// keys), unescaped, one per line: the prompt's text as rules see it. A
// malformed body yields what could be read.
func requestText(body []byte) []byte {
	type frame struct{ object, wantKey bool }
	var stack []frame
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '{':
			stack = append(stack, frame{object: true, wantKey: true})
		case '[':
			stack = append(stack, frame{})
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ':':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].wantKey = false
			}
		case ',':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].wantKey = true
			}
		case '"':
			end, escaped := i+1, false
			for end < len(body) && body[end] != '"' {
				if body[end] == '\\' {
					escaped = true
					end++
				}
				end++
			}
			if n := len(stack); n == 0 || !stack[n-1].object || !stack[n-1].wantKey {
				out = appendJSONString(out, body[i:min(end+1, len(body))], escaped)
				out = append(out, '\n')
			}
			i = end
		}
	}
	return out
}

// appendJSONString appends the content of the quoted JSON string q.
func appendJSONString(out, q []byte, escaped bool) []byte {
	if escaped {
		var s string
		if err := json.Unmarshal(q, &s); err == nil {
			return append(out, s...)
		}
	}
	q = q[1:] // the opening quote
	if n := len(q); n > 0 && q[n-1] == '"' {
		q = q[:n-1]
	}
	return append(out, q...)
}
