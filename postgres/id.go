package postgres

import (
	"encoding/hex"
)

// hexIDLen is the length of the gateway's ids: 32 lowercase hex characters.
const hexIDLen = 32

// encodeID stores an idempotency id compactly as bytes: 32 lowercase hex
// characters (the gateway's form) become their 16 bytes; any other id is
// its own bytes, with one NUL byte appended when it is at least 16 bytes
// long and all NUL from the 17th byte on (so exactly 16 bytes only ever
// means hex). The mapping is one to one, so two ids never collide.
func encodeID(id string) []byte {
	if b, ok := hexID(id); ok {
		return b
	}
	out := []byte(id)
	if len(out) >= 16 && allNUL(out[16:]) {
		out = append(out, 0)
	}
	return out
}

// decodeID reverses encodeID.
func decodeID(b []byte) string {
	if len(b) == 16 {
		return hex.EncodeToString(b)
	}
	if len(b) > 16 && allNUL(b[16:]) {
		return string(b[:len(b)-1])
	}
	return string(b)
}

// hexID decodes id when it is 32 lowercase hex characters.
func hexID(id string) ([]byte, bool) {
	if len(id) != hexIDLen {
		return nil, false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return nil, false
		}
	}
	b := make([]byte, 16)
	if _, err := hex.Decode(b, []byte(id)); err != nil {
		return nil, false
	}
	return b, true
}

func allNUL(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
