package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/allot-dev/allot"
)

// Timing and size of the key cache.
const (
	// keyLookupTimeout bounds one question to the key directory, so a
	// directory that does not answer (a dropped network) costs a call
	// seconds, not its whole deadline.
	keyLookupTimeout = 5 * time.Second
	// keyRetry is how often the directory is asked again while it is
	// unreachable; calls in between do not wait on it.
	keyRetry = time.Second
	// keyRetryAfter is the Retry-After, in seconds, of a call refused
	// because its key could not be checked.
	keyRetryAfter = 2
	// keyProbeEvery is how often /readyz asks the directory itself; the
	// probes in between answer from the last one.
	keyProbeEvery = time.Second
	// maxCachedKeys bounds the cache: the keys seen valid in the last
	// last-known-good period. Beyond it, keys whose period passed go
	// first, then any.
	maxCachedKeys = 100_000
)

// keyCache remembers resolved keys so the hot path does not query the
// directory on every call. Only hashes are kept.
//
// A resolution is trusted for ttl. After that the directory is asked
// again; if it cannot answer (unreachable, not "unknown or revoked"), a key
// it said was valid within lkg is still served from its last-known-good
// entry (failure_policy fail_open), and any other key, or every key when
// lkg is 0 (fail_closed), is refused with EUnavailable and a Retry-After.
// A key the directory calls unknown or revoked is dropped from the cache
// at once, so a key once seen revoked is never served from it. While the
// directory is unreachable it is asked at most once every keyRetry; the
// outage is logged once when it starts and once when it ends.
type keyCache struct {
	resolver KeyResolver
	ttl      time.Duration // how long a resolution is trusted without asking
	lkg      time.Duration // how long a key seen valid is served while the directory is unreachable; 0 never
	now      func() time.Time
	logger   *slog.Logger
	metrics  *Metrics // optional

	mu      sync.RWMutex
	entries map[[32]byte]keyEntry

	fmu     sync.Mutex
	flights map[[32]byte]*flight // questions to the directory under way, by key hash

	state    sync.Mutex
	down     bool      // the directory did not answer its last question
	since    time.Time // when it stopped answering
	cause    error     // why: logged as the outage starts, the Err of refusals; never shown to clients
	retryAt  time.Time // while down: when to ask it again
	served   int64     // calls served on last-known-good keys this outage
	refused  int64     // calls refused this outage
	probedAt time.Time // last /readyz probe
}

type keyEntry struct {
	p     allot.Principal
	fresh time.Time // trusted without asking the directory until then
	good  time.Time // served while the directory is unreachable until then
}

func newKeyCache(r KeyResolver, ttl, lkg time.Duration, now func() time.Time, logger *slog.Logger, m *Metrics) *keyCache {
	return &keyCache{resolver: r, ttl: ttl, lkg: lkg, now: now, logger: logger, metrics: m,
		entries: map[[32]byte]keyEntry{}, flights: map[[32]byte]*flight{}}
}

// resolve returns the principal of a presented key; EUnauthorized for a
// missing, unknown or revoked key, EUnavailable when the directory cannot
// be asked and the key has no last-known-good entry to serve.
func (k *keyCache) resolve(ctx context.Context, key string) (allot.Principal, error) {
	if key == "" {
		return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "no allot key: send your allot key (ak-…) as Authorization: Bearer or x-api-key; create one with `allot keys create --user NAME`")
	}
	h := sha256.Sum256([]byte(key))
	now := k.now()
	k.mu.RLock()
	e, cached := k.entries[h]
	k.mu.RUnlock()
	if cached && now.Before(e.fresh) {
		return e.p, nil
	}
	down, due := k.ask(now)
	if down && k.servable(e, cached, now) {
		// Served at once; once a keyRetry the directory is asked again
		// in the background, so no call waits on a store that is down.
		if due {
			go func() { _, _ = k.askDirectory(context.Background(), h) }()
		}
		return k.lastKnownGood(e), nil
	}
	if !due {
		return allot.Principal{}, k.refusal()
	}
	p, err := k.askDirectory(ctx, h)
	switch {
	case err == nil:
		return p, nil
	case allot.CodeOf(err) == allot.EUnauthorized && allot.ErrorOf(err).Message == allot.ExpiredKeyMessage:
		return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "%s", allot.ExpiredKeyMessage)
	case allot.CodeOf(err) == allot.EUnauthorized:
		return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "invalid allot key: it is unknown or revoked; create one with `allot keys create --user NAME`")
	case ctx.Err() != nil:
		// The caller left or ran out of time; the question goes on for others.
		return allot.Principal{}, &allot.Error{Code: allot.EUnavailable, Message: "the call ended while its allot key was being checked", Err: err}
	}
	if k.servable(e, cached, now) {
		return k.lastKnownGood(e), nil
	}
	return allot.Principal{}, k.refusal()
}

// flight is one question to the directory, shared by the calls that
// present the same key meanwhile.
type flight struct {
	done chan struct{}
	p    allot.Principal
	err  error
}

// askDirectory asks the directory about h and records its answer (learn)
// or its silence (unreachable). Concurrent calls for one key share one
// question, so a busy key whose entry just expired, or many calls at
// start, cost the directory one lookup, not one each; the question is not
// cut short when the call that started it leaves.
func (k *keyCache) askDirectory(ctx context.Context, h [32]byte) (allot.Principal, error) {
	k.fmu.Lock()
	f, ok := k.flights[h]
	if !ok {
		f = &flight{done: make(chan struct{})}
		k.flights[h] = f
		go func() {
			f.p, f.err = k.lookup(context.WithoutCancel(ctx), h[:])
			if now := k.now(); !k.learn(h, f.p, f.err, now) {
				k.unreachable(now, f.err)
			}
			k.fmu.Lock()
			delete(k.flights, h)
			k.fmu.Unlock()
			close(f.done)
		}()
	}
	k.fmu.Unlock()
	select {
	case <-f.done:
		return f.p, f.err
	case <-ctx.Done():
		return allot.Principal{}, ctx.Err()
	}
}

// lookup asks the directory with keyLookupTimeout.
func (k *keyCache) lookup(ctx context.Context, hash []byte) (allot.Principal, error) {
	ctx, cancel := context.WithTimeout(ctx, keyLookupTimeout)
	defer cancel()
	return k.resolver.PrincipalByKeyHash(ctx, hash)
}

// learn records the directory's answer about h at now: a principal is
// cached, an unknown or revoked key is dropped from the cache (so it is
// never served from it). It reports false if the directory did not
// answer (err is then why).
func (k *keyCache) learn(h [32]byte, p allot.Principal, err error, now time.Time) bool {
	switch {
	case err == nil:
		k.store(h, p, now)
	case allot.CodeOf(err) == allot.EUnauthorized:
		k.mu.Lock()
		delete(k.entries, h)
		k.mu.Unlock()
	default:
		return false
	}
	k.reachable()
	return true
}

// store caches p for hash as seen valid at now.
func (k *keyCache) store(h [32]byte, p allot.Principal, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.entries[h]; !ok && len(k.entries) >= maxCachedKeys {
		for old, e := range k.entries {
			if !now.Before(e.good) && !now.Before(e.fresh) {
				delete(k.entries, old)
			}
		}
		for old := range k.entries {
			if len(k.entries) < maxCachedKeys {
				break
			}
			delete(k.entries, old)
		}
	}
	k.entries[h] = keyEntry{p: p, fresh: now.Add(k.ttl), good: now.Add(k.lkg)}
}

// servable reports whether a key's cache entry may be served while the
// directory is unreachable: fail_open, and seen valid within lkg.
func (k *keyCache) servable(e keyEntry, cached bool, now time.Time) bool {
	return cached && k.lkg > 0 && now.Before(e.good)
}

// lastKnownGood counts a call served from its last-known-good entry.
func (k *keyCache) lastKnownGood(e keyEntry) allot.Principal {
	k.state.Lock()
	k.served++
	k.state.Unlock()
	if m := k.metrics; m != nil {
		m.lastKnownGood.Inc()
	}
	return e.p
}

// refusal is the error of a call whose key cannot be checked now.
func (k *keyCache) refusal() error {
	k.state.Lock()
	k.refused++
	cause := k.cause
	k.state.Unlock()
	if m := k.metrics; m != nil {
		m.refused.WithLabelValues(string(allot.EUnavailable)).Inc()
	}
	msg := "allot cannot check allot keys now: its key directory (the database) is unreachable and failure_policy is fail_closed; retry in a few seconds"
	if k.lkg > 0 {
		msg = "allot cannot check this allot key now: its key directory (the database) is unreachable and the key was not seen valid in the last " + k.lkg.String() + "; retry in a few seconds"
	}
	return &allot.Error{Code: allot.EUnavailable, Message: msg, RetryAfter: keyRetryAfter, Err: cause}
}

// ask reports whether the directory is down and whether it may be asked
// now: always while it answers, once every keyRetry while it does not.
func (k *keyCache) ask(now time.Time) (down, due bool) {
	k.state.Lock()
	defer k.state.Unlock()
	if !k.down {
		return false, true
	}
	if now.Before(k.retryAt) {
		return true, false
	}
	k.retryAt = now.Add(keyRetry)
	return true, true
}

// unreachable records that the directory did not answer; the first time
// in an outage it logs why and what the gateway does meanwhile.
func (k *keyCache) unreachable(now time.Time, err error) {
	k.state.Lock()
	defer k.state.Unlock()
	k.cause = err
	k.retryAt = now.Add(keyRetry)
	if k.down {
		return
	}
	k.down, k.since, k.served, k.refused = true, now, 0, 0
	if k.lkg > 0 {
		k.logger.Warn("key directory unreachable: serving keys seen valid in the last key_cache.last_known_good, refusing others with 503 until it answers (failure_policy fail_open)",
			"last_known_good", k.lkg, "err", err)
	} else {
		k.logger.Error("key directory unreachable: calls whose key is not cached are refused with 503 until it answers (failure_policy fail_closed)", "err", err)
	}
}

// reachable records that the directory answered, ending an outage.
func (k *keyCache) reachable() {
	k.state.Lock()
	defer k.state.Unlock()
	if !k.down {
		return
	}
	k.down, k.cause = false, nil
	k.logger.Info("key directory reachable again", "outage", k.now().Sub(k.since).Round(time.Millisecond),
		"served_last_known_good", k.served, "refused", k.refused)
}

// check reports an error while the directory is unreachable, for
// /readyz. It asks the directory (for a hash no key has) at most once
// every keyProbeEvery; in between it answers from what calls and the
// last probe saw.
func (k *keyCache) check(ctx context.Context) error {
	now := k.now()
	k.state.Lock()
	probe := now.Sub(k.probedAt) >= keyProbeEvery
	if probe {
		k.probedAt = now
	}
	k.state.Unlock()
	if probe {
		var none [32]byte
		_, err := k.lookup(ctx, none[:])
		switch {
		case err == nil, allot.CodeOf(err) == allot.EUnauthorized:
			k.reachable()
		case errors.Is(ctx.Err(), context.Canceled):
			// The prober left; the directory may be fine.
		default: // failed, or did not answer within the probe's deadline
			k.unreachable(now, err)
		}
	}
	k.state.Lock()
	defer k.state.Unlock()
	if k.down {
		// The cause (hosts, users) is logged, not shown on an unauthenticated route.
		return fmt.Errorf("the key directory (the database) has been unreachable since %s", k.since.UTC().Format(time.RFC3339))
	}
	return nil
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
