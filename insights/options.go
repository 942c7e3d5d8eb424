package insights

import (
	"maps"
	"slices"

	"github.com/allot-dev/allot"
)

// Options tune the analyses. Start from DefaultOptions or OptionsFrom.
type Options struct {
	Visibility    string       // allot.PeerNamed or allot.PeerAnonymous
	Floor         allot.Money  // recommendations saving less a month are dropped
	AnomalyFactor float64      // a day above this × the trailing median is an anomaly
	Equivalents   []Equivalent // premium models -> cheaper model (same provider); the most specific pattern decides
	MinGroup      int          // smallest group shown, at least allot.MinPeerGroup

	ShortOutput     int64 // cheaper_model: mean output per call at most this counts as short
	MinCalls        int64 // cheaper_model, prompt_caching: fewest calls worth a recommendation
	MinPrefix       int64 // prompt_caching: shortest prompt prefix providers cache
	LowCacheShare   int64 // prompt_caching: cache reads under this percent of input count as low
	GrowthMinCalls  int64 // context_growth: fewest calls in a growing session
	RunawayFactor   int64 // runaway_sessions: calls or tokens over this × the person's usual session
	RunawayMinCalls int64 // runaway_sessions: fewest calls in a runaway session
	TopRecommend    int   // team and org views list this many recommendations
}

// Equivalent maps the models matching From to a cheaper model good enough
// for short calls (config insights.model_equivalents).
type Equivalent struct {
	From allot.ModelPattern
	To   string
}

// DefaultOptions returns the defaults: anonymous peers, a $1/month floor,
// anomalies at 3× the trailing median.
func DefaultOptions() Options {
	return Options{
		Visibility:    allot.PeerAnonymous,
		Floor:         allot.USD,
		AnomalyFactor: 3,
		MinGroup:      allot.MinPeerGroup,
		ShortOutput:   800, MinCalls: 10, MinPrefix: 1024, LowCacheShare: 10,
		GrowthMinCalls: 6, RunawayFactor: 5, RunawayMinCalls: 30, TopRecommend: 20,
	}
}

// OptionsFrom returns DefaultOptions with the configured policy applied.
func OptionsFrom(p allot.InsightPolicy) (Options, error) {
	if err := p.Validate(); err != nil {
		return Options{}, err
	}
	o := DefaultOptions()
	if p.PeerVisibility != "" {
		o.Visibility = p.PeerVisibility
	}
	if p.SavingsFloorUSD != "" {
		o.Floor, _ = allot.ParseUSD(p.SavingsFloorUSD)
	}
	if p.AnomalyFactor != 0 {
		o.AnomalyFactor = p.AnomalyFactor
	}
	for _, from := range slices.Sorted(maps.Keys(p.ModelEquivalents)) {
		pat, err := allot.ParseModelPattern(from)
		if err != nil {
			return Options{}, err
		}
		o.Equivalents = append(o.Equivalents, Equivalent{From: pat, To: p.ModelEquivalents[from]})
	}
	return o, nil
}

func (o Options) minGroup() int { return max(o.MinGroup, allot.MinPeerGroup) }

// Equivalent returns the configured cheaper model for model, if any: that
// of the most specific Equivalents pattern matching it.
func (o Options) Equivalent(model string) (string, bool) {
	best := -1
	for i, e := range o.Equivalents {
		if e.From.Match(model) && (best < 0 || allot.CompareModelPatterns(e.From, o.Equivalents[best].From) < 0) {
			best = i
		}
	}
	if best < 0 {
		return "", false
	}
	return o.Equivalents[best].To, true
}
