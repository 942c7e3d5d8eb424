package budget

import "testing"

func TestMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"gpt-4o", "gpt-4o", true},
		{"gpt-4o", "gpt-4o-mini", false},
		{"gpt-4o*", "gpt-4o-mini", true},
		{"gpt-4o*", "gpt-4o", true},
		{"claude-*-4*", "claude-opus-4-1", true},
		{"claude-*-4*", "claude-3-opus", false},
		{"*", "openrouter/anthropic/claude", true},
		{"openrouter/*", "openrouter/anthropic/claude", true},
		{"gpt-?o", "gpt-4o", true},
		{"", "", true},
		{"", "x", false},
		{"a*b*c", "abxbyc", true},
		{"a*b*c", "abxbyd", false},
		{"*", "*00", true}, // a star in the name is no wildcard
	}
	for _, tt := range tests {
		if got := match(tt.pattern, tt.name); got != tt.want {
			t.Errorf("match(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("gpt-4o*", "gpt-4o-mini")
	f.Add("*a*b*", "xaybz")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		got := match(pattern, name)
		if pattern == name && !got {
			t.Fatalf("%q does not match itself", pattern)
		}
		if got2 := match("*", name); !got2 {
			t.Fatalf("* does not match %q", name)
		}
	})
}
