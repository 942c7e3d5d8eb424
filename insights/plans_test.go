package insights

import (
	"testing"

	"github.com/allot-dev/allot"
)

func TestComparePlans(t *testing.T) {
	t.Parallel()
	users := []allot.User{{Name: "heavy", Team: "a"}, {Name: "light", Team: "a"}, {Name: "idle", Team: "b"}}
	usage := []allot.InsightUsage{usageRow("heavy", "code", "big-1", 1, 1, 1), usageRow("light", "code", "big-1", 1, 1, 1)}
	usage[0].Cost, usage[1].Cost = allot.MustUSD("40"), allot.MustUSD("5") // over 15 days: $80 and $10 a month
	plans, err := ParsePlans([]string{"pro=30", "max=100"})
	if err != nil {
		t.Fatal(err)
	}
	c := ComparePlans(usage, users, LastDays(testNow, 15), plans)
	want := map[string]string{"heavy": "pro", "light": "consumption", "idle": "consumption"}
	for _, p := range c.People {
		if p.Cheapest != want[p.User] {
			t.Errorf("%s: cheapest %s, want %s", p.User, p.Cheapest, want[p.User])
		}
	}
	if c.People[0].User != "heavy" || c.People[0].Consumption != 80*allot.USD || c.People[0].Saves != 70*allot.USD {
		t.Errorf("first %+v", c.People[0])
	}
	totals := map[string]allot.Money{}
	for _, tt := range c.Totals {
		totals[tt.Plan] = tt.Total
	}
	if totals[ConsumptionPlan] != 90*allot.USD || totals["pro"] != 90*allot.USD || totals["max"] != 300*allot.USD || totals[CheapestPerPerson] != 40*allot.USD {
		t.Errorf("totals %v", totals)
	}
}

func TestParsePlans(t *testing.T) {
	t.Parallel()
	for _, bad := range [][]string{{"pro"}, {"=30"}, {"pro=abc"}, {"pro=-1"}, {"consumption=3"}, {"a=1", "a=2"}, {"a b=3"}} {
		if _, err := ParsePlans(bad); allot.CodeOf(err) != allot.EInvalid {
			t.Errorf("%q: %v, want EInvalid", bad, err)
		}
	}
	p, err := ParsePlan(" team = 24.99 ")
	if err != nil || p.Name != "team" || p.USD != allot.MustUSD("24.99") {
		t.Errorf("got %+v %v", p, err)
	}
}

func FuzzParsePlan(f *testing.F) {
	for _, s := range []string{"pro=30", "a=0.000000001", "=", "x=1e3", "x=99999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePlan(s)
		if err != nil {
			if allot.CodeOf(err) != allot.EInvalid {
				t.Fatalf("%q: %v is not EInvalid", s, err)
			}
			return
		}
		if p.Name == "" || p.USD < 0 {
			t.Fatalf("%q parsed to %+v", s, p)
		}
	})
}

func FuzzParseDays(f *testing.F) {
	for _, s := range []string{"30d", "2w", "7", "0d", "-1", "367"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseDays(s)
		if err == nil && (n < 1 || n > 366) {
			t.Fatalf("%q parsed to %d days", s, n)
		}
	})
}
