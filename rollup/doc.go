// Package rollup holds the rules that turn events into insight sums,
// above the stores: the stores persist and return the rows it makes, and
// every rule that decides a number is here, once.
//
// The rules (each in the file named for it):
//
//   - a call repeats (Duplicate, seen.go) when the same user sent the same
//     request fingerprint at most allot.DuplicateWindow before or after it;
//   - a system prompt counts apart (PromptKnown, seen.go) only when it was
//     sent within PromptSeenWindow before the call; a prompt's first sight
//     is kept with its session's calls under no prompt;
//   - calls with a session or a counted prompt form chains (Calls,
//     calls.go): a chain's first call, and each call more than
//     allot.PromptCacheTTL after the previous one, is a cache miss
//     (CacheMiss); each call whose input exceeds the previous one's is a
//     growing turn (Growing). Follow joins a chain to the one before it,
//     Merge two whose calls interleave;
//   - failed, repeated and unlimited calls add up per attribution (Extras,
//     extras.go);
//   - Fold (fold.go) turns events into hourly rows keyed by CallKey and
//     ExtrasKey; Days (days.go) merges hours into days, a later hour
//     following the earlier ones; the packed-day format (packedday.go)
//     stores a day as varints; SessionTable and CallSums (sessions.go)
//     sum a period's sessions and prompts.
package rollup
