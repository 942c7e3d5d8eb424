package insights

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/allot-dev/allot"
)

// WriteJSON writes v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func trend(t *float64) string {
	if t == nil {
		return "new"
	}
	return fmt.Sprintf("%+.0f%%", *t*100)
}

// percentile is a rank for people; a group too small to rank anyone
// anonymously says so rather than printing a bare "-".
func percentile(p *int) string {
	if p == nil {
		return "not ranked (too few people)"
	}
	return fmt.Sprintf("p%d", *p)
}

// WriteTop writes ranked consumers as a table.
func WriteTop(w io.Writer, by allot.Dimension, rows []TopRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\tSPEND\tSHARE\tTREND\tREQUESTS\tTOKENS/REQ\n", strings.ToUpper(string(by)))
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%.1f%%\t%s\t%s\t%s\n", r.Name, usd(r.Spend), r.Share*100, trend(r.Trend), allot.GroupDigits(r.Requests), allot.GroupDigits(r.TokensPerRequest))
	}
	return tw.Flush()
}

// WriteInsights writes insights as text for a terminal.
func WriteInsights(w io.Writer, ins *Insights) error {
	fmt.Fprintf(w, "%s, %s to %s (%d days): %s over %s calls, %s tokens\n", ins.Scope,
		ins.Period.From.Format("2006-01-02"), ins.Period.To.AddDate(0, 0, -1).Format("2006-01-02"), ins.Period.Days,
		usd(ins.SpendUSD), allot.GroupDigits(ins.Requests), allot.GroupDigits(ins.Tokens))
	if ins.Peers != nil {
		p := ins.Peers
		fmt.Fprintf(w, "spend percentile in %s (%d people): %s; in the org (%d people): %s\n",
			p.TeamGroup.Group, p.TeamGroup.People, percentile(p.TeamGroup.SpendPercentile), p.OrgGroup.People, percentile(p.OrgGroup.SpendPercentile))
		if s := p.TeamGroup.Spend; s != nil {
			fmt.Fprintf(w, "team spend: median %s, p75 %s, p90 %s\n", usd(s.Median), usd(s.P75), usd(s.P90))
		}
		for _, t := range p.Tasks {
			if t.Team != nil && t.Team.VsMedian > 0 {
				fmt.Fprintf(w, "  your %s calls use %.1f× the team median input (%s vs %s tokens)\n", t.Task, t.Team.VsMedian, allot.GroupDigits(t.InputPerRequest), allot.GroupDigits(t.Team.InputPerRequest.Median))
			} else if t.Org != nil && t.Org.VsMedian > 0 {
				fmt.Fprintf(w, "  your %s calls use %.1f× the org median input (%s vs %s tokens)\n", t.Task, t.Org.VsMedian, allot.GroupDigits(t.InputPerRequest), allot.GroupDigits(t.Org.InputPerRequest.Median))
			}
		}
	}
	fmt.Fprintln(w)
	if err := WriteTop(w, allot.DimTask, ins.TopTasks); err != nil {
		return err
	}
	if len(ins.Members) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PERSON\tSPEND\tREQUESTS\tTOKENS/REQ\tPERCENTILE")
		for _, m := range ins.Members {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\tp%d\n", m.User, usd(m.Spend), allot.GroupDigits(m.Requests), allot.GroupDigits(m.TokensPerRequest), m.SpendPercentile)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	if len(ins.Recommendations) == 0 {
		fmt.Fprintln(w, "no recommendations above the savings floor")
	}
	for i, r := range ins.Recommendations {
		who := ""
		if r.User != "" && !strings.HasPrefix(ins.Scope, "user:") {
			who = " [" + r.User + "]"
		}
		fmt.Fprintf(w, "%d. %s%s — saves %s/month (%s)\n   %s\n", i+1, r.Title, who, usd(r.MonthlySavings), r.Kind, r.Detail)
	}
	f := ins.Forecast
	fmt.Fprintf(w, "\nforecast: %s spent this month, %s projected by %s (daily rate %s)\n",
		usd(f.Spent), usd(f.Projected), f.PeriodEnd.AddDate(0, 0, -1).Format("Jan 02"), usd(f.DailyRate))
	if f.Limit != nil {
		if f.RunsOutAt != nil {
			fmt.Fprintf(w, "the limit of %s is reached %s\n", usd(*f.Limit), f.RunsOutAt.Format("Jan 02 15:04 MST"))
		} else {
			fmt.Fprintf(w, "the limit of %s lasts the month\n", usd(*f.Limit))
		}
	}
	for _, a := range f.Anomalies {
		fmt.Fprintf(w, "anomaly: %s spent %s, %.1f× the usual %s\n", a.Day.Format("Jan 02"), usd(a.Spend), a.Factor, usd(a.Median))
	}
	for _, p := range ins.GoodPractice {
		if len(p.Highlights) == 0 {
			continue
		}
		fmt.Fprintf(w, "\ngood practice in %s: the most efficient %d of %d people (%s per call vs %s) %s\n",
			p.Task, p.Efficient.People, p.People, usd(p.Efficient.CostPerRequest), usd(p.Others.CostPerRequest), strings.Join(p.Highlights, "; "))
	}
	return nil
}

// WritePlans writes a seat versus consumption comparison as text.
func WritePlans(w io.Writer, c PlanComparison) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "PERSON\tTEAM\tCONSUMPTION")
	for _, p := range c.Plans {
		fmt.Fprintf(tw, "\t%s", strings.ToUpper(p.Name))
	}
	fmt.Fprintln(tw, "\tCHEAPEST")
	for _, pp := range c.People {
		fmt.Fprintf(tw, "%s\t%s\t%s", pp.User, pp.Team, usd(pp.Consumption))
		for _, p := range c.Plans {
			fmt.Fprintf(tw, "\t%s", usd(p.USD))
		}
		fmt.Fprintf(tw, "\t%s\n", pp.Cheapest)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nper month for the org (%d people, consumption from the last %d days):\n", len(c.People), c.Period.Days)
	for _, t := range c.Totals {
		fmt.Fprintf(w, "  %-22s %s\n", t.Plan, usd(t.Total))
	}
	return nil
}

// WriteUntagged writes the untagged spend and its largest prompts as text.
func WriteUntagged(w io.Writer, r UntaggedReport) error {
	fmt.Fprintf(w, "untagged: %s (%.1f%% of all spend) over %d calls in the last %d days; %s of it without a system prompt\n",
		usd(r.Spend), r.Share*100, r.Requests, r.Period.Days, usd(r.NoPrompt))
	if len(r.Prompts) == 0 {
		_, err := fmt.Fprintln(w, "no untagged system prompts to label")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FINGERPRINT\tSPEND\tCALLS\tPEOPLE\tAPPS\tPROMPT≥\tLABEL")
	for _, p := range r.Prompts {
		label := p.Label
		if label == "" {
			label = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d\t%s\n", p.SystemFP, usd(p.Spend), p.Requests, p.People, strings.Join(p.Apps, ","), p.MinInput, label)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "name one with: allot tasks label FINGERPRINT NAME (then allot tasks relabel for past calls)")
	return err
}
