package allot

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"strings"
)

// KeyPrefix starts every allot virtual key, so leaked keys are easy to spot.
const KeyPrefix = "ak-"

var keyEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewKeySecret returns a fresh random key "ak-<id>-<secret>", its public id
// and the SHA-256 hash to store; the secret itself is never stored.
func NewKeySecret() (secret, id string, hash []byte) {
	var b [25]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	enc := keyEncoding.EncodeToString(b[:])
	id = "k" + enc[:8]
	secret = KeyPrefix + id[1:] + "-" + enc[8:]
	return secret, id, HashKey(secret)
}

// HashKey returns the SHA-256 of a presented key, the only form stored.
func HashKey(secret string) []byte {
	h := sha256.Sum256([]byte(strings.TrimSpace(secret)))
	return h[:]
}
