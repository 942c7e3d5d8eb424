package budget

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/allot-dev/allot"
)

// grantEntry is a stored grant in the budget's unit.
type grantEntry struct {
	amount int64
	until  time.Time
	grant  allot.Grant
}

// Grant raises a budget's limit by g.Amount (USD budgets) or g.Tokens
// (token budgets) until g.Until; a zero Until lasts to the end of the
// current period. g.Budget names a declared budget, the default user
// budget (raising every user's instance) or one user's instance
// ("user-default:alice"). Grants live in memory: the caller persists them
// and grants them again at start. Errors are ENotFound or EInvalid.
func (r *Rationer) Grant(g allot.Grant) error {
	e, err := r.grantEntry(g)
	if err != nil {
		return err
	}
	now := r.clock()
	r.grantMu.Lock()
	defer r.grantMu.Unlock()
	next := map[string][]grantEntry{}
	if old := r.grants.Load(); old != nil {
		for name, list := range *old { // drop expired grants while copying
			for _, ge := range list {
				if ge.until.After(now) {
					next[name] = append(next[name], ge)
				}
			}
		}
	}
	next[g.Budget] = append(next[g.Budget], e)
	r.grants.Store(&next)
	return nil
}

// Grants lists the grants still running at now, by budget name.
func (r *Rationer) Grants(now time.Time) []allot.Grant {
	old := r.grants.Load()
	if old == nil {
		return nil
	}
	var out []allot.Grant
	for _, name := range slices.Sorted(maps.Keys(*old)) {
		for _, ge := range (*old)[name] {
			if now.Before(ge.until) {
				out = append(out, ge.grant)
			}
		}
	}
	return out
}

// ruleNamed finds the rule a grant names.
func (r *Rationer) ruleNamed(name string) (*rule, error) {
	for _, in := range r.ix.all {
		if in.name == name {
			return in.rule, nil
		}
	}
	if d := r.ix.defaultRule; d != nil {
		user, ok := strings.CutPrefix(name, d.budget.Name+":")
		if name == d.budget.Name || (ok && user != "") {
			return d, nil
		}
	}
	return nil, allot.Errorf(allot.ENotFound, "no budget named %q; grants name a budget from org.yaml, or %s:USER for one user's default budget", name, allot.DefaultUserBudgetName)
}

// CheckGrant validates g against r's policy without applying it and
// returns it as it would apply: Until resolved to the end of the current
// period when zero. Callers store the result and grant it at start.
func CheckGrant(r *Rationer, g allot.Grant) (allot.Grant, error) {
	e, err := r.grantEntry(g)
	return e.grant, err
}

// grantEntry checks g and returns it compiled.
func (r *Rationer) grantEntry(g allot.Grant) (grantEntry, error) {
	rl, err := r.ruleNamed(g.Budget)
	if err != nil {
		return grantEntry{}, err
	}
	now := r.clock()
	e := grantEntry{grant: g, until: g.Until}
	switch {
	case rl.usd && (g.Amount <= 0 || g.Tokens != 0):
		return e, allot.Errorf(allot.EInvalid, "grant to budget %q: it is a USD budget, so give a positive amount in dollars (and no tokens)", g.Budget)
	case !rl.usd && (g.Tokens <= 0 || g.Amount != 0):
		return e, allot.Errorf(allot.EInvalid, "grant to budget %q: it is a token budget, so give a positive number of tokens (and no dollars)", g.Budget)
	case rl.usd:
		e.amount = int64(g.Amount)
	default:
		e.amount = g.Tokens
	}
	if e.until.IsZero() {
		_, e.until = rl.win.bounds(now)
		if rl.win.unit == "" {
			e.until = now.Add(rl.win.rolling)
		}
		e.grant.Until = e.until
	}
	if !e.until.After(now) {
		return e, allot.Errorf(allot.EInvalid, "grant to budget %q: until %s is already past", g.Budget, e.until.Format(time.RFC3339))
	}
	return e, nil
}
