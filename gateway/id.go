package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
)

// idSource makes idempotency ids: 16 bytes, a random per-process prefix
// and a counter, as 32 hex characters. Unique across restarts and
// replicas without a syscall per call.
type idSource struct {
	prefix [8]byte
	n      atomic.Uint64
}

func newIDSource() *idSource {
	s := &idSource{}
	if _, err := rand.Read(s.prefix[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return s
}

func (s *idSource) next() string {
	var b [16]byte
	copy(b[:8], s.prefix[:])
	n := s.n.Add(1)
	for i := 0; i < 8; i++ {
		b[15-i] = byte(n >> (8 * i))
	}
	return hex.EncodeToString(b[:])
}
