package insights

import (
	"slices"

	"github.com/allot-dev/allot"
)

// UntaggedPrompt is a system prompt sent by calls without a task: name it
// with `allot tasks label FINGERPRINT NAME` and its calls get that task.
type UntaggedPrompt struct {
	SystemFP    string      `json:"system_fp"` // 16 hex digits
	Requests    int64       `json:"requests"`
	People      int         `json:"people"`
	Apps        []string    `json:"apps"`
	Tokens      int64       `json:"tokens"`
	Spend       allot.Money `json:"spend_usd"`
	Label       string      `json:"label,omitempty"` // already labelled: `allot tasks relabel` applies it to these past calls
	MinInput    int64       `json:"min_input_tokens"`
	fingerprint uint64
}

// UntaggedReport is the spend on calls that named no task, and the
// system prompts that carried most of it.
type UntaggedReport struct {
	Period        Period           `json:"period"`
	Spend         allot.Money      `json:"spend_usd"`
	Share         float64          `json:"share"` // of all spend
	Requests      int64            `json:"requests"`
	NoPrompt      allot.Money      `json:"without_system_prompt_usd"` // spend of untagged calls with no system prompt to label
	Prompts       []UntaggedPrompt `json:"prompts"`
	LabelledSpend allot.Money      `json:"labelled_usd"` // of it, prompts labelled since: relabel to move it
}

// Untagged sums the untagged spend of usage and lists the largest
// untagged prompts (at most limit; 0 for all) with their labels.
func Untagged(usage []allot.InsightUsage, prompts []allot.PromptUsage, labels allot.TaskLabels, period Period, limit int) UntaggedReport {
	r := UntaggedReport{Period: period, Prompts: []UntaggedPrompt{}}
	var total allot.Money
	for _, u := range usage {
		total = total.Plus(u.Cost)
		if u.Task == allot.UntaggedTask {
			r.Spend = r.Spend.Plus(u.Cost)
			r.Requests = allot.SatAdd(r.Requests, u.Requests)
		}
	}
	r.Share = ratio(int64(r.Spend), int64(total))
	byFP := map[uint64]*UntaggedPrompt{}
	people := map[uint64]map[string]bool{}
	apps := map[uint64]map[string]bool{}
	var withPrompt allot.Money
	for _, p := range prompts {
		if p.Task != allot.UntaggedTask {
			continue
		}
		u := byFP[p.SystemFP]
		if u == nil {
			u = &UntaggedPrompt{SystemFP: allot.FormatFingerprint(p.SystemFP), fingerprint: p.SystemFP, Label: labels[p.SystemFP], MinInput: p.MinInput}
			byFP[p.SystemFP] = u
			people[p.SystemFP], apps[p.SystemFP] = map[string]bool{}, map[string]bool{}
		}
		u.Requests = allot.SatAdd(u.Requests, p.Requests)
		u.Tokens = allot.SatAdd(u.Tokens, p.Tokens.Total())
		u.Spend = u.Spend.Plus(p.Cost)
		u.MinInput = min(u.MinInput, p.MinInput)
		people[p.SystemFP][p.User] = true
		apps[p.SystemFP][p.App] = true
		withPrompt = withPrompt.Plus(p.Cost)
		if u.Label != "" {
			r.LabelledSpend = r.LabelledSpend.Plus(p.Cost)
		}
	}
	r.NoPrompt = max(r.Spend-withPrompt, 0)
	for fp, u := range byFP {
		u.People = len(people[fp])
		for a := range apps[fp] {
			u.Apps = append(u.Apps, a)
		}
		slices.Sort(u.Apps)
		r.Prompts = append(r.Prompts, *u)
	}
	slices.SortFunc(r.Prompts, func(a, b UntaggedPrompt) int {
		if c := cmpDesc(int64(a.Spend), int64(b.Spend)); c != 0 {
			return c
		}
		switch {
		case a.fingerprint < b.fingerprint:
			return -1
		case a.fingerprint > b.fingerprint:
			return 1
		}
		return 0
	})
	if limit > 0 && len(r.Prompts) > limit {
		r.Prompts = r.Prompts[:limit]
	}
	return r
}
