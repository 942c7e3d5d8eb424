package insights

import (
	"path"

	"github.com/allot-dev/allot"
)

// Options tune the analyses. Start from DefaultOptions or OptionsFrom.
type Options struct {
	Visibility    string            // allot.PeerNamed or allot.PeerAnonymous
	Floor         allot.Money       // recommendations saving less a month are dropped
	AnomalyFactor float64           // a day above this × the trailing median is an anomaly
	Equivalents   map[string]string // premium model glob -> cheaper model (same provider)
	MinGroup      int               // smallest group shown, at least allot.MinPeerGroup

	ShortOutput     int64 // cheaper_model: mean output per call at most this counts as short
	MinCalls        int64 // cheaper_model, prompt_caching: fewest calls worth a recommendation
	MinPrefix       int64 // prompt_caching: shortest prompt prefix providers cache
	LowCacheShare   int64 // prompt_caching: cache reads under this percent of input count as low
	GrowthMinCalls  int64 // context_growth: fewest calls in a growing session
	RunawayFactor   int64 // runaway_sessions: calls or tokens over this × the person's usual session
	RunawayMinCalls int64 // runaway_sessions: fewest calls in a runaway session
	TopRecommend    int   // team and org views list this many recommendations
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
	o.Equivalents = p.ModelEquivalents
	return o, nil
}

func (o Options) minGroup() int { return max(o.MinGroup, allot.MinPeerGroup) }

// equivalent returns the configured cheaper model for model, if any.
func (o Options) equivalent(model string) (string, bool) {
	best, target := "", ""
	for glob, to := range o.Equivalents {
		if ok, _ := path.Match(glob, model); ok && len(glob) > len(best) {
			best, target = glob, to
		}
	}
	return target, best != ""
}
