package budget

import (
	"fmt"
	"strings"

	"github.com/allot-dev/allot"
)

// checkAccess returns an EForbidden *Error when p may not call model: the
// model matches a deny list of any access rule that applies to p, or
// misses the allow list of the most specific rule that has one (key label
// over user over team, so a user rule can widen what the team may use).
func (ix *index) checkAccess(p allot.Principal, model string) error {
	if len(ix.access) == 0 {
		return nil
	}
	scopes := [...]struct {
		kind allot.ScopeKind
		name string
	}{{allot.ScopeKey, p.KeyLabel}, {allot.ScopeUser, p.User}, {allot.ScopeTeam, p.Team}}
	var allow []allot.ModelPattern
	var allowNames []string
	allowScope := ""
	for _, s := range scopes {
		if s.name == "" {
			continue
		}
		for _, a := range ix.access[s.kind][s.name] {
			if allot.MatchAnyModel(a.deny, model) {
				return &allot.Error{Code: allot.EForbidden, Param: "model", Message: fmt.Sprintf(
					"model %q is denied for %s by the access rule for %s (deny_models: %s); choose another model or ask an admin",
					model, who(p), a.scope, strings.Join(a.rule.DenyModels, ", "))}
			}
			if allowScope == "" && len(a.allow) > 0 {
				allowScope = a.scope
			}
			if a.scope == allowScope {
				allow = append(allow, a.allow...)
				allowNames = append(allowNames, a.rule.AllowModels...)
			}
		}
	}
	if allowScope != "" && !allot.MatchAnyModel(allow, model) {
		return &allot.Error{Code: allot.EForbidden, Param: "model", Message: fmt.Sprintf(
			"model %q is not allowed for %s; the access rule for %s allows only: %s",
			model, who(p), allowScope, strings.Join(allowNames, ", "))}
	}
	return nil
}

// who names a principal in messages.
func who(p allot.Principal) string {
	switch {
	case p.User != "":
		return "user " + p.User
	case p.KeyLabel != "":
		return "key " + p.KeyLabel
	case p.Team != "":
		return "team " + p.Team
	}
	return "this key"
}
