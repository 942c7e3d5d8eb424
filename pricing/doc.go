// Package pricing prices LLM usage exactly. Its catalog is generated from
// the genai-prices v2 feed (MIT, see NOTICE at the repository root) and
// embedded; Load reads a newer copy of the same feed for `allot prices
// update`, and WithOverrides lays configured prices over either.
//
// Prices are never floats: every feed literal becomes an integer rate in
// nano-USD per million tokens, and a call's cost is rounded once, half up,
// to a whole nano-dollar (see Catalog.Cost).
//
// Feed features honoured: match rules (equals, starts_with, ends_with,
// contains, regex, or, and), provider_match, model_match,
// fallback_model_providers, cliff tiers on the request's total input,
// conditional prices by start_date and by daily UTC time window (the last
// entry whose constraint holds wins, as the feed specifies), output
// reasoning priced apart, and requests_kcount.
//
// Feed features ignored: audio, image, video, tool, citation and per-search
// prices (allot.Tokens does not count those kinds, so such usage is priced
// as text or not at all; models with only such prices are dropped and stay
// unpriced), usage extractors and api_pattern (providers' usage is parsed
// by the provider packages), context windows, names and descriptions. A
// constraint of a kind this package does not know never holds.
package pricing

//go:generate go run ./internal/gencatalog -in ../../shared/reference/pricing/genai-prices-v2.json -out catalog.json
