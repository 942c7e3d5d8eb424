package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// ID derives a stable event id from the user an event is attributed to and
// the source's key for it (e.g. "claude-code:msg_01…:req_01…"). It is 32
// lowercase hex characters, the gateway's id form, which the ledger stores
// compactly. Scoping the key by user means a member can never claim, and so
// suppress, another person's event by guessing its key.
func ID(user, key string) string {
	h := sha256.New()
	h.Write(strconv.AppendInt(nil, int64(len(user)), 10))
	h.Write([]byte{':'})
	h.Write([]byte(user))
	h.Write([]byte(key))
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// Key joins the parts of a source key with a separator that cannot occur
// in them ambiguously (a NUL byte), for sources whose identity has several
// fields.
func Key(parts ...string) string {
	n := 0
	for _, p := range parts {
		n += len(p) + 1
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return string(b)
}

// MaxCount bounds a running total a source reports (Codex's session
// totals, OTLP cumulative metrics): far above real usage (a quadrillion
// tokens), and low enough that differences and sums of totals never
// overflow int64. Larger totals are malformed. What one call (one event)
// carries is bounded much lower, by allot.MaxCallTokens (see CheckCall).
const MaxCount = 1_000_000_000_000_000
