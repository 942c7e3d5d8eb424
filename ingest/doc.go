// Package ingest turns usage that never went through the gateway (tool
// telemetry, local session logs, provider usage reports, CSV) into the same
// allot.Event values the gateway records. Its subpackages parse one source
// each; this package holds what they share: stable idempotency ids, pricing
// with a source-reported fallback, attribution to people, and the Summary
// every importer reports.
//
// Every source event gets an ID derived from the source's own ids (message
// id, request id, span id, cumulative totals …) and the user it is
// attributed to, so importing or receiving the same usage twice stores it
// once (allot.Ledger.Append is idempotent on ID).
package ingest
