package gateway

import (
	"context"
	"crypto/sha256"
	"net/http"
	"sync"
	"time"

	"github.com/allot-dev/allot"
)

// keyCache remembers resolved keys for a short time so the hot path does
// not query the directory on every call. Only hashes are kept.
type keyCache struct {
	resolver KeyResolver
	ttl      time.Duration
	now      func() time.Time
	mu       sync.RWMutex
	entries  map[[32]byte]keyEntry
}

type keyEntry struct {
	p       allot.Principal
	expires time.Time
}

func newKeyCache(r KeyResolver, ttl time.Duration, now func() time.Time) *keyCache {
	return &keyCache{resolver: r, ttl: ttl, now: now, entries: map[[32]byte]keyEntry{}}
}

// resolve returns the principal of a presented key, or EUnauthorized.
func (k *keyCache) resolve(ctx context.Context, key string) (allot.Principal, error) {
	if key == "" {
		return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "no allot key: send your allot key (ak-…) as Authorization: Bearer or x-api-key; create one with `allot keys create --user NAME`")
	}
	h := sha256.Sum256([]byte(key))
	now := k.now()
	k.mu.RLock()
	e, ok := k.entries[h]
	k.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.p, nil
	}
	p, err := k.resolver.PrincipalByKeyHash(ctx, h[:])
	if err != nil {
		if allot.CodeOf(err) == allot.EUnauthorized {
			return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "invalid allot key: it is unknown or revoked; create one with `allot keys create --user NAME`")
		}
		return allot.Principal{}, err
	}
	k.mu.Lock()
	if len(k.entries) > 100_000 {
		clear(k.entries)
	}
	k.entries[h] = keyEntry{p: p, expires: now.Add(k.ttl)}
	k.mu.Unlock()
	return p, nil
}

func (k *keyCache) clear() {
	k.mu.Lock()
	clear(k.entries)
	k.mu.Unlock()
}

// Authenticate resolves the allot key a request presents (Authorization:
// Bearer or x-api-key) through the gateway's key cache.
func (g *Gateway) Authenticate(r *http.Request) (allot.Principal, error) {
	return g.keys.resolve(r.Context(), presentedKey(r.Header))
}
