package budget

import (
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/allot-dev/allot"
)

// rule is a compiled budget declaration.
type rule struct {
	budget    allot.Budget
	kind      allot.ScopeKind
	scopeName string
	models    []allot.ModelPattern // empty matches every model
	limit     int64                // nano-USD or tokens, before grants
	usd       bool
	win       window
	action    string
	downgrade []downgradeEntry // most specific first
	alertAt   []int            // ascending percentages
	isDefault bool             // the default user budget, instanced per user
}

// downgradeEntry maps models matching from to model to.
type downgradeEntry struct {
	from allot.ModelPattern
	to   string
}

// instance is a budget as it applies to calls: an explicit budget, or the
// default user budget for one user.
type instance struct {
	rule  *rule
	name  string // budget name, "user-default:alice" for default instances
	scope string // "team:platform", "user:alice"
	key   string // counter key
	alert atomic.Pointer[alertState]
}

// alertState records which thresholds already fired in one epoch.
type alertState struct {
	epoch int64
	fired uint64 // bit i: rule.alertAt[i]
}

// compile turns a validated budget into a rule; the error is that of an
// invalid model pattern, which validation has already refused.
func compile(b allot.Budget, isDefault bool) (*rule, error) {
	kind, name, _ := allot.ParseScope(b.Scope)
	limit, usd, _ := b.Limit()
	models, err := allot.ParseModelPatterns(b.Models)
	if err != nil {
		return nil, err
	}
	r := &rule{
		budget: b, kind: kind, scopeName: name, models: models,
		limit: limit, usd: usd, win: newWindow(b), action: b.Action(), isDefault: isDefault,
	}
	for from, to := range b.Downgrade {
		p, err := allot.ParseModelPattern(from)
		if err != nil {
			return nil, err
		}
		r.downgrade = append(r.downgrade, downgradeEntry{p, to})
	}
	slices.SortFunc(r.downgrade, func(a, b downgradeEntry) int { return allot.CompareModelPatterns(a.from, b.from) })
	r.alertAt = slices.Clone(b.AlertAt)
	if r.action == allot.OnExceedNotify && !slices.Contains(r.alertAt, 100) {
		r.alertAt = append(r.alertAt, 100) // a notify budget always says when it is exceeded
	}
	slices.Sort(r.alertAt)
	r.alertAt = slices.Compact(r.alertAt)
	if len(r.alertAt) > 64 {
		r.alertAt = r.alertAt[:64]
	}
	return r, nil
}

// appliesTo reports whether the rule counts calls to model.
func (r *rule) appliesTo(model string) bool {
	return len(r.models) == 0 || allot.MatchAnyModel(r.models, model)
}

// downgradeOf returns the cheaper model the rule maps model to.
func (r *rule) downgradeOf(model string) (string, bool) {
	for _, d := range r.downgrade {
		if d.from.Match(model) {
			return d.to, true
		}
	}
	return "", false
}

// order ranks budget charges: downgrade budgets first, so a downgrade is
// tried before a block budget refuses; notify budgets, which never refuse,
// last.
func (r *rule) order() int {
	switch r.action {
	case allot.OnExceedDowngrade:
		return 0
	case allot.OnExceedBlock:
		return 1
	}
	return 2
}

// index finds the budget instances, rate limits and access rules for a call.
type index struct {
	byScope     map[allot.ScopeKind]map[string][]*instance
	org         []*instance
	all         []*instance // explicit instances in declaration order
	userBudget  map[string]bool
	defaultRule *rule
	defaults    sync.Map // user -> *instance of the default user budget

	rates  map[allot.ScopeKind]map[string][]*rateRule
	access map[allot.ScopeKind]map[string][]accessRule
}

// accessRule is a compiled model access rule.
type accessRule struct {
	scope       string
	allow, deny []allot.ModelPattern
	rule        allot.ModelAccess // as declared, for messages
}

// rateRule is a compiled rate limit with its counter keys.
type rateRule struct {
	limit                allot.RateLimit
	rpmKey, tpmKey, conc string
}

// newIndex compiles a validated policy; its errors are those validation
// has already refused.
func newIndex(p allot.Policy) (*index, error) {
	ix := &index{
		byScope:    map[allot.ScopeKind]map[string][]*instance{},
		userBudget: map[string]bool{},
		rates:      map[allot.ScopeKind]map[string][]*rateRule{},
		access:     map[allot.ScopeKind]map[string][]accessRule{},
	}
	for _, b := range p.Budgets {
		r, err := compile(b, false)
		if err != nil {
			return nil, err
		}
		in := &instance{rule: r, name: b.Name, scope: b.Scope, key: counterKey(b)}
		ix.all = append(ix.all, in)
		if r.kind == allot.ScopeOrg {
			ix.org = append(ix.org, in)
			continue
		}
		if ix.byScope[r.kind] == nil {
			ix.byScope[r.kind] = map[string][]*instance{}
		}
		ix.byScope[r.kind][r.scopeName] = append(ix.byScope[r.kind][r.scopeName], in)
		if r.kind == allot.ScopeUser {
			ix.userBudget[r.scopeName] = true
		}
	}
	if d := p.DefaultUserBudget(); d != nil {
		r, err := compile(*d, true)
		if err != nil {
			return nil, err
		}
		ix.defaultRule = r
	}
	for _, rl := range p.RateLimits {
		kind, name, _ := allot.ParseScope(rl.Scope)
		if ix.rates[kind] == nil {
			ix.rates[kind] = map[string][]*rateRule{}
		}
		id := "r|" + rl.Scope + "|" + strconv.Itoa(len(ix.rates[kind][name]))
		ix.rates[kind][name] = append(ix.rates[kind][name], &rateRule{
			limit: rl, rpmKey: id + "|rpm", tpmKey: id + "|tpm", conc: id + "|conc",
		})
	}
	for _, a := range p.Access {
		kind, name, _ := allot.ParseScope(a.Scope)
		if ix.access[kind] == nil {
			ix.access[kind] = map[string][]accessRule{}
		}
		allow, err := allot.ParseModelPatterns(a.AllowModels)
		if err != nil {
			return nil, err
		}
		deny, err := allot.ParseModelPatterns(a.DenyModels)
		if err != nil {
			return nil, err
		}
		ix.access[kind][name] = append(ix.access[kind][name], accessRule{scope: a.Scope, allow: allow, deny: deny, rule: a})
	}
	return ix, nil
}

// defaultFor returns user's instance of the default user budget, or nil
// when there is none or the user has an explicit user budget.
func (ix *index) defaultFor(user string) *instance {
	if ix.defaultRule == nil || user == "" || ix.userBudget[user] {
		return nil
	}
	if in, ok := ix.defaults.Load(user); ok {
		return in.(*instance)
	}
	r := ix.defaultRule
	in := &instance{rule: r, name: r.budget.Name + ":" + user, scope: "user:" + user, key: counterKey(r.budget) + "|" + user}
	got, _ := ix.defaults.LoadOrStore(user, in)
	return got.(*instance)
}

// budgets appends to dst the instances that apply to a call by p on task
// with model.
func (ix *index) budgets(dst []*instance, p allot.Principal, task, model string) []*instance {
	add := func(list []*instance) {
		for _, in := range list {
			if in.rule.appliesTo(model) {
				dst = append(dst, in)
			}
		}
	}
	add(ix.org)
	if p.Team != "" {
		add(ix.byScope[allot.ScopeTeam][p.Team])
	}
	if p.User != "" {
		add(ix.byScope[allot.ScopeUser][p.User])
	}
	if p.KeyLabel != "" {
		add(ix.byScope[allot.ScopeKey][p.KeyLabel])
	}
	if task != "" {
		add(ix.byScope[allot.ScopeTask][task])
	}
	if d := ix.defaultFor(p.User); d != nil && d.rule.appliesTo(model) {
		dst = append(dst, d)
	}
	return dst
}

// rateRules appends to dst the rate limits that apply to p.
func (ix *index) rateRules(dst []*rateRule, p allot.Principal) []*rateRule {
	if len(ix.rates) == 0 {
		return dst
	}
	if p.KeyLabel != "" {
		dst = append(dst, ix.rates[allot.ScopeKey][p.KeyLabel]...)
	}
	if p.User != "" {
		dst = append(dst, ix.rates[allot.ScopeUser][p.User]...)
	}
	if p.Team != "" {
		dst = append(dst, ix.rates[allot.ScopeTeam][p.Team]...)
	}
	return dst
}
