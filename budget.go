package allot

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Budget is one declared spending limit from org.yaml: whose calls count
// (Scope), which models (Models), how much (LimitUSD or LimitTokens), over
// what period, and what happens when a call would exceed it (OnExceed).
// Fields are plain strings and ints so YAML and JSON decode them without
// custom code; Validate checks them and package budget compiles them.
type Budget struct {
	Name        string            `json:"name" yaml:"name"`
	Scope       string            `json:"scope" yaml:"scope"`                                   // org | team:NAME | user:NAME | key:LABEL | task:NAME
	Models      []string          `json:"models,omitempty" yaml:"models,omitempty"`             // optional model patterns (ModelPattern): only these models count and are limited
	LimitUSD    string            `json:"limit_usd,omitempty" yaml:"limit_usd,omitempty"`       // decimal dollars, e.g. "500"; exclusive with LimitTokens
	LimitTokens int64             `json:"limit_tokens,omitempty" yaml:"limit_tokens,omitempty"` // input+output tokens
	Period      string            `json:"period" yaml:"period"`                                 // day | week | month | rolling:DURATION (default month)
	Timezone    string            `json:"timezone,omitempty" yaml:"timezone,omitempty"`         // IANA name for calendar periods (default UTC)
	OnExceed    string            `json:"on_exceed,omitempty" yaml:"on_exceed,omitempty"`       // block | downgrade | notify (default block)
	Downgrade   map[string]string `json:"downgrade,omitempty" yaml:"downgrade,omitempty"`       // model pattern -> cheaper model, for on_exceed: downgrade
	AlertAt     []int             `json:"alert_at,omitempty" yaml:"alert_at,omitempty"`         // percentages of the limit that raise an alert once per period
}

// What a budget does when a call would exceed it.
const (
	OnExceedBlock     = "block"     // refuse the call (EBudget)
	OnExceedDowngrade = "downgrade" // serve a cheaper model from Budget.Downgrade instead
	OnExceedNotify    = "notify"    // let the call through and alert
)

// DefaultUserBudgetName names the default user budget when it declares no name.
const DefaultUserBudgetName = "user-default"

// ScopeKind is what a budget, rate limit or access rule applies to.
type ScopeKind string

// Scope kinds.
const (
	ScopeOrg  ScopeKind = "org"  // every call
	ScopeTeam ScopeKind = "team" // calls of one team's members
	ScopeUser ScopeKind = "user" // calls of one user
	ScopeKey  ScopeKind = "key"  // calls made with keys of one label
	ScopeTask ScopeKind = "task" // calls tagged with one task (client-declared, never a security boundary)
)

// ParseScope splits "team:platform" into its kind and name; "org" has no
// name. Unknown kinds and missing names are EInvalid.
func ParseScope(s string) (ScopeKind, string, error) {
	s = strings.TrimSpace(s)
	if s == string(ScopeOrg) {
		return ScopeOrg, "", nil
	}
	kind, name, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	switch ScopeKind(kind) {
	case ScopeTeam, ScopeUser, ScopeKey, ScopeTask:
		if !ok || name == "" {
			return "", "", Errorf(EInvalid, "scope %q names no %s; write %s:NAME", s, kind, kind)
		}
		return ScopeKind(kind), name, nil
	}
	return "", "", Errorf(EInvalid, "scope %q is not one of org, team:NAME, user:NAME, key:LABEL, task:NAME", s)
}

// Calendar period units.
const (
	PeriodDay   = "day"
	PeriodWeek  = "week" // starts on Monday
	PeriodMonth = "month"
)

// Period is a parsed Budget.Period: a calendar unit, or a rolling window.
type Period struct {
	Unit    string        // PeriodDay, PeriodWeek or PeriodMonth; "" for a rolling window
	Rolling time.Duration // window length when Unit is ""
}

// ParsePeriod parses "day", "week", "month" or "rolling:24h" / "rolling:7d"
// (Go durations plus a "d" suffix for days). An empty string is a month.
func ParsePeriod(s string) (Period, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "", PeriodMonth:
		return Period{Unit: PeriodMonth}, nil
	case PeriodDay, PeriodWeek:
		return Period{Unit: s}, nil
	}
	rest, ok := strings.CutPrefix(s, "rolling:")
	if !ok {
		return Period{}, Errorf(EInvalid, "period %q is not day, week, month or rolling:DURATION (e.g. rolling:24h, rolling:7d)", s)
	}
	var d time.Duration
	var err error
	if days, isDays := strings.CutSuffix(rest, "d"); isDays {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(rest)
	}
	if err != nil || d < time.Minute || d > 366*24*time.Hour {
		return Period{}, Errorf(EInvalid, "period %q: the rolling window must be a duration between 1m and 366d, e.g. rolling:24h or rolling:7d", s)
	}
	return Period{Rolling: d}, nil
}

// String formats p as it is written in org.yaml.
func (p Period) String() string {
	if p.Unit != "" {
		return p.Unit
	}
	if p.Rolling%(24*time.Hour) == 0 {
		return fmt.Sprintf("rolling:%dd", p.Rolling/(24*time.Hour))
	}
	return "rolling:" + p.Rolling.String()
}

// Limit returns the budget's limit: in nano-dollars when LimitUSD is set
// (usd true), else in tokens.
func (b Budget) Limit() (amount int64, usd bool, err error) {
	if b.LimitUSD != "" {
		m, err := ParseUSD(b.LimitUSD)
		if err != nil {
			return 0, true, Errorf(EInvalid, "budget %q: limit_usd %q is not a decimal dollar amount such as \"500\" or \"12.50\"", b.Name, b.LimitUSD)
		}
		return int64(m), true, nil
	}
	return b.LimitTokens, false, nil
}

// Location returns the budget's time zone (UTC when unset).
func (b Budget) Location() (*time.Location, error) {
	if b.Timezone == "" || b.Timezone == "UTC" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(b.Timezone)
	if err != nil {
		return nil, Errorf(EInvalid, "budget %q: timezone %q is not an IANA time zone name such as Europe/London", b.Name, b.Timezone)
	}
	return loc, nil
}

// Action returns OnExceed with its default, block.
func (b Budget) Action() string {
	if b.OnExceed == "" {
		return OnExceedBlock
	}
	return b.OnExceed
}

// Validate checks one budget and returns an EInvalid *Error naming the
// budget and the field at fault.
func (b Budget) Validate() error {
	if strings.TrimSpace(b.Name) == "" {
		return Errorf(EInvalid, "a budget (scope %q) has no name; every budget needs a unique name", b.Scope)
	}
	if strings.ContainsAny(b.Name, ":|*") {
		return Errorf(EInvalid, "budget %q: a name may not contain ':', '|' or '*' (they name one user's default budget, e.g. user-default:alice)", b.Name)
	}
	if _, _, err := ParseScope(b.Scope); err != nil {
		return Errorf(EInvalid, "budget %q: %s", b.Name, ErrorOf(err).Message)
	}
	if b.LimitUSD != "" && b.LimitTokens != 0 {
		return Errorf(EInvalid, "budget %q: set limit_usd or limit_tokens, not both", b.Name)
	}
	if b.LimitUSD == "" && b.LimitTokens == 0 {
		return Errorf(EInvalid, "budget %q: no limit; set limit_usd (e.g. \"500\") or limit_tokens", b.Name)
	}
	amount, usd, err := b.Limit()
	if err != nil {
		return err
	}
	if amount <= 0 {
		field := "limit_tokens"
		if usd {
			field = "limit_usd"
		}
		return Errorf(EInvalid, "budget %q: %s must be positive", b.Name, field)
	}
	if _, err := ParsePeriod(b.Period); err != nil {
		return Errorf(EInvalid, "budget %q: %s", b.Name, ErrorOf(err).Message)
	}
	if _, err := b.Location(); err != nil {
		return err
	}
	for _, m := range b.Models {
		if _, err := ParseModelPattern(m); err != nil {
			return Errorf(EInvalid, "budget %q: models: %s", b.Name, ErrorOf(err).Message)
		}
	}
	switch b.Action() {
	case OnExceedBlock, OnExceedNotify:
		if len(b.Downgrade) > 0 {
			return Errorf(EInvalid, "budget %q: downgrade is set but on_exceed is %q; set on_exceed: downgrade or remove the downgrade map", b.Name, b.Action())
		}
	case OnExceedDowngrade:
		if len(b.Downgrade) == 0 {
			return Errorf(EInvalid, "budget %q: on_exceed is downgrade but the downgrade map is empty; map models to cheaper ones, e.g. {\"gpt-4o\": \"gpt-4o-mini\"}", b.Name)
		}
		for from, to := range b.Downgrade {
			if strings.TrimSpace(to) == "" {
				return Errorf(EInvalid, "budget %q: downgrade entry %q -> %q has an empty model", b.Name, from, to)
			}
			if _, err := ParseModelPattern(from); err != nil {
				return Errorf(EInvalid, "budget %q: downgrade: %s", b.Name, ErrorOf(err).Message)
			}
		}
	default:
		return Errorf(EInvalid, "budget %q: on_exceed %q is not block, downgrade or notify", b.Name, b.OnExceed)
	}
	for _, p := range b.AlertAt {
		if p <= 0 || p > 1000 {
			return Errorf(EInvalid, "budget %q: alert_at %d must be a percentage between 1 and 1000", b.Name, p)
		}
	}
	return nil
}

// RateLimit caps how fast one key label, user or team may call: requests
// and tokens (input+output, reserved like budgets) per minute, and calls in
// flight. A zero field is no limit.
type RateLimit struct {
	Scope             string `json:"scope" yaml:"scope"` // key:LABEL | user:NAME | team:NAME
	RequestsPerMinute int64  `json:"requests_per_minute,omitempty" yaml:"requests_per_minute,omitempty"`
	TokensPerMinute   int64  `json:"tokens_per_minute,omitempty" yaml:"tokens_per_minute,omitempty"`
	MaxConcurrent     int64  `json:"max_concurrent,omitempty" yaml:"max_concurrent,omitempty"`
}

// Validate checks the rate limit and returns an EInvalid *Error.
func (r RateLimit) Validate() error {
	kind, _, err := ParseScope(r.Scope)
	if err != nil {
		return Errorf(EInvalid, "rate limit: %s", ErrorOf(err).Message)
	}
	if kind != ScopeKey && kind != ScopeUser && kind != ScopeTeam {
		return Errorf(EInvalid, "rate limit %q: scope must be key:LABEL, user:NAME or team:NAME", r.Scope)
	}
	if r.RequestsPerMinute < 0 || r.TokensPerMinute < 0 || r.MaxConcurrent < 0 {
		return Errorf(EInvalid, "rate limit %q: limits must not be negative", r.Scope)
	}
	if r.RequestsPerMinute == 0 && r.TokensPerMinute == 0 && r.MaxConcurrent == 0 {
		return Errorf(EInvalid, "rate limit %q: sets no limit; set requests_per_minute, tokens_per_minute or max_concurrent", r.Scope)
	}
	return nil
}

// ModelAccess says which models a team, user or key label may call. Models
// are ModelPatterns ("claude-haiku-*"). A model must match the allow list
// of the most specific rule that has one (key over user over team) and no
// deny list of any rule that applies.
type ModelAccess struct {
	Scope       string   `json:"scope" yaml:"scope"` // team:NAME | user:NAME | key:LABEL
	AllowModels []string `json:"allow_models,omitempty" yaml:"allow_models,omitempty"`
	DenyModels  []string `json:"deny_models,omitempty" yaml:"deny_models,omitempty"`
}

// Validate checks the rule and returns an EInvalid *Error.
func (a ModelAccess) Validate() error {
	kind, _, err := ParseScope(a.Scope)
	if err != nil {
		return Errorf(EInvalid, "access rule: %s", ErrorOf(err).Message)
	}
	if kind != ScopeKey && kind != ScopeUser && kind != ScopeTeam {
		return Errorf(EInvalid, "access rule %q: scope must be team:NAME, user:NAME or key:LABEL", a.Scope)
	}
	if len(a.AllowModels) == 0 && len(a.DenyModels) == 0 {
		return Errorf(EInvalid, "access rule %q: lists no models; set allow_models or deny_models", a.Scope)
	}
	for _, l := range [...]struct {
		name string
		list []string
	}{{"allow_models", a.AllowModels}, {"deny_models", a.DenyModels}} {
		if _, err := ParseModelPatterns(l.list); err != nil {
			return Errorf(EInvalid, "access rule %q: %s: %s", a.Scope, l.name, ErrorOf(err).Message)
		}
	}
	return nil
}

// Defaults holds budgets applied when nothing more specific is declared.
type Defaults struct {
	// UserBudget applies, one instance per user, to every user without an
	// explicit user:NAME budget. Its scope is implied; its name defaults to
	// DefaultUserBudgetName.
	UserBudget *Budget `json:"user_budget,omitempty" yaml:"user_budget,omitempty"`
}

// PolicySetting is the stored setting holding the Policy as JSON: written
// by `allot apply` and the budgets API, read by every replica's rationer.
const PolicySetting = "policy"

// Policy is the rationing part of org.yaml: budgets, defaults, rate limits
// and model access.
type Policy struct {
	Budgets    []Budget      `json:"budgets,omitempty" yaml:"budgets,omitempty"`
	Defaults   Defaults      `json:"defaults" yaml:"defaults,omitempty"`
	RateLimits []RateLimit   `json:"rate_limits,omitempty" yaml:"rate_limits,omitempty"`
	Access     []ModelAccess `json:"access,omitempty" yaml:"access,omitempty"`
}

// DefaultUserBudget returns the default user budget with its implied name
// and scope ("user:*") filled in, or nil when none is declared.
func (p Policy) DefaultUserBudget() *Budget {
	if p.Defaults.UserBudget == nil {
		return nil
	}
	b := *p.Defaults.UserBudget
	if b.Name == "" {
		b.Name = DefaultUserBudgetName
	}
	if b.Scope == "" {
		b.Scope = "user:*"
	}
	return &b
}

// Validate checks the whole policy: every budget, rate limit and access
// rule, and that budget names are unique. It returns an EInvalid *Error
// listing every problem found.
func (p Policy) Validate() error {
	var problems []string
	add := func(err error) {
		if err != nil {
			problems = append(problems, ErrorOf(err).Message)
		}
	}
	seen := map[string]bool{}
	for _, b := range p.Budgets {
		add(b.Validate())
		if b.Name != "" && seen[b.Name] {
			add(Errorf(EInvalid, "budget %q is declared twice; budget names must be unique", b.Name))
		}
		seen[b.Name] = true
		if strings.Contains(b.Scope, "*") {
			add(Errorf(EInvalid, "budget %q: scope %q may not contain *; use defaults.user_budget for a budget per user", b.Name, b.Scope))
		}
	}
	if d := p.DefaultUserBudget(); d != nil {
		if d.Scope != "user:*" {
			add(Errorf(EInvalid, "defaults.user_budget: leave out scope (got %q); it applies to every user without a user budget", d.Scope))
		} else {
			add(d.Validate())
		}
		if seen[d.Name] {
			add(Errorf(EInvalid, "defaults.user_budget: name %q is already used by a budget", d.Name))
		}
	}
	for _, r := range p.RateLimits {
		add(r.Validate())
	}
	for _, a := range p.Access {
		add(a.Validate())
	}
	if len(problems) > 0 {
		return Errorf(EInvalid, "invalid policy: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Grant raises a budget's limit by Amount (USD budgets) or Tokens (token
// budgets) until Until: a top-up an admin gives with "allot budgets grant".
// Budget names a declared budget; for the default user budget it names one
// user's instance as "user-default:alice", or the default's own name to
// raise every user's.
type Grant struct {
	Budget string    `json:"budget"`
	Amount Money     `json:"amount_usd,omitempty"`
	Tokens int64     `json:"tokens,omitempty"`
	Until  time.Time `json:"until"` // the grant stops counting at Until; zero means the end of the current period
	Reason string    `json:"reason,omitempty"`
}
