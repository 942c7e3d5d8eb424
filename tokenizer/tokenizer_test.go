package tokenizer

import "testing"

func TestCountTokens(t *testing.T) {
	t.Parallel()
	b := New()
	if err := b.Load(); err != nil {
		t.Fatalf("load embedded vocabulary: %v", err)
	}
	tests := []struct {
		text string
		want int64
	}{
		{"", 0},
		{"hello", 1},
		{"hello world", 2},
	}
	for _, tt := range tests {
		if got := b.CountTokens(tt.text); got != tt.want {
			t.Errorf("CountTokens(%q) = %d, want %d", tt.text, got, tt.want)
		}
	}
	long := b.CountTokens("The quick brown fox jumps over the lazy dog. ")
	if long < 8 || long > 12 {
		t.Errorf("a ten-word sentence counted as %d tokens", long)
	}
}
