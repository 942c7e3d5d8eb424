package insights

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/allot-dev/allot"
)

// Recommendation kinds.
const (
	KindCheaperModel  = "cheaper_model"
	KindPromptCaching = "prompt_caching"
	KindDuplicates    = "duplicate_requests"
	KindContextGrowth = "context_growth"
	KindOutputLimits  = "output_limits"
	KindFailed        = "failed_requests"
	KindRunaway       = "runaway_sessions"
)

// Kinds lists every recommendation kind.
var Kinds = []string{KindCheaperModel, KindPromptCaching, KindDuplicates, KindContextGrowth, KindOutputLimits, KindFailed, KindRunaway}

// Recommendation is one concrete change, for one person, with the evidence
// it rests on and the money it would save in a month at the period's pace.
type Recommendation struct {
	Kind           string           `json:"kind"`
	User           string           `json:"user,omitempty"` // for whom; empty when shown anonymously
	Team           string           `json:"team,omitempty"`
	Task           string           `json:"task,omitempty"`
	Model          string           `json:"model,omitempty"`
	ToModel        string           `json:"to_model,omitempty"` // cheaper_model: the model to use instead
	Title          string           `json:"title"`
	Detail         string           `json:"detail"`
	Evidence       map[string]int64 `json:"evidence"` // counts and tokens over the period
	SpendUSD       allot.Money      `json:"spend_usd"`
	MonthlySavings allot.Money      `json:"monthly_savings_usd"`
}

// prices prices hypothetical calls at one instant.
type prices struct {
	p  allot.Pricer
	at time.Time
}

// cost prices one call of tokens t, request fees included.
func (p prices) cost(provider, model string, t allot.Tokens) (allot.Money, bool) {
	return p.p.Cost(provider, model, p.at, t)
}

// tokens prices the tokens t only, without per-request fees.
func (p prices) tokens(provider, model string, t allot.Tokens) (allot.Money, bool) {
	c, ok := p.p.Cost(provider, model, p.at, t)
	if !ok {
		return 0, false
	}
	zero, _ := p.p.Cost(provider, model, p.at, allot.Tokens{})
	return c - zero, true
}

// meanCall is the average call of n calls that used t in total.
func meanCall(t allot.Tokens, n int64) allot.Tokens {
	if n <= 0 {
		return allot.Tokens{}
	}
	return allot.Tokens{Input: t.Input / n, CacheRead: t.CacheRead / n, CacheWrite5m: t.CacheWrite5m / n,
		CacheWrite1h: t.CacheWrite1h / n, Output: t.Output / n, Reasoning: t.Reasoning / n}
}

// family is a model's family name: the letters it starts with
// ("claude-opus-4-1" and "claude-haiku-4-5" are "claude", "gpt-4o-mini" is
// "gpt", "o3" is "o").
func family(model string) string {
	m := strings.ToLower(model)
	end := 0
	for end < len(m) && m[end] >= 'a' && m[end] <= 'z' {
		end++
	}
	return m[:end]
}

// usd formats money for sentences: dollars and cents, rounded.
func usd(m allot.Money) string {
	cents := mulDiv(int64(m), 1, int64(allot.USD/100))
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s$%d.%02d", sign, cents/100, cents%100)
}

// line groups usage by person, task, provider and model (over apps).
type line struct {
	user, team, task, provider, model string
}

type lineSum struct {
	line
	requests int64
	tokens   allot.Tokens
	cost     allot.Money
	failed   allot.UsageSum
	dups     allot.UsageSum
	noMax    int64
	long     [allot.LongOutputBuckets]allot.OutputClass
}

func lines(usage []allot.InsightUsage, keep func(allot.InsightKey) bool) []*lineSum {
	m := map[line]*lineSum{}
	var order []line
	for _, u := range usage {
		if keep != nil && !keep(u.InsightKey) {
			continue
		}
		k := line{u.User, u.Team, u.Task, u.Provider, u.Model}
		s := m[k]
		if s == nil {
			s = &lineSum{line: k}
			m[k] = s
			order = append(order, k)
		}
		s.requests = allot.SatAdd(s.requests, u.Requests)
		s.tokens = s.tokens.Add(u.Tokens)
		s.cost = s.cost.Plus(u.Cost)
		s.failed = s.failed.Add(u.Failed)
		s.dups = s.dups.Add(u.Duplicates)
		s.noMax = allot.SatAdd(s.noMax, u.NoMaxTokens)
		for i := range s.long {
			s.long[i].Requests = allot.SatAdd(s.long[i].Requests, u.LongOutputs[i].Requests)
			s.long[i].Output = allot.SatAdd(s.long[i].Output, u.LongOutputs[i].Output)
		}
	}
	slices.SortFunc(order, func(a, b line) int {
		for _, c := range [...]int{strings.Compare(a.user, b.user), strings.Compare(a.task, b.task), strings.Compare(a.provider, b.provider), strings.Compare(a.model, b.model)} {
			if c != 0 {
				return c
			}
		}
		return 0
	})
	out := make([]*lineSum, len(order))
	for i, k := range order {
		out[i] = m[k]
	}
	return out
}

// Recommend computes the recommendations for the people of d.Scope, most
// savings first, dropping those under opts.Floor a month. Savings are
// priced with pricer at d.Now; calls are priced at their mean size.
func Recommend(d *Data, pricer allot.Pricer, opts Options) []Recommendation {
	pr := prices{pricer, d.Now}
	days := d.Period.Days
	mine := lines(d.Usage, d.Scope.has)
	everyone := mine
	if d.Scope.User != "" || d.Scope.Team != "" {
		everyone = lines(d.Usage, nil)
	}
	var out []Recommendation
	out = append(out, cheaperModel(mine, everyone, pr, days, opts)...)
	out = append(out, promptCaching(d.Prompts, pr, days, opts)...)
	out = append(out, duplicates(mine, days, opts)...)
	sessions := sessionsOf(d)
	out = append(out, contextGrowth(sessions, pr, days, opts)...)
	out = append(out, outputLimits(mine, d.Usage, pr, days, opts)...)
	out = append(out, failed(mine, days, opts)...)
	out = append(out, runaway(sessions, days, opts)...)
	kept := out[:0]
	for _, r := range out {
		if r.MonthlySavings >= opts.Floor && r.MonthlySavings > 0 {
			kept = append(kept, r)
		}
	}
	slices.SortStableFunc(kept, func(a, b Recommendation) int {
		if c := cmpDesc(int64(a.MonthlySavings), int64(b.MonthlySavings)); c != 0 {
			return c
		}
		return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.User, b.User), strings.Compare(a.Task, b.Task), strings.Compare(a.Model, b.Model))
	})
	return kept
}

// cheaperModel: a task done on a model whose calls are short, where a
// cheaper model of the same provider and family does the same task for
// other people, or is configured as equivalent. Savings: the same calls
// (at their mean size) priced on the cheaper model.
func cheaperModel(mine, everyone []*lineSum, pr prices, days int, opts Options) []Recommendation {
	users := map[[3]string]map[string]bool{} // task, provider, model -> people
	models := map[[2]string][]string{}       // task, provider -> models used
	for _, l := range everyone {
		if l.requests == 0 {
			continue
		}
		k := [3]string{l.task, l.provider, l.model}
		if users[k] == nil {
			users[k] = map[string]bool{}
			models[[2]string{l.task, l.provider}] = append(models[[2]string{l.task, l.provider}], l.model)
		}
		users[k][l.user] = true
	}
	var out []Recommendation
	for _, l := range mine {
		if l.requests < opts.MinCalls || l.tokens.Output/l.requests > opts.ShortOutput {
			continue
		}
		call := meanCall(l.tokens, l.requests)
		cur, ok := pr.cost(l.provider, l.model, call)
		if !ok {
			continue
		}
		type cand struct {
			model      string
			others     int
			configured bool
			perCall    allot.Money
		}
		var best *cand
		consider := func(c cand) {
			price, ok := pr.cost(l.provider, c.model, call)
			if !ok || price >= cur {
				return
			}
			c.perCall = cur - price
			better := best == nil || c.configured != best.configured && c.configured ||
				c.configured == best.configured && (c.others > best.others || c.others == best.others &&
					(c.perCall > best.perCall || c.perCall == best.perCall && c.model < best.model))
			if better {
				best = &c
			}
		}
		if to, ok := opts.Equivalent(l.model); ok && to != l.model {
			consider(cand{model: to, configured: true, others: len(users[[3]string{l.task, l.provider, to}])})
		}
		fam := family(l.model)
		for _, m := range models[[2]string{l.task, l.provider}] {
			if m == l.model || fam == "" || family(m) != fam {
				continue
			}
			who := users[[3]string{l.task, l.provider, m}]
			others := len(who)
			if who[l.user] {
				others--
			}
			if others > 0 {
				consider(cand{model: m, others: others})
			}
		}
		if best == nil {
			continue
		}
		save := allot.Money(l.requests) * best.perCall
		if monthly(save, days) < opts.Floor {
			continue
		}
		why := fmt.Sprintf("other people in your org use it for %s", l.task)
		if best.others >= opts.minGroup() {
			why = fmt.Sprintf("%d other people use it for %s", best.others, l.task)
		}
		if best.configured {
			why = "it is configured as its equivalent for short calls"
		}
		others := int64(best.others)
		if best.others < opts.minGroup() {
			others = 0 // too few to count without pointing at them
		}
		out = append(out, Recommendation{
			Kind: KindCheaperModel, User: l.user, Team: l.team, Task: l.task, Model: l.model, ToModel: best.model,
			Title: fmt.Sprintf("Use %s instead of %s for %s", best.model, l.model, l.task),
			Detail: fmt.Sprintf("Your %d %s calls on %s average %d output tokens; %s costs %s less per call and %s.",
				l.requests, l.task, l.model, call.Output, best.model, usd(best.perCall), why),
			Evidence: map[string]int64{"requests": l.requests, "mean_input_tokens": call.Input, "mean_output_tokens": call.Output, "others_using_cheaper": others},
			SpendUSD: l.cost, MonthlySavings: monthly(save, days),
		})
	}
	return out
}

// promptCaching: the same system prompt sent many times with few cache
// reads. Savings: the repeated prefix (bounded by the smallest input sent
// with it) read from the cache instead of sent as input on every call the
// cache would have served, minus writing it on every call that came after
// the cache expired.
func promptCaching(prompts []allot.PromptUsage, pr prices, days int, opts Options) []Recommendation {
	var out []Recommendation
	for _, p := range prompts {
		prefix := p.MinInput
		if p.Requests < opts.MinCalls || prefix < opts.MinPrefix || p.Tokens.CacheRead*100 >= opts.LowCacheShare*p.Tokens.Input {
			continue
		}
		reads := p.Requests - p.CacheMisses - p.Tokens.CacheRead/prefix
		if reads <= 0 {
			continue
		}
		in := p.Tokens.Input / p.Requests
		base, ok1 := pr.tokens(p.Provider, p.Model, allot.Tokens{Input: in})
		read, ok2 := pr.tokens(p.Provider, p.Model, allot.Tokens{Input: in, CacheRead: prefix})
		write, ok3 := pr.tokens(p.Provider, p.Model, allot.Tokens{Input: in, CacheWrite5m: prefix})
		if !ok1 || !ok2 || !ok3 {
			continue
		}
		save := allot.Money(reads)*(base-read) - allot.Money(p.CacheMisses)*(write-base)
		if save <= 0 || monthly(save, days) < opts.Floor {
			continue
		}
		out = append(out, Recommendation{
			Kind: KindPromptCaching, User: p.User, Team: p.Team, Task: p.Task, Model: p.Model,
			Title: fmt.Sprintf("Cache the system prompt %s of your %s calls", allot.FormatFingerprint(p.SystemFP), p.Task),
			Detail: fmt.Sprintf("%d calls on %s sent the same system prompt (at least %d tokens) with %d%% of input read from cache; marking it cacheable would serve about %d of them from the cache.",
				p.Requests, p.Model, prefix, p.Tokens.CacheRead*100/max(p.Tokens.Input, 1), reads),
			Evidence: map[string]int64{"requests": p.Requests, "prefix_tokens": prefix, "input_tokens": p.Tokens.Input,
				"cache_read_tokens": p.Tokens.CacheRead, "cache_misses": p.CacheMisses, "calls_served_from_cache": reads},
			SpendUSD: p.Cost, MonthlySavings: monthly(save, days),
		})
	}
	return out
}

// duplicates: identical requests repeated within allot.DuplicateWindow.
// Savings: what the repeats cost.
func duplicates(mine []*lineSum, days int, opts Options) []Recommendation {
	type k struct{ user, team, task string }
	sums := map[k]allot.UsageSum{}
	var order []k
	for _, l := range mine {
		if l.dups.Requests == 0 {
			continue
		}
		key := k{l.user, l.team, l.task}
		if _, ok := sums[key]; !ok {
			order = append(order, key)
		}
		sums[key] = sums[key].Add(l.dups)
	}
	var out []Recommendation
	for _, key := range order {
		s := sums[key]
		if monthly(s.Cost, days) < opts.Floor {
			continue
		}
		out = append(out, Recommendation{
			Kind: KindDuplicates, User: key.user, Team: key.team, Task: key.task,
			Title: fmt.Sprintf("Stop resending identical %s requests", key.task),
			Detail: fmt.Sprintf("%d of your calls repeated an identical request within %d minutes (retries or double submits), using %d input and %d output tokens; cache the answer or fix the retry.",
				s.Requests, int(allot.DuplicateWindow.Minutes()), s.Input, s.Output),
			Evidence: map[string]int64{"duplicates": s.Requests, "input_tokens": s.Input, "output_tokens": s.Output},
			SpendUSD: s.Cost, MonthlySavings: monthly(s.Cost, days),
		})
	}
	return out
}

// growingExcess is the input above the median of a session whose input
// grew evenly from first to last over n calls: (last-first) × ⌊n²/4⌋ /
// (2(n-1)) tokens, exact for an arithmetic progression.
func growingExcess(first, last, n int64) int64 {
	if n < 2 || last <= first {
		return 0
	}
	return mulDiv(last-first, (n*n)/4, 2*(n-1))
}

// contextGrowth: sessions whose input grows turn after turn (the whole
// history resent). Savings: the input above each session's median,
// estimated for an even growth, at the mean input price of those
// sessions' calls.
func contextGrowth(ss *sessionSet, pr prices, days int, opts Options) []Recommendation {
	type k struct{ user, team, task, provider, model string }
	type acc struct {
		sessions, excess, calls int64
		input                   allot.Tokens // input kinds of the growing sessions' calls
		spend                   allot.Money
		first, last             int64 // of the largest session
	}
	sums := map[k]*acc{}
	var order []k
	for i := range ss.growing {
		s := &ss.growing[i] // passed mayGrow
		n := s.requests
		if n < opts.GrowthMinCalls {
			continue
		}
		excess := growingExcess(s.firstInput, s.lastInput, n)
		if room := s.input - n*s.firstInput; excess > room {
			excess = max(room, 0)
		}
		if excess == 0 {
			continue
		}
		sk := &ss.keys[s.key]
		key := k{sk.User, sk.Team, sk.Task, sk.Provider, sk.Model}
		a := sums[key]
		if a == nil {
			a = &acc{}
			sums[key] = a
			order = append(order, key)
		}
		a.sessions++
		a.excess = allot.SatAdd(a.excess, excess)
		a.calls = allot.SatAdd(a.calls, n)
		a.input = a.input.Add(allot.Tokens{Input: s.input, CacheRead: s.cacheRead, CacheWrite5m: s.cacheWrite5m, CacheWrite1h: s.cw1h})
		a.spend = a.spend.Plus(s.cost)
		// The largest growth, the later of equal ones: whatever the order.
		if g := s.lastInput - s.firstInput; g > a.last-a.first || g == a.last-a.first && s.lastInput > a.last {
			a.first, a.last = s.firstInput, s.lastInput
		}
	}
	var out []Recommendation
	for _, key := range order {
		a := sums[key]
		// The excess is priced at the mean input price of these calls.
		call := meanCall(a.input, a.calls)
		inputCost, ok := pr.tokens(key.provider, key.model, call)
		if !ok || call.Input == 0 {
			continue
		}
		save := allot.Money(mulDiv(a.excess, int64(inputCost), call.Input))
		if monthly(save, days) < opts.Floor {
			continue
		}
		out = append(out, Recommendation{
			Kind: KindContextGrowth, User: key.user, Team: key.team, Task: key.task, Model: key.model,
			Title: fmt.Sprintf("Trim or restart long %s sessions", key.task),
			Detail: fmt.Sprintf("In %d of your sessions the whole history was resent turn after turn (one grew from %d to %d input tokens); compacting or starting afresh at the session's median size would send about %d fewer input tokens.",
				a.sessions, a.first, a.last, a.excess),
			Evidence: map[string]int64{"sessions": a.sessions, "requests": a.calls, "excess_input_tokens": a.excess, "first_input_tokens": a.first, "last_input_tokens": a.last},
			SpendUSD: a.spend, MonthlySavings: monthly(save, days),
		})
	}
	return out
}

// outputLimits: calls without an output limit whose outputs are far
// longer than the task's usual. The suggested limit is the smallest
// long-output class floor at least 4× the task's median output per call
// (the median over the people doing it); savings are the output tokens
// above it, at the model's output price.
func outputLimits(mine []*lineSum, everyone []allot.InsightUsage, pr prices, days int, opts Options) []Recommendation {
	// Each person's mean output per call, per task the scope does.
	wanted := map[string]bool{}
	for _, l := range mine {
		wanted[l.task] = true
	}
	type tu struct{ task, user string }
	outputs := map[tu][2]int64{} // output, requests
	for _, u := range everyone {
		if wanted[u.Task] {
			o := outputs[tu{u.Task, u.User}]
			outputs[tu{u.Task, u.User}] = [2]int64{allot.SatAdd(o[0], u.Tokens.Output), allot.SatAdd(o[1], u.Requests)}
		}
	}
	byTask := map[string][]int64{}
	for k, o := range outputs {
		if o[1] > 0 {
			byTask[k.task] = append(byTask[k.task], o[0]/o[1])
		}
	}
	for _, v := range byTask {
		slices.Sort(v)
	}
	var out []Recommendation
	for _, l := range mine {
		if l.noMax == 0 {
			continue
		}
		median := quantile(byTask[l.task], 50)
		class := -1
		for i := range allot.LongOutputBuckets {
			if allot.LongOutputFloor(i) >= 4*median {
				class = i
				break
			}
		}
		if median == 0 || class < 0 {
			continue
		}
		limit := allot.LongOutputFloor(class)
		var excess, calls int64
		for i := class; i < allot.LongOutputBuckets; i++ {
			capped := int64(allot.Money(l.long[i].Requests).Times(limit)) // saturating product of counts
			excess = allot.SatAdd(excess, allot.SatAdd(l.long[i].Output, -capped))
			calls = allot.SatAdd(calls, l.long[i].Requests)
		}
		if excess <= 0 {
			continue
		}
		in := l.tokens.Input / max(l.requests, 1)
		withOut, ok1 := pr.tokens(l.provider, l.model, allot.Tokens{Input: in, Output: 1_000_000})
		without, ok2 := pr.tokens(l.provider, l.model, allot.Tokens{Input: in})
		if !ok1 || !ok2 {
			continue
		}
		save := allot.Money(mulDiv(excess, int64(withOut-without), 1_000_000))
		if monthly(save, days) < opts.Floor {
			continue
		}
		out = append(out, Recommendation{
			Kind: KindOutputLimits, User: l.user, Team: l.team, Task: l.task, Model: l.model,
			Title: fmt.Sprintf("Set max_tokens to %d for %s on %s", limit, l.task, l.model),
			Detail: fmt.Sprintf("%d of your %d calls without an output limit wrote more than %d tokens, where %s usually needs %d; a limit would have cut %d output tokens.",
				calls, l.noMax, limit, l.task, median, excess),
			Evidence: map[string]int64{"requests_without_limit": l.noMax, "long_requests": calls, "task_median_output_tokens": median, "suggested_max_tokens": limit, "excess_output_tokens": excess},
			SpendUSD: l.cost, MonthlySavings: monthly(save, days),
		})
	}
	return out
}

// failed: spend on calls that errored or were abandoned (status 400 and
// up, 499 when the client left). Savings: what they cost.
func failed(mine []*lineSum, days int, opts Options) []Recommendation {
	var out []Recommendation
	for _, l := range mine {
		if l.failed.Requests == 0 || l.failed.Cost <= 0 || monthly(l.failed.Cost, days) < opts.Floor {
			continue
		}
		out = append(out, Recommendation{
			Kind: KindFailed, User: l.user, Team: l.team, Task: l.task, Model: l.model,
			Title: fmt.Sprintf("Fix failing %s calls on %s", l.task, l.model),
			Detail: fmt.Sprintf("%d of your %d calls failed or were abandoned but still used %d input and %d output tokens; check timeouts, retries and context length.",
				l.failed.Requests, l.requests, l.failed.Input, l.failed.Output),
			Evidence: map[string]int64{"failed_requests": l.failed.Requests, "requests": l.requests, "input_tokens": l.failed.Input, "output_tokens": l.failed.Output},
			SpendUSD: l.failed.Cost, MonthlySavings: monthly(l.failed.Cost, days),
		})
	}
	return out
}

// runaway: sessions with far more calls or tokens than the person's usual
// session (agent loops). Savings: each such session's cost above the
// person's median session cost.
func runaway(ss *sessionSet, days int, opts Options) []Recommendation {
	// Rows by person, through each key's person.
	userOf := make([]int32, len(ss.keys))
	ids := map[string]int32{}
	var names []string
	for k := range ss.keys {
		u := ss.keys[k].User
		id, ok := ids[u]
		if !ok {
			id = int32(len(names))
			ids[u] = id
			names = append(names, u)
		}
		userOf[k] = id
	}
	byUser := make([][]int32, len(names))
	for i := range ss.n {
		u := userOf[ss.row(i).key]
		byUser[u] = append(byUser[u], int32(i))
	}
	order := make([]int32, len(names))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(names[a], names[b]) })
	var out []Recommendation
	var scratch []int64
	median := func(n int, v func(int) int64) int64 {
		scratch = scratch[:0]
		for i := range n {
			scratch = append(scratch, v(i))
		}
		return medianOf(scratch)
	}
	for _, u := range order {
		user, idx := names[u], byUser[u]
		if len(idx) < 3 {
			continue // no usual to compare with
		}
		at := func(i int) *sessionRow { return ss.row(int(idx[i])) }
		medCalls := median(len(idx), func(i int) int64 { return at(i).requests })
		medTokens := median(len(idx), func(i int) int64 { return at(i).tokens })
		medCost := allot.Money(median(len(idx), func(i int) int64 { return int64(at(i).cost) }))
		var n, worstCalls, worstTokens int64
		var save, spend allot.Money
		team, task := "", ""
		for i := range idx {
			s := at(i)
			if s.requests < opts.RunawayMinCalls || s.requests < opts.RunawayFactor*medCalls && s.tokens < opts.RunawayFactor*medTokens {
				continue
			}
			n++
			spend = spend.Plus(s.cost)
			save = save.Plus(max(s.cost-medCost, 0))
			// The largest by calls, then tokens, team and task: the same
			// whatever order the store hands sessions over in.
			k := &ss.keys[s.key]
			if s.requests > worstCalls || s.requests == worstCalls && (s.tokens > worstTokens ||
				s.tokens == worstTokens && (k.Team < team || k.Team == team && k.Task < task)) {
				worstCalls, worstTokens, team, task = s.requests, s.tokens, k.Team, k.Task
			}
		}
		if n == 0 || monthly(save, days) < opts.Floor {
			continue
		}
		out = append(out, Recommendation{
			Kind: KindRunaway, User: user, Team: team, Task: task,
			Title: "Cap runaway agent sessions",
			Detail: fmt.Sprintf("%s far beyond your usual %d calls and %d tokens (the largest: %d calls, %d tokens); set a turn or budget limit on agents.",
				sessionsRan(n), medCalls, medTokens, worstCalls, worstTokens),
			Evidence: map[string]int64{"sessions": n, "usual_calls": medCalls, "usual_tokens": medTokens, "largest_calls": worstCalls, "largest_tokens": worstTokens},
			SpendUSD: spend, MonthlySavings: monthly(save, days),
		})
	}
	return out
}

// sessionsRan says how many sessions ran, in the right number.
func sessionsRan(n int64) string {
	if n == 1 {
		return "1 session ran"
	}
	return fmt.Sprintf("%d sessions ran", n)
}
