package gateway_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// revocationFeed is a store's list of recently revoked keys.
type revocationFeed struct {
	mu     sync.Mutex
	hashes [][]byte
}

func (f *revocationFeed) RevokedKeys(context.Context, time.Duration, int) ([][]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.hashes...), nil
}

// TestRevokedKeyStopsBeforeTTL: a key revoked in the store (by another
// replica, SCIM or org.yaml) is refused as soon as WatchRevocations
// polls, though its cache entry is still fresh, and under fail_open it
// is not served from the last-known-good cache either.
func TestRevokedKeyStopsBeforeTTL(t *testing.T) {
	t.Parallel()
	for _, lkg := range []time.Duration{0, 24 * time.Hour} {
		gw, dir, _ := outageGateway(lkg, nil) // a hand-moved clock: the entry stays fresh
		if _, err := authenticate(gw, knownKey); err != nil {
			t.Fatal(err)
		}
		feed := &revocationFeed{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { gw.WatchRevocations(ctx, feed, 10*time.Millisecond); close(done) }()
		time.Sleep(30 * time.Millisecond)
		if _, err := authenticate(gw, knownKey); err != nil {
			t.Fatalf("a key nobody revoked: %v", err)
		}
		dir.set(func(d *outageDirectory) { clear(d.keys) })
		feed.mu.Lock()
		feed.hashes = [][]byte{allot.HashKey(knownKey)}
		feed.mu.Unlock()
		deadline := time.Now().Add(2 * time.Second)
		for {
			_, err := authenticate(gw, knownKey)
			if allot.CodeOf(err) == allot.EUnauthorized {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("lkg %s: a revoked key still authenticates 2s after the store listed it: %v", lkg, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		// And with the store down, it is not served as last-known-good.
		dir.set(func(d *outageDirectory) { d.down = true })
		if _, err := authenticate(gw, knownKey); err == nil {
			t.Fatalf("lkg %s: a revoked key is served while the store is down", lkg)
		}
		cancel()
		<-done
	}
}
