package allot

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// ModelPattern is the one language every model list of the configuration
// speaks: budgets' models and downgrade maps, access allow and deny lists
// (org.yaml), and routing, price overrides, max_output_tokens and
// insights.model_equivalents (allot.yaml). A pattern is a model name in
// which
//
//   - * matches any run of characters, "/" included, and
//   - ? matches exactly one character (byte);
//
// every other character matches itself, case-sensitively. So "gpt-4o" is
// that model only, "claude-*" every Claude model and "*opus*" every Opus
// model under any prefix. * crosses "/" because model names are not paths:
// routers and proxies put the provider in front ("openrouter/claude-opus-4",
// "bedrock/anthropic.claude-…"), and a pattern written for a model must
// catch it behind any such prefix, the same in every list.
//
// A pattern is checked when the configuration loads (ParseModelPattern),
// so a typo is a config error naming it, never a rule that silently matches
// nothing: it must be non-empty, at most MaxModelPatternLen bytes of valid
// UTF-8, without spaces or control characters, and without the [ ] { } \
// of other glob languages, which this one does not have.
//
// The zero ModelPattern matches nothing. ModelPattern is comparable, so it
// can key a map.
type ModelPattern struct {
	text   string
	prefix string // the literal text before the first wildcard
	kind   patternKind
}

type patternKind uint8

const (
	patternNone   patternKind = iota // the zero pattern: matches nothing
	patternExact                     // no wildcard: text == model
	patternPrefix                    // one trailing *: strings.HasPrefix(model, prefix)
	patternGlob                      // anything else
)

// MaxModelPatternLen bounds a pattern; no model name comes near it.
const MaxModelPatternLen = 256

// ParseModelPattern checks s and compiles it; errors are EInvalid and
// quote s.
func ParseModelPattern(s string) (ModelPattern, error) {
	switch {
	case s == "":
		return ModelPattern{}, Errorf(EInvalid, "model pattern %q is empty; write a model name such as \"gpt-4o\" or a pattern such as \"claude-*\"", s)
	case len(s) > MaxModelPatternLen:
		return ModelPattern{}, Errorf(EInvalid, "model pattern %.40q… is %d bytes; the limit is %d", s, len(s), MaxModelPatternLen)
	case !utf8.ValidString(s):
		return ModelPattern{}, Errorf(EInvalid, "model pattern %q is not valid UTF-8", s)
	}
	for _, r := range s {
		switch {
		case unicode.IsSpace(r) || unicode.IsControl(r):
			return ModelPattern{}, Errorf(EInvalid, "model pattern %q contains a space or control character; model names have none", s)
		case strings.ContainsRune("[]{}\\", r):
			return ModelPattern{}, Errorf(EInvalid, "model pattern %q contains %q; patterns know only * (any characters) and ? (one character)", s, string(r))
		}
	}
	p := ModelPattern{text: s, kind: patternGlob}
	i := strings.IndexAny(s, "*?")
	switch {
	case i < 0:
		p.kind, p.prefix = patternExact, s
	case i == len(s)-1 && s[i] == '*':
		p.kind, p.prefix = patternPrefix, s[:i]
	default:
		p.prefix = s[:i]
	}
	return p, nil
}

// ParseModelPrefix parses a key of the tables that have always read a
// plain name as a prefix: models: (routing) and max_output_tokens: in
// allot.yaml, where "gpt-4o" has meant every model starting "gpt-4o". A key
// without a wildcard reads as that name followed by *; a key with one is
// an ordinary pattern. So existing configurations keep their meaning, and
// "gpt-*" or "*opus*" mean there what they mean everywhere else.
func ParseModelPrefix(s string) (ModelPattern, error) {
	p, err := ParseModelPattern(s)
	if err != nil || !p.Exact() {
		return p, err
	}
	return ParseModelPattern(s + "*")
}

// MustModelPattern is ParseModelPattern for patterns written in the
// source (built-in tables, tests); it panics on an invalid one.
func MustModelPattern(s string) ModelPattern {
	p, err := ParseModelPattern(s)
	if err != nil {
		panic(err)
	}
	return p
}

// ParseModelPatterns parses every pattern of list; the error names the
// first invalid one.
func ParseModelPatterns(list []string) ([]ModelPattern, error) {
	out := make([]ModelPattern, 0, len(list))
	for _, s := range list {
		p, err := ParseModelPattern(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// String returns the pattern as written.
func (p ModelPattern) String() string { return p.text }

// Exact reports whether the pattern has no wildcard: it names one model.
func (p ModelPattern) Exact() bool { return p.kind == patternExact }

// Match reports whether model matches the pattern.
func (p ModelPattern) Match(model string) bool {
	switch p.kind {
	case patternExact:
		return model == p.text
	case patternPrefix:
		return strings.HasPrefix(model, p.prefix)
	case patternGlob:
		return strings.HasPrefix(model, p.prefix) && globMatch(p.text[len(p.prefix):], model[len(p.prefix):])
	}
	return false
}

// globMatch matches name against pattern with * and ?, backtracking only
// to the last * (linear in practice, O(len(pattern)×len(name)) at worst).
func globMatch(pattern, name string) bool {
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == name[n]):
			p++
			n++
		case star >= 0:
			p = star + 1
			mark++
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// Specificity counts the pattern's literal characters: where several
// patterns of one table match a model, the most specific one decides
// (CompareModelPatterns), so an exact name beats every pattern of it and
// "gpt-4o-mini*" beats "gpt-4o*".
func (p ModelPattern) Specificity() int {
	return len(p.text) - strings.Count(p.text, "*") - strings.Count(p.text, "?")
}

// CompareModelPatterns orders patterns most specific first: more literal
// characters, then an exact name before a pattern, then by text, so a
// table sorted with it picks the same rule on every replica.
func CompareModelPatterns(a, b ModelPattern) int {
	if sa, sb := a.Specificity(), b.Specificity(); sa != sb {
		return sb - sa
	}
	if a.Exact() != b.Exact() {
		if a.Exact() {
			return -1
		}
		return 1
	}
	return strings.Compare(a.text, b.text)
}

// MatchAnyModel reports whether model matches one of patterns.
func MatchAnyModel(patterns []ModelPattern, model string) bool {
	for _, p := range patterns {
		if p.Match(model) {
			return true
		}
	}
	return false
}

// MarshalText writes the pattern as written.
func (p ModelPattern) MarshalText() ([]byte, error) { return []byte(p.text), nil }

// UnmarshalText parses a pattern from YAML or JSON, so a document holding
// an invalid one fails to decode with an error naming it.
func (p *ModelPattern) UnmarshalText(b []byte) error {
	q, err := ParseModelPattern(string(b))
	if err != nil {
		return err
	}
	*p = q
	return nil
}
