// Package insights answers an organization's two questions about its AI
// spend, for every person: which work consumes the most tokens, and how to
// use fewer without losing output. It is pure functions over the
// aggregates an allot.InsightSource hands out (never individual events):
// top consumers with their trend, privacy-preserving peer comparison,
// recommendations with the money each would save, weekday-aware forecasts
// with anomaly flags, seat versus consumption pricing, the good practice of
// each task's most efficient people, and FinOps (FOCUS) exports.
//
// Privacy is enforced here, for the CLI and the API alike (Authorize):
// members see themselves plus anonymous distributions, leads their team
// (by name only under peer_visibility: named), admins everything; a group
// of fewer than allot.MinPeerGroup people is never shown in a way that
// identifies anyone.
package insights
