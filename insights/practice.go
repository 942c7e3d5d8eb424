package insights

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/allot-dev/allot"
)

// Practice is what the most efficient people doing a task do differently
// from the others, anonymized: the cheapest quarter per call (at least
// the minimum group size) against the rest (likewise).
type Practice struct {
	Task       string        `json:"task"`
	People     int           `json:"people"`
	Efficient  PracticeGroup `json:"efficient"`
	Others     PracticeGroup `json:"others"`
	Highlights []string      `json:"highlights"`
}

// PracticeGroup describes how a group of people does a task.
type PracticeGroup struct {
	People           int          `json:"people"`
	CostPerRequest   allot.Money  `json:"cost_per_request_usd"`
	TokensPerRequest int64        `json:"tokens_per_request"`
	MedianInput      int64        `json:"median_input_per_request"` // over the group's people
	CacheHitRate     float64      `json:"cache_hit_rate"`           // share of input read from the cache
	LimitedShare     float64      `json:"limited_share"`            // share of calls that set max_tokens
	ModelMix         []ModelShare `json:"model_mix"`                // share of calls per model, largest first
}

// ModelShare is a model's share of a group's calls.
type ModelShare struct {
	Model string  `json:"model"`
	Share float64 `json:"share"`
}

// practiceMinCalls is the fewest calls of a task that make someone count
// as doing it.
const practiceMinCalls = 5

// GoodPractice compares, for each task (of tasks; all when nil) done by
// enough people, the most efficient quarter with the others, most people
// first.
func GoodPractice(usage []allot.InsightUsage, tasks []string, opts Options) []Practice {
	if tasks == nil {
		all := map[string]bool{}
		for _, u := range usage {
			all[u.Task] = true
		}
		tasks = slices.Sorted(maps.Keys(all))
	}
	minG := opts.minGroup()
	var out []Practice
	for _, task := range tasks {
		var doing []*person
		for _, p := range sortedPeople(people(usage, nil, func(k allot.InsightKey) bool { return k.Task == task }, false)) {
			if p.requests >= practiceMinCalls {
				doing = append(doing, p)
			}
		}
		q := max((len(doing)+3)/4, minG)
		if len(doing)-q < minG {
			continue
		}
		slices.SortStableFunc(doing, func(a, b *person) int {
			// cost per request, compared exactly: a.spend/a.req vs b.spend/b.req
			l, r := mulDiv(int64(a.spend), b.requests, 1), mulDiv(int64(b.spend), a.requests, 1)
			switch {
			case l < r:
				return -1
			case l > r:
				return 1
			}
			return cmpDesc(b.tokensPerRequest(), a.tokensPerRequest())
		})
		p := Practice{Task: task, People: len(doing), Efficient: practiceGroup(doing[:q]), Others: practiceGroup(doing[q:])}
		p.Highlights = highlights(p.Efficient, p.Others)
		out = append(out, p)
	}
	slices.SortStableFunc(out, func(a, b Practice) int { return cmpDesc(int64(a.People), int64(b.People)) })
	return out
}

func practiceGroup(group []*person) PracticeGroup {
	g := PracticeGroup{People: len(group)}
	var spend allot.Money
	var requests, tokens, input, cacheRead, noMax int64
	models := map[string]int64{}
	var inputs []int64
	for _, p := range group {
		spend = spend.Plus(p.spend)
		requests = allot.SatAdd(requests, p.requests)
		tokens = allot.SatAdd(tokens, p.tokens())
		input = allot.SatAdd(input, p.input)
		cacheRead = allot.SatAdd(cacheRead, p.cacheRead)
		noMax = allot.SatAdd(noMax, p.noMax)
		inputs = append(inputs, p.inputPerRequest())
		for m, n := range p.models {
			models[m] = allot.SatAdd(models[m], n)
		}
	}
	g.CostPerRequest = allot.Money(perRequest(int64(spend), requests))
	g.TokensPerRequest = perRequest(tokens, requests)
	g.MedianInput = quantile(slices.Sorted(slices.Values(inputs)), 50)
	g.CacheHitRate = ratio(cacheRead, input)
	g.LimitedShare = ratio(requests-noMax, requests)
	for _, m := range slices.Sorted(maps.Keys(models)) {
		g.ModelMix = append(g.ModelMix, ModelShare{m, ratio(models[m], requests)})
	}
	slices.SortStableFunc(g.ModelMix, func(a, b ModelShare) int {
		switch {
		case a.Share > b.Share:
			return -1
		case a.Share < b.Share:
			return 1
		}
		return 0
	})
	return g
}

func pct(f float64) int { return int(math.Round(f * 100)) }

// highlights says in words where the efficient group differs most.
func highlights(e, o PracticeGroup) []string {
	out := []string{}
	if len(e.ModelMix) > 0 {
		top := e.ModelMix[0]
		var other float64
		for _, m := range o.ModelMix {
			if m.Model == top.Model {
				other = m.Share
			}
		}
		if pct(top.Share)-pct(other) >= 20 {
			out = append(out, fmt.Sprintf("uses %s for %d%% of calls (others %d%%)", top.Model, pct(top.Share), pct(other)))
		}
	}
	if pct(e.CacheHitRate)-pct(o.CacheHitRate) >= 10 {
		out = append(out, fmt.Sprintf("reads %d%% of input from the prompt cache (others %d%%)", pct(e.CacheHitRate), pct(o.CacheHitRate)))
	}
	if o.MedianInput > 0 && e.MedianInput*3 <= o.MedianInput*2 {
		out = append(out, fmt.Sprintf("sends %d input tokens per call (others %d)", e.MedianInput, o.MedianInput))
	}
	if pct(e.LimitedShare)-pct(o.LimitedShare) >= 20 {
		out = append(out, fmt.Sprintf("sets max_tokens on %d%% of calls (others %d%%)", pct(e.LimitedShare), pct(o.LimitedShare)))
	}
	return out
}
