package allot

import (
	"slices"
	"strings"
	"testing"
)

func TestModelPatternMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, model string
		want           bool
	}{
		{"gpt-4o", "gpt-4o", true},
		{"gpt-4o", "gpt-4o-mini", false},
		{"gpt-4o", "GPT-4o", false}, // case-sensitive
		{"gpt-4o*", "gpt-4o-mini", true},
		{"gpt-4o*", "gpt-4o", true},
		{"gpt-4o*", "openai/gpt-4o", false},
		{"claude-*-4*", "claude-opus-4-1", true},
		{"claude-*-4*", "claude-3-opus", false},
		{"*", "openrouter/anthropic/claude", true},
		{"*", "", true},
		{"openrouter/*", "openrouter/anthropic/claude", true},
		{"*opus*", "openrouter/claude-opus-4", true}, // * crosses "/"
		{"*opus*", "claude-opus-4", true},
		{"*opus*", "claude-sonnet-4", false},
		{"*/gpt-4o", "azure/eu/gpt-4o", true},
		{"gpt-?o", "gpt-4o", true},
		{"gpt-?o", "gpt-o", false},
		{"a*b*c", "abxbyc", true},
		{"a*b*c", "abxbyd", false},
		{"*", "*00", true},  // a star in the name is no wildcard
		{"x*", "", false},   // the literal prefix must be there
		{"a*a", "a", false}, // prefix and suffix may not overlap
		{"**", "anything", true},
	}
	for _, tt := range tests {
		if got := MustModelPattern(tt.pattern).Match(tt.model); got != tt.want {
			t.Errorf("%q.Match(%q) = %v, want %v", tt.pattern, tt.model, got, tt.want)
		}
	}
	if (ModelPattern{}).Match("") || (ModelPattern{}).Match("gpt-4o") {
		t.Error("the zero pattern matches; it must match nothing")
	}
}

// A pattern that could only be a typo or another glob language fails
// with a message quoting it, instead of matching nothing.
func TestParseModelPatternRefusesWhatCannotBeAModel(t *testing.T) {
	t.Parallel()
	tests := []struct{ pattern, says string }{
		{"", "empty"},
		{" gpt-4o", "space"},
		{"gpt 4o", "space"},
		{"gpt-4o\n", "control"},
		{"gpt-[45]o", `"["`},
		{"claude-{opus,sonnet}", `"{"`},
		{`gpt\*`, `"\\"`},
		{"gpt-\xff", "UTF-8"},
		{strings.Repeat("a", MaxModelPatternLen+1), "limit"},
	}
	for _, tt := range tests {
		_, err := ParseModelPattern(tt.pattern)
		if err == nil {
			t.Errorf("ParseModelPattern(%q) succeeded, want an error", tt.pattern)
			continue
		}
		msg := ErrorOf(err).Message
		if ErrorOf(err).Code != EInvalid || !strings.Contains(msg, tt.says) || !strings.Contains(msg, "model pattern") {
			t.Errorf("ParseModelPattern(%q) = %v, want EInvalid saying %q", tt.pattern, err, tt.says)
		}
	}
	for _, ok := range []string{"gpt-4o", "*", "openrouter/*", "claude-3.5-sonnet@20240620", "models/gemini-1.5:free", strings.Repeat("a", MaxModelPatternLen)} {
		if _, err := ParseModelPattern(ok); err != nil {
			t.Errorf("ParseModelPattern(%q) = %v, want valid", ok, err)
		}
	}
}

func TestParseModelPrefixKeepsPlainNamesPrefixes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key, model string
		want       bool
	}{
		{"gpt-4o", "gpt-4o-mini", true}, // a plain name in models: has always been a prefix
		{"gpt-4o", "gpt-4", false},
		{"gpt-*", "gpt-4o", true},
		{"*opus*", "openrouter/claude-opus-4", true}, // with a wildcard: the ordinary pattern
		{"*opus", "claude-opus-4", false},
	}
	for _, tt := range tests {
		p, err := ParseModelPrefix(tt.key)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Match(tt.model); got != tt.want {
			t.Errorf("prefix key %q matches %q = %v, want %v", tt.key, tt.model, got, tt.want)
		}
	}
}

func TestCompareModelPatternsMostSpecificFirst(t *testing.T) {
	t.Parallel()
	var ps []ModelPattern
	for _, s := range []string{"*", "gpt-*", "gpt-4o*", "gpt-4o", "gpt-4o-mini*", "gpt-4?", "*4o*"} {
		ps = append(ps, MustModelPattern(s))
	}
	slices.SortFunc(ps, CompareModelPatterns)
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	want := []string{"gpt-4o-mini*", "gpt-4o", "gpt-4o*", "gpt-4?", "gpt-*", "*4o*", "*"}
	if !slices.Equal(got, want) {
		t.Errorf("sorted = %q, want %q", got, want)
	}
}

func TestModelPatternText(t *testing.T) {
	t.Parallel()
	var p ModelPattern
	if err := p.UnmarshalText([]byte("claude-*")); err != nil || !p.Match("claude-opus-4") {
		t.Fatalf("UnmarshalText(claude-*) = %v, %v", p, err)
	}
	if b, _ := p.MarshalText(); string(b) != "claude-*" {
		t.Errorf("MarshalText = %q", b)
	}
	if err := p.UnmarshalText([]byte("claude [opus]")); err == nil || !strings.Contains(err.Error(), "claude [opus]") {
		t.Errorf("UnmarshalText of a bad pattern = %v, want an error naming it", err)
	}
}

// FuzzModelPattern checks the matcher against its definition: a valid
// pattern matches itself (with its wildcards read literally only where
// the name holds them), "*" matches everything, and the compiled fast
// paths agree with the general glob matcher.
func FuzzModelPattern(f *testing.F) {
	f.Add("gpt-4o*", "gpt-4o-mini")
	f.Add("*a*b*", "xaybz")
	f.Add("a?c", "abc")
	f.Fuzz(func(t *testing.T, pattern, model string) {
		p, err := ParseModelPattern(pattern)
		if err != nil {
			return
		}
		got := p.Match(model)
		if want := globMatch(pattern, model); got != want {
			t.Fatalf("%q.Match(%q) = %v, glob says %v", pattern, model, got, want)
		}
		if !p.Match(pattern) {
			t.Fatalf("%q does not match itself", pattern)
		}
		if !MustModelPattern("*").Match(model) {
			t.Fatalf("* does not match %q", model)
		}
	})
}

// BenchmarkModelPatternMatch: budgets, access and routing match on every
// call, so each form must stay a few nanoseconds.
func BenchmarkModelPatternMatch(b *testing.B) {
	for _, bm := range []struct{ name, pattern string }{
		{"exact", "gpt-4o-mini"},
		{"prefix", "gpt-4o*"},
		{"glob", "*opus*"},
	} {
		p := MustModelPattern(bm.pattern)
		b.Run(bm.name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				for _, m := range [...]string{"gpt-4o-mini", "openrouter/claude-opus-4", "claude-haiku-4-5"} {
					if p.Match(m) {
						n++
					}
				}
			}
			if n == 0 {
				b.Fatal("matched nothing")
			}
		})
	}
}
