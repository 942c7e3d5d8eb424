package postgres

import (
	"bytes"
	"strings"
	"testing"
)

func TestIDEncoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id      string
		wantLen int
	}{
		{"0123456789abcdef0123456789abcdef", 16}, // the gateway's form: 16 bytes
		{"0123456789ABCDEF0123456789ABCDEF", 32}, // upper case stays text
		{"0123456789abcdef0123456789abcdeg", 32},
		{"otlp-1-2", 8},
		{"imp:00000000001", 15},
		{"exactly16bytes!!", 17}, // 16 bytes of text never look like hex
		{"exactly16bytes!!\x00", 18},
		{"exactly16bytes!!\x00\x00", 19},
		{"exactly16bytes!!\x00x", 18},
		{strings.Repeat("x", 40), 40},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		b := encodeID(tt.id)
		if len(b) != tt.wantLen {
			t.Errorf("encodeID(%q) is %d bytes, want %d", tt.id, len(b), tt.wantLen)
		}
		if got := decodeID(b); got != tt.id {
			t.Errorf("decodeID(encodeID(%q)) = %q", tt.id, got)
		}
		if other, dup := seen[string(b)]; dup {
			t.Errorf("%q and %q encode alike", tt.id, other)
		}
		seen[string(b)] = tt.id
	}
}

// FuzzIDEncoding: event ids come from outside (clients, telemetry,
// imports); every id must round trip and no two may share an encoding.
func FuzzIDEncoding(f *testing.F) {
	for _, s := range []string{"", "0123456789abcdef0123456789abcdef", "exactly16bytes!!", "exactly16bytes!!\x00", "a\x00b"} {
		f.Add(s, "0123456789abcdef0123456789abcdef")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ea, eb := encodeID(a), encodeID(b)
		if decodeID(ea) != a {
			t.Fatalf("%q round trips to %q", a, decodeID(ea))
		}
		if a != b && bytes.Equal(ea, eb) {
			t.Fatalf("%q and %q share the encoding %x", a, b, ea)
		}
	})
}
