package pricing

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/allot-dev/allot/pricing/internal/feed"
)

// matcher is a compiled feed match rule. Matching is case-sensitive, as in
// the feed; Catalog retries a model name in lower case when it finds
// nothing, and provider names are compared in lower case.
type matcher struct {
	kind  matchKind
	text  string
	re    *regexp.Regexp
	parts []matcher
}

type matchKind uint8

const (
	matchEquals matchKind = iota
	matchStartsWith
	matchEndsWith
	matchContains
	matchRegex
	matchOr
	matchAnd
)

// compileClause turns a feed clause into a matcher, compiling regexes once.
func compileClause(c *feed.Clause) (matcher, error) {
	switch {
	case c.Equals != nil:
		return matcher{kind: matchEquals, text: *c.Equals}, nil
	case c.StartsWith != nil:
		return matcher{kind: matchStartsWith, text: *c.StartsWith}, nil
	case c.EndsWith != nil:
		return matcher{kind: matchEndsWith, text: *c.EndsWith}, nil
	case c.Contains != nil:
		return matcher{kind: matchContains, text: *c.Contains}, nil
	case c.Regex != nil:
		re, err := regexp.Compile(*c.Regex)
		if err != nil {
			return matcher{}, fmt.Errorf("regex %q: %w", *c.Regex, err)
		}
		return matcher{kind: matchRegex, re: re}, nil
	case c.Or != nil || c.And != nil:
		kind, subs := matchOr, c.Or
		if c.And != nil {
			kind, subs = matchAnd, c.And
		}
		m := matcher{kind: kind, parts: make([]matcher, len(subs))}
		for i := range subs {
			sub, err := compileClause(&subs[i])
			if err != nil {
				return matcher{}, err
			}
			m.parts[i] = sub
		}
		return m, nil
	}
	return matcher{}, fmt.Errorf("empty match rule")
}

// match reports whether s satisfies the rule. An empty "or" matches
// nothing and an empty "and" matches everything, as in logic.
func (m *matcher) match(s string) bool {
	switch m.kind {
	case matchEquals:
		return s == m.text
	case matchStartsWith:
		return strings.HasPrefix(s, m.text)
	case matchEndsWith:
		return strings.HasSuffix(s, m.text)
	case matchContains:
		return strings.Contains(s, m.text)
	case matchRegex:
		return m.re.MatchString(s)
	case matchOr:
		for i := range m.parts {
			if m.parts[i].match(s) {
				return true
			}
		}
		return false
	case matchAnd:
		for i := range m.parts {
			if !m.parts[i].match(s) {
				return false
			}
		}
		return true
	}
	return false
}
