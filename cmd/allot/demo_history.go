package main

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/allot-dev/allot"
)

// demoHistory makes the sample org's past usage: twice days of ordinary
// work (the period before gives trends something to compare with), and
// the habits that make every recommendation kind fire for someone:
//
//   - everyone: code reviews now and then on claude-opus-4-1 with short
//     answers, where most use claude-sonnet-4-5 (cheaper_model, grouped);
//   - grace: most of her reviews on opus, some abandoned mid-answer
//     (cheaper_model, failed_requests);
//   - ken: a support bot resending one long system prompt uncached
//     (prompt_caching);
//   - edsger: analyses retried with the identical request (duplicate_requests);
//   - frances: review sessions that resend the whole history (context_growth);
//   - john: summaries without max_tokens that run to thousands of tokens
//     (output_limits);
//   - radia: three agent sessions that ran away, one yesterday
//     (runaway_sessions, and the budget that refuses her);
//   - barbara: analyses on opus that use up the data team's premium budget
//     (its downgrade).
//
// Events before now only; priced by price like live calls.
type demoHistory struct {
	rng    *rand.Rand
	now    time.Time
	who    map[string]allot.Principal
	price  func(provider, model string, at time.Time, t allot.Tokens) (allot.Money, bool)
	events []allot.Event
}

func newDemoHistory(now time.Time, who map[string]allot.Principal, price func(string, string, time.Time, allot.Tokens) (allot.Money, bool)) *demoHistory {
	return &demoHistory{rng: rand.New(rand.NewPCG(7, 11)), now: now.UTC(), who: who, price: price}
}

// add records one call of user at at (dropped if not before now).
func (h *demoHistory) add(user string, at time.Time, dc demoCall, t allot.Tokens, session string, edit func(*allot.Event)) {
	if !at.Before(h.now) {
		return
	}
	e := allot.Event{
		ID: fmt.Sprintf("demo-%06d", len(h.events)), Time: at, Principal: h.who[user],
		Provider: providerOf(dc.route), RequestedModel: dc.model, ServedModel: dc.model, Route: dc.route,
		Task: dc.task, Session: session, App: dc.app, Source: allot.SourceImport,
		Status: 200, Stream: dc.stream, Latency: time.Duration(400+h.rng.IntN(9000)) * time.Millisecond,
		TTFT: time.Duration(150+h.rng.IntN(900)) * time.Millisecond, RequestBytes: t.Input * 4, Messages: 2 + h.rng.IntN(20),
		SystemFP: sessionPrompt(session), RequestFP: h.rng.Uint64(), Tokens: t,
	}
	if dc.route != allot.RouteEmbeddings {
		e.MaxTokens = 4096
	}
	if edit != nil {
		edit(&e)
	}
	e.Cost, e.CostKnown = h.price(e.Provider, e.ServedModel, at, e.Tokens)
	h.events = append(h.events, e)
}

// sessionPrompt is the system prompt (one of six) a session keeps for
// all its calls.
func sessionPrompt(session string) uint64 {
	f := fnv.New32a()
	f.Write([]byte(session))
	return uint64(f.Sum32()%6 + 1)
}

// Kinds of calls the habits make.
var (
	opusReview   = demoCall{"code-review", "claude-cli", "claude-cli/2.0.14 (external, cli)", allot.RouteMessages, "claude-opus-4-1", true}
	sonnetReview = demoCall{"code-review", "claude-cli", "claude-cli/2.0.14 (external, cli)", allot.RouteMessages, "claude-sonnet-4-5", true}
	supportBot   = demoCall{"support-bot", "anthropic-python", "Anthropic/Python 0.69.0", allot.RouteMessages, "claude-sonnet-4-5", false}
	analysis4o   = demoCall{"data-analysis", "openai-python", "OpenAI/Python 1.109.1", allot.RouteChat, "gpt-4o", false}
	analysisOpus = demoCall{"data-analysis", "anthropic-python", "Anthropic/Python 0.69.0", allot.RouteMessages, "claude-opus-4-1", false}
	longSummary  = demoCall{"summarize", "anthropic-python", "Anthropic/Python 0.69.0", allot.RouteMessages, "claude-sonnet-4-5", false}
	agentRun     = demoCall{"refactoring", "codex", "codex_cli_rs/0.46.0", allot.RouteResponses, "gpt-5", true}
)

// generate fills h.events with 2×days days of history up to now.
func (h *demoHistory) generate(days int) {
	today := h.now.Truncate(24 * time.Hour)
	for d := 2*days - 1; d >= 0; d-- {
		day := today.AddDate(0, 0, -d)
		weekend := day.Weekday() == time.Saturday || day.Weekday() == time.Sunday
		for i, u := range demoOrg.Users {
			calls := 14 + h.rng.IntN(16) + i
			if weekend {
				calls = h.rng.IntN(4)
			}
			for c := range calls {
				dc := demoCalls[h.rng.IntN(len(demoCalls))]
				at := day.Add(time.Duration(8*3600+h.rng.IntN(10*3600)) * time.Second)
				h.add(u.Name, at, dc, demoTokens(h.rng, dc), fmt.Sprintf("s-%s-%d-%d", u.Name, d, c/8), nil)
			}
		}
		if weekend {
			continue
		}
		h.habits(d, day)
	}
	for _, d := range []int{20, 9, 1} { // radia's runaway agent sessions
		if d < days {
			h.runaway(d, today.AddDate(0, 0, -d))
		}
	}
}

// habits adds one working day's habits.
func (h *demoHistory) habits(d int, day time.Time) {
	rng := h.rng
	at := func(hour int) time.Time { return day.Add(time.Duration(hour*3600+rng.IntN(3000)) * time.Second) }
	tok := func(in, inSpread, out, outSpread int) allot.Tokens {
		return allot.Tokens{Input: int64(in + rng.IntN(inSpread)), Output: int64(out + rng.IntN(outSpread))}
	}
	for c := range 12 { // grace: short reviews on opus, one in eight abandoned
		h.add("grace", at(9+c%8), opusReview, tok(3000, 6000, 100, 400), fmt.Sprintf("g-%d-%d", d, c/4), func(e *allot.Event) {
			if c%8 == 3 {
				e.Status = allot.StatusClientGone
			}
		})
	}
	for b := range 2 { // ken: a support bot, bursts a minute apart, one long uncached system prompt
		start := at(10 + 4*b)
		for c := range 10 {
			h.add("ken", start.Add(time.Duration(c)*time.Minute), supportBot, tok(7000, 3000, 200, 400), fmt.Sprintf("k-%d-%d", d, b), func(e *allot.Event) {
				e.SystemFP = 0x5eed5eed
			})
		}
	}
	for c := range 14 { // edsger: half his analyses resent, identical, 20 seconds later
		t := tok(6000, 6000, 300, 600)
		first := at(9 + c%9)
		fp := rng.Uint64()
		sess := fmt.Sprintf("e-%d-%d", d, c/5)
		h.add("edsger", first, analysis4o, t, sess, func(e *allot.Event) { e.RequestFP = fp })
		if c%2 == 0 {
			h.add("edsger", first.Add(20*time.Second), analysis4o, t, sess, func(e *allot.Event) { e.RequestFP = fp })
		}
	}
	for s := range 2 { // frances: review sessions resending the whole history
		start := at(10 + 5*s)
		for turn := range 12 {
			t := allot.Tokens{Input: int64(3000 + 4000*turn + rng.IntN(500)), Output: int64(300 + rng.IntN(500))}
			h.add("frances", start.Add(time.Duration(turn)*2*time.Minute), sonnetReview, t, fmt.Sprintf("f-%d-%d", d, s), nil)
		}
	}
	for c := range 6 { // john: summaries with no output limit
		h.add("john", at(9+c), longSummary, tok(2000, 4000, 5000, 7000), fmt.Sprintf("j-%d-%d", d, c), func(e *allot.Event) { e.MaxTokens = 0 })
	}
	for c := range 10 { // barbara: analyses on opus
		h.add("barbara", at(9+c%8), analysisOpus, tok(15000, 10000, 500, 700), fmt.Sprintf("b-%d-%d", d, c/3), func(e *allot.Event) { e.MaxTokens = 2048 })
	}
}

// runaway adds one of radia's agent sessions that did not stop: 180
// calls, 20 seconds apart, each sending 40k tokens and more.
func (h *demoHistory) runaway(d int, day time.Time) {
	start := day.Add(13 * time.Hour)
	if d == 0 || !start.Before(h.now) {
		return
	}
	for c := range 180 {
		t := allot.Tokens{Input: int64(40000 + 100*c), CacheRead: 0, Output: int64(1200 + h.rng.IntN(800))}
		t.Reasoning = t.Output / 2
		h.add("radia", start.Add(time.Duration(c)*20*time.Second), agentRun, t, fmt.Sprintf("r-%d", d), nil)
	}
}

// spend sums the cost of the events since from that keep counts.
func (h *demoHistory) spend(from time.Time, keep func(*allot.Event) bool) allot.Money {
	var sum allot.Money
	for i := range h.events {
		if e := &h.events[i]; !e.Time.Before(from) && keep(e) {
			sum = sum.Plus(e.Cost)
		}
	}
	return sum
}
