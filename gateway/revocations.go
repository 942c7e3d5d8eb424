package gateway

import (
	"context"
	"time"
)

// Revocations lists the keys revoked lately: allot.Directory's
// RevokedKeys, whose clock is the store's.
type Revocations interface {
	RevokedKeys(ctx context.Context, within time.Duration, limit int) ([][]byte, error)
}

// How replicas learn of revoked keys.
const (
	// RevocationPoll is how often WatchRevocations asks the store: a key
	// revoked on any replica (or by `allot apply`, SCIM, an admin)
	// stops working on every replica within about this long, whatever
	// key_cache.ttl is.
	RevocationPoll = time.Second
	// revocationWindow is how far back each poll looks. It spans many
	// polls, so a lookup under way while a key was revoked, which may
	// cache it again, is undone by the next poll; a replica that could
	// not poll for longer than this forgets every cached key instead.
	revocationWindow = 2 * time.Minute
	// maxRevocations bounds one poll's answer; at the bound every cached
	// key is forgotten instead.
	maxRevocations = 10_000
)

// WatchRevocations drops keys revoked in the store from the key cache
// every `every` (RevocationPoll when 0) until ctx ends, so leaving is
// immediate on every replica (docs/sso.md): without it a revoked key
// works on a replica that cached it until key_cache.ttl passes, and under
// failure_policy fail_open for as long as the store stays unreachable.
func (g *Gateway) WatchRevocations(ctx context.Context, src Revocations, every time.Duration) {
	if every <= 0 {
		every = RevocationPoll
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var lastOK time.Time
	for {
		g.pollRevocations(ctx, src, &lastOK, every)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pollRevocations asks src once and forgets what it names.
func (g *Gateway) pollRevocations(ctx context.Context, src Revocations, lastOK *time.Time, every time.Duration) {
	qctx, cancel := context.WithTimeout(ctx, keyLookupTimeout)
	defer cancel()
	hashes, err := src.RevokedKeys(qctx, revocationWindow, maxRevocations)
	if err != nil {
		return // the key cache itself handles an unreachable store
	}
	now := time.Now()
	if len(hashes) >= maxRevocations || !lastOK.IsZero() && now.Sub(*lastOK) > revocationWindow-every {
		g.keys.clear()
	} else {
		g.keys.forget(hashes)
	}
	*lastOK = now
}

// forget drops the cache entries of the given key hashes.
func (k *keyCache) forget(hashes [][]byte) {
	if len(hashes) == 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, h := range hashes {
		if len(h) == 32 {
			delete(k.entries, [32]byte(h))
		}
	}
}
