package insights

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/allot-dev/allot"
)

// RecommendationGroup is one change for a team or the org: the
// recommendations of one kind, task and model change, with the monthly
// savings summed over the people they concern. It is written about the
// group ("4 people made …"), never to one person.
type RecommendationGroup struct {
	Kind           string      `json:"kind"`
	Task           string      `json:"task"`
	Model          string      `json:"model"`    // "" where the change is not about one model
	ToModel        string      `json:"to_model"` // cheaper_model: the model to use instead; else ""
	Title          string      `json:"title"`
	Detail         string      `json:"detail"`
	MonthlySavings allot.Money `json:"monthly_savings_usd"`
	// People are named only where the viewer may see every person of the
	// view by name (NamesVisible); otherwise only PeopleCount is given.
	People      []string `json:"people,omitempty"`
	PeopleCount int      `json:"people_count"`
}

// groupKey is what makes two recommendations the same change.
type groupKey struct{ kind, task, model, to string }

// GroupRecommendations folds recs into one item per (kind, task, model
// change), most savings first; named says whether people's names may be
// listed (else only counted).
func GroupRecommendations(recs []Recommendation, named bool) []RecommendationGroup {
	type acc struct {
		savings  allot.Money
		people   map[string]bool
		evidence map[string]int64
		peak     map[string]int64
	}
	groups := map[groupKey]*acc{}
	var order []groupKey
	for _, r := range recs {
		k := groupKey{r.Kind, r.Task, r.Model, r.ToModel}
		a := groups[k]
		if a == nil {
			a = &acc{people: map[string]bool{}, evidence: map[string]int64{}, peak: map[string]int64{}}
			groups[k] = a
			order = append(order, k)
		}
		a.savings = a.savings.Plus(r.MonthlySavings)
		a.people[r.User] = true
		for name, v := range r.Evidence {
			a.evidence[name] = allot.SatAdd(a.evidence[name], v)
			a.peak[name] = max(a.peak[name], v)
		}
	}
	out := make([]RecommendationGroup, 0, len(order))
	for _, k := range order {
		a := groups[k]
		g := RecommendationGroup{Kind: k.kind, Task: k.task, Model: k.model, ToModel: k.to, MonthlySavings: a.savings, PeopleCount: len(a.people)}
		if named {
			g.People = slices.Sorted(func(yield func(string) bool) {
				for p := range a.people {
					if p != "" && !yield(p) {
						return
					}
				}
			})
		}
		g.Title, g.Detail = groupText(k, g.PeopleCount, a.evidence, a.peak)
		out = append(out, g)
	}
	slices.SortStableFunc(out, func(a, b RecommendationGroup) int {
		return cmp.Or(cmp.Compare(b.MonthlySavings, a.MonthlySavings), strings.Compare(a.Kind, b.Kind),
			strings.Compare(a.Task, b.Task), strings.Compare(a.Model, b.Model), strings.Compare(a.ToModel, b.ToModel))
	})
	return out
}

// groupText writes a group's title and detail from its summed evidence
// (peak: the largest single value, for limits).
func groupText(k groupKey, n int, ev, peak map[string]int64) (title, detail string) {
	who := countPeople(n)
	on := ""
	if k.model != "" {
		on = " on " + k.model
	}
	switch k.kind {
	case KindCheaperModel:
		return fmt.Sprintf("Use %s instead of %s for %s", k.to, k.model, k.task),
			fmt.Sprintf("%s made %d %s calls on %s with short answers; %s does the same task for less per call.", who, ev["requests"], k.task, k.model, k.to)
	case KindPromptCaching:
		return fmt.Sprintf("Cache the system prompts of %s calls%s", k.task, on),
			fmt.Sprintf("%s sent the same long system prompts on %d %s calls with little read from the cache; marking them cacheable would serve about %d calls from the cache.", who, ev["requests"], k.task, ev["calls_served_from_cache"])
	case KindDuplicates:
		return fmt.Sprintf("Stop resending identical %s requests", k.task),
			fmt.Sprintf("%s repeated an identical %s request %d times within %d minutes (retries or double submits); cache the answer or fix the retry.", who, k.task, ev["duplicates"], int(allot.DuplicateWindow.Minutes()))
	case KindContextGrowth:
		return fmt.Sprintf("Trim or restart long %s sessions%s", k.task, on),
			fmt.Sprintf("%s resent the whole history turn after turn in %d %s sessions; compacting or starting afresh would send about %d fewer input tokens.", who, ev["sessions"], k.task, ev["excess_input_tokens"])
	case KindOutputLimits:
		return fmt.Sprintf("Set max_tokens for %s%s", k.task, on),
			fmt.Sprintf("%s made %d %s calls without an output limit that wrote far more than the task usually needs; max_tokens of %d would have cut %d output tokens.", who, ev["long_requests"], k.task, peak["suggested_max_tokens"], ev["excess_output_tokens"])
	case KindFailed:
		return fmt.Sprintf("Fix failing %s calls%s", k.task, on),
			fmt.Sprintf("%s had %d %s calls fail or be abandoned that still used tokens; check timeouts, retries and context length.", who, ev["failed_requests"], k.task)
	case KindRunaway:
		return "Cap runaway agent sessions",
			fmt.Sprintf("%s ran %d agent sessions far beyond their usual size (the largest: %d calls); set a turn or budget limit on agents.", who, ev["sessions"], peak["largest_calls"])
	}
	return k.kind, fmt.Sprintf("%s could save here.", who)
}

// countPeople counts people in words: "1 person", "4 people".
func countPeople(n int) string {
	if n == 1 {
		return "1 person"
	}
	return fmt.Sprintf("%d people", n)
}
