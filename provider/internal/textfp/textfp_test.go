package textfp

import (
	"hash/fnv"
	"strings"
	"testing"
)

func reference(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

func TestBytesIsFNV1a(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "a", `{"model":"gpt-4o"}`, strings.Repeat("é", 100)} {
		if got, want := Bytes([]byte(s)), reference(s); got != want {
			t.Errorf("Bytes(%q) = %x, hash/fnv says %x", s, got, want)
		}
	}
}

func TestText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		pieces []string // JSON values added with AddContent
		want   uint64
	}{
		{"none", nil, 0},
		{"one string is the hash of its text", []string{`"Be brief."`}, reference("Be brief.")},
		{"escapes are decoded", []string{`"Be\u0020brief.\n"`}, reference("Be brief.\n")},
		{"pieces are joined by newlines", []string{`"You review."`, `"Be brief."`}, reference("You review.\nBe brief.")},
		{"text parts", []string{`[{"type":"text","text":"You review."},{"type":"image_url","image_url":{}},{"type":"text","text":"Be brief."}]`}, reference("You review.\nBe brief.")},
		{"an empty prompt is still a prompt", []string{`""`}, reference("")},
		{"non-strings are ignored", []string{`null`, `42`, `{"text":"x"}`}, 0},
	}
	for _, tt := range tests {
		var fp Text
		for _, p := range tt.pieces {
			fp.AddContent([]byte(p))
		}
		if got := fp.Sum(); got != tt.want {
			t.Errorf("%s: Sum() = %x, want %x", tt.name, got, tt.want)
		}
	}
}

func TestTextDoesNotAllocate(t *testing.T) {
	prompt := []byte(`"` + strings.Repeat(`You are a careful reviewer.\nAnswer in bullet points. `, 50) + `"`)
	if n := testing.AllocsPerRun(100, func() {
		var fp Text
		fp.AddContent(prompt)
		_ = fp.Sum()
	}); n != 0 {
		t.Fatalf("%.1f allocations, want 0", n)
	}
}
