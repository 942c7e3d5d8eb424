package allot

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Insights read pre-aggregated usage, never individual events, so that
// answering for a person or the whole org stays fast on ledgers of tens of
// millions of events. The types below are what a store aggregates while it
// appends events (per UTC day) and hands back summed over a range.

// DuplicateWindow is how close in time two calls with the same request
// fingerprint must be for the later one to count as a duplicate.
const DuplicateWindow = 5 * time.Minute

// PromptCacheTTL is the lifetime of a provider's prompt cache entry (the
// common 5-minute cache): a call with the same system prompt later than
// this after the previous one would have to write the cache again.
const PromptCacheTTL = 5 * time.Minute

// FailedStatus reports whether a call with this HTTP status failed or was
// abandoned (StatusClientGone): its spend bought nothing usable.
func FailedStatus(status int) bool { return status >= 400 }

// LongOutputBuckets is how many size classes of long outputs a store keeps
// for calls that set no output limit: outputs of at least
// LongOutputFloor(i) and below LongOutputFloor(i+1) tokens (the last class
// is open-ended). Outputs under LongOutputFloor(0) are not classed.
const LongOutputBuckets = 4

// LongOutputFloor returns the smallest output, in tokens, of long-output
// class i: 1024, 4096, 16384, 65536. Suggested output limits are these
// powers of four, so savings computed from the classes are exact.
func LongOutputFloor(i int) int64 { return 1024 << (2 * i) }

// LongOutputBucket returns the long-output class of an output size, or -1
// when it is shorter than LongOutputFloor(0).
func LongOutputBucket(output int64) int {
	b := -1
	for i := 0; i < LongOutputBuckets; i++ {
		if output >= LongOutputFloor(i) {
			b = i
		}
	}
	return b
}

// InsightKey is one line of usage: who (team, user) used which model (at
// which provider) for which task from which app.
type InsightKey struct {
	Team     string `json:"team"`
	User     string `json:"user"`
	Provider string `json:"provider"`
	Model    string `json:"model"` // the served model
	Task     string `json:"task"`
	App      string `json:"app"`
}

// UsageSum is the size and cost of a subset of calls.
type UsageSum struct {
	Requests int64 `json:"requests"`
	Input    int64 `json:"input_tokens"`
	Output   int64 `json:"output_tokens"`
	Cost     Money `json:"cost_usd"`
}

// Add returns the sum of u and o, saturated rather than wrapped.
func (u UsageSum) Add(o UsageSum) UsageSum {
	return UsageSum{Requests: SatAdd(u.Requests, o.Requests), Input: SatAdd(u.Input, o.Input), Output: SatAdd(u.Output, o.Output), Cost: u.Cost.Plus(o.Cost)}
}

// OutputClass sums the calls of one long-output class.
type OutputClass struct {
	Requests int64 `json:"requests"`
	Output   int64 `json:"output_tokens"`
}

// InsightUsage is the usage of one InsightKey over a range: the report
// totals plus what recommendations need beyond them.
type InsightUsage struct {
	InsightKey
	Requests    int64    `json:"requests"`
	Tokens      Tokens   `json:"tokens"`
	Cost        Money    `json:"cost_usd"`
	Failed      UsageSum `json:"failed"`     // calls with FailedStatus
	Duplicates  UsageSum `json:"duplicates"` // repeats of an identical request within DuplicateWindow
	NoMaxTokens int64    `json:"no_max_tokens_requests"`
	NoMaxOutput int64    `json:"no_max_tokens_output"` // output tokens of those calls
	// LongOutputs classes the outputs of calls without an output limit
	// (see LongOutputBucket).
	LongOutputs [LongOutputBuckets]OutputClass `json:"long_outputs"`
}

// PromptUsage is the usage of one system prompt (by fingerprint) on one
// InsightKey over a range. A store may count a prompt from its second
// call on (a prompt sent once has nothing to cache), so Requests can be
// one short of the calls that sent it.
type PromptUsage struct {
	InsightKey
	SystemFP uint64 `json:"system_fp"`
	Requests int64  `json:"requests"`
	Tokens   Tokens `json:"tokens"`
	Cost     Money  `json:"cost_usd"`
	MinInput int64  `json:"min_input_tokens"` // the smallest whole input of a call: bounds the shared prefix
	// CacheMisses counts calls that came more than PromptCacheTTL after the
	// previous call with this prompt: with caching each would write the
	// cache instead of reading it.
	CacheMisses int64 `json:"cache_misses"`
}

// SessionUsage is one session's calls on one InsightKey over a range.
type SessionUsage struct {
	InsightKey
	Session    string    `json:"session"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"` // time of the last call
	Requests   int64     `json:"requests"`
	Tokens     Tokens    `json:"tokens"`
	Cost       Money     `json:"cost_usd"`
	FirstInput int64     `json:"first_input_tokens"` // input of the first call
	LastInput  int64     `json:"last_input_tokens"`  // input of the last call
	Growing    int64     `json:"growing_turns"`      // calls whose input exceeded the previous call's
}

// DailySpend is one person's usage on one UTC day.
type DailySpend struct {
	Day      time.Time `json:"day"`
	Team     string    `json:"team"`
	User     string    `json:"user"`
	Requests int64     `json:"requests"`
	Tokens   int64     `json:"tokens"` // input + output
	Cost     Money     `json:"cost_usd"`
}

// InsightQuery selects aggregates over the whole UTC days overlapping
// [From, To), optionally of one user or team.
type InsightQuery struct {
	From, To time.Time
	User     string
	Team     string
	Totals   bool // InsightUsage: only requests, tokens and cost are wanted
	// EachSession, when set, receives InsightCalls' sessions one at a time
	// instead of InsightCalls.Sessions: an org's month holds millions, too
	// many to hold as structs. The session passed is reused after the call
	// and must not be changed: a store may rewrite only what differs. Its
	// Session name may be left empty: naming millions of sessions means
	// reading every name, and streaming consumers count and measure them.
	// keyID names its InsightKey within the call: the same non-negative
	// number for every session of that key, another for another key, and
	// small (an index, not a hash), so consumers can group by it cheaply.
	EachSession func(keyID int, s *SessionUsage) error
}

// InsightCalls is what a scope's calls show about its system prompts and
// sessions over a range, each in no particular order.
type InsightCalls struct {
	Prompts  []PromptUsage
	Sessions []SessionUsage // calls without a session are left out
}

// InsightSource hands out the aggregates insights are computed from,
// summed over a query's days. Implementations read pre-aggregated data and
// never scan events.
type InsightSource interface {
	// InsightUsage sums usage per InsightKey.
	InsightUsage(ctx context.Context, q InsightQuery) ([]InsightUsage, error)
	// InsightCalls sums the calls per InsightKey and system prompt, and
	// per InsightKey and session.
	InsightCalls(ctx context.Context, q InsightQuery) (InsightCalls, error)
	// DailySpend sums usage per person and UTC day.
	DailySpend(ctx context.Context, q InsightQuery) ([]DailySpend, error)
}

// Peer visibility policies: what a team lead may see of their team.
const (
	PeerAnonymous = "anonymous" // distributions only (the default)
	PeerNamed     = "named"     // members by name (groups under MinPeerGroup never)
)

// MinPeerGroup is the smallest group whose members' figures may be shown,
// even as a distribution: smaller groups would identify people.
const MinPeerGroup = 5

// InsightPolicy is the insights part of the configuration.
type InsightPolicy struct {
	PeerVisibility   string            `json:"peer_visibility,omitempty" yaml:"peer_visibility,omitempty"`     // named | anonymous (default)
	SavingsFloorUSD  string            `json:"savings_floor_usd,omitempty" yaml:"savings_floor_usd,omitempty"` // recommendations saving less a month are hidden (default "1")
	AnomalyFactor    float64           `json:"anomaly_factor,omitempty" yaml:"anomaly_factor,omitempty"`       // a day above this × the trailing median is an anomaly (default 3)
	ModelEquivalents map[string]string `json:"model_equivalents,omitempty" yaml:"model_equivalents,omitempty"` // premium model (ModelPattern) -> a cheaper model good enough for short calls
}

// Validate checks the policy and returns an EInvalid *Error.
func (p InsightPolicy) Validate() error {
	switch p.PeerVisibility {
	case "", PeerAnonymous, PeerNamed:
	default:
		return Errorf(EInvalid, "peer_visibility %q is not named or anonymous", p.PeerVisibility)
	}
	if p.SavingsFloorUSD != "" {
		if m, err := ParseUSD(p.SavingsFloorUSD); err != nil || m < 0 {
			return Errorf(EInvalid, "savings_floor_usd %q is not a dollar amount such as \"1\" or \"0.50\"", p.SavingsFloorUSD)
		}
	}
	if p.AnomalyFactor < 0 || (p.AnomalyFactor > 0 && p.AnomalyFactor < 1) {
		return Errorf(EInvalid, "anomaly_factor %v must be at least 1 (e.g. 3: a day over three times the usual)", p.AnomalyFactor)
	}
	for from, to := range p.ModelEquivalents {
		if strings.TrimSpace(to) == "" {
			return Errorf(EInvalid, "model_equivalents entry %q -> %q has an empty model", from, to)
		}
		if _, err := ParseModelPattern(from); err != nil {
			return Errorf(EInvalid, "model_equivalents: %s", ErrorOf(err).Message)
		}
	}
	return nil
}

// TaskRule names the task of calls that declare none: the first rule whose
// every set condition holds decides (config `tasks:`).
type TaskRule struct {
	Name string    `json:"name" yaml:"name"`
	When TaskMatch `json:"when" yaml:"when"`
}

// TaskMatch is a task rule's conditions; empty ones always hold, and a
// rule must set at least one.
type TaskMatch struct {
	App         string `json:"app,omitempty" yaml:"app,omitempty"`                   // client app, e.g. claude-cli; a trailing * matches a prefix
	TextMatches string `json:"text_matches,omitempty" yaml:"text_matches,omitempty"` // RE2 expression over the request's text (read, never stored)
	SystemFP    string `json:"system_fp,omitempty" yaml:"system_fp,omitempty"`       // system prompt fingerprint, 16 hex digits
}

// TaskRules is the `tasks:` list of the configuration, evaluated in order.
type TaskRules []TaskRule

// Validate checks every rule and returns an EInvalid *Error naming the
// first one at fault: each needs a name other than UntaggedTask and at
// least one condition; text_matches must be an RE2 expression and
// system_fp a fingerprint.
func (rs TaskRules) Validate() error {
	for i, r := range rs {
		where := fmt.Sprintf("task rule %d", i+1)
		name := strings.TrimSpace(r.Name)
		if name != "" {
			where += " (" + name + ")"
		}
		if name == "" || name == UntaggedTask {
			return Errorf(EInvalid, "%s: give the task a name other than %q", where, UntaggedTask)
		}
		w := r.When
		if w.App == "" && w.TextMatches == "" && w.SystemFP == "" {
			return Errorf(EInvalid, "%s: set at least one condition under when: app, text_matches or system_fp", where)
		}
		if w.TextMatches != "" {
			if _, err := regexp.Compile(w.TextMatches); err != nil {
				return Errorf(EInvalid, "%s: text_matches %q is not a valid (RE2) regular expression: %v", where, w.TextMatches, err)
			}
		}
		if w.SystemFP != "" {
			if _, err := ParseFingerprint(w.SystemFP); err != nil {
				return Errorf(EInvalid, "%s: %s", where, ErrorOf(err).Message)
			}
		}
	}
	return nil
}

// TaskLabelsSetting is the stored setting holding TaskLabels as JSON.
const TaskLabelsSetting = "task_labels"

// TaskLabels maps system-prompt fingerprints to task names. In JSON the
// fingerprints are written as 16 hex digits.
type TaskLabels map[uint64]string

// ParseTaskLabels decodes the stored TaskLabelsSetting (empty: none).
func ParseTaskLabels(b []byte) (TaskLabels, error) {
	labels := TaskLabels{}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &labels); err != nil {
			return nil, fmt.Errorf("stored task labels: %w", err)
		}
	}
	return labels, nil
}

// MarshalJSON writes the labels as {"<16 hex digits>": "task"}, sorted.
func (l TaskLabels) MarshalJSON() ([]byte, error) {
	m := make(map[string]string, len(l))
	for fp, task := range l {
		m[FormatFingerprint(fp)] = task
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads labels written by MarshalJSON.
func (l *TaskLabels) UnmarshalJSON(b []byte) error {
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	out := make(TaskLabels, len(m))
	for k, v := range m {
		fp, err := ParseFingerprint(k)
		if err != nil {
			return err
		}
		out[fp] = v
	}
	*l = out
	return nil
}

// Sorted lists the labels by fingerprint.
func (l TaskLabels) Sorted() []uint64 {
	fps := make([]uint64, 0, len(l))
	for fp := range l {
		fps = append(fps, fp)
	}
	sort.Slice(fps, func(i, j int) bool { return fps[i] < fps[j] })
	return fps
}

// FormatFingerprint writes a prompt fingerprint as 16 lowercase hex digits.
func FormatFingerprint(fp uint64) string { return fmt.Sprintf("%016x", fp) }

// ParseFingerprint reads a fingerprint written by FormatFingerprint (an
// optional 0x prefix and fewer digits are accepted); anything else is
// EInvalid.
func ParseFingerprint(s string) (uint64, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0x"), "0X")
	if t == "" || len(t) > 16 {
		return 0, Errorf(EInvalid, "fingerprint %q is not up to 16 hex digits; copy it from allot tasks untagged", s)
	}
	fp, err := strconv.ParseUint(t, 16, 64)
	if err != nil {
		return 0, Errorf(EInvalid, "fingerprint %q is not up to 16 hex digits; copy it from allot tasks untagged", s)
	}
	return fp, nil
}

// ReportInsightUsage reads the requests, tokens and cost of each
// InsightKey over [from, to) from r's rollups, filtered to q's user and
// team, in the report's order, and each key's position in the result:
// the part of InsightUsage both stores take from their reports.
func ReportInsightUsage(ctx context.Context, r Reporter, q InsightQuery, from, to time.Time) ([]InsightUsage, map[InsightKey]int, error) {
	rq := ReportQuery{
		By:   []Dimension{DimTeam, DimUser, DimProvider, DimModel, DimTask, DimApp},
		From: from, To: to, Filter: map[Dimension]string{},
	}
	if q.User != "" {
		rq.Filter[DimUser] = q.User
	}
	if q.Team != "" {
		rq.Filter[DimTeam] = q.Team
	}
	rows, err := r.Report(ctx, rq)
	if err != nil {
		return nil, nil, err
	}
	index := make(map[InsightKey]int, len(rows))
	out := make([]InsightUsage, 0, len(rows))
	for _, row := range rows {
		k := InsightKey{Team: row.Dims[0], User: row.Dims[1], Provider: row.Dims[2], Model: row.Dims[3], Task: row.Dims[4], App: row.Dims[5]}
		index[k] = len(out)
		out = append(out, InsightUsage{InsightKey: k, Requests: row.Requests, Tokens: row.Tokens, Cost: row.Cost})
	}
	return out, index, nil
}
