// Package budget rations LLM usage: it admits a call only when its worst
// case fits every budget that applies, rate limits and model access rules,
// then settles the reservation with the actual cost once the call is done.
//
// The flow for one call is Rationer.Admit, which reserves the worst-case
// cost and tokens atomically on every applicable counter (all or nothing),
// followed by exactly one of Admission.Settle (the actual cost becomes
// spent) or Admission.Release (nothing was used). Because every admitted
// call holds a reservation until it settles, concurrent calls can never
// push a hard budget past its limit as long as actual cost is at most the
// worst case (design invariant 2). Spend is attributed to the period of the
// call's time, so no reset job is needed: a new period is a new counter.
//
// Counters is the store of those counters; MemoryCounters keeps them in
// process memory, and the Redis and Postgres stores implement the same
// interface for several replicas.
package budget
