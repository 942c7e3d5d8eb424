package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/budget"
	"github.com/allot-dev/allot/insights"
	"github.com/allot-dev/allot/pricing"
	"github.com/allot-dev/allot/provider/openai"
)

// One model pattern means the same models wherever it is written: a
// budget's models, an access rule's deny list, insights'
// model_equivalents, routing (models:), max_output_tokens and price
// overrides. Routing and max_output_tokens read a plain name as a prefix
// (allot.ParseModelPrefix), as they always have; every pattern with a
// wildcard means the same there too.
func TestModelPatternMeansTheSameEverywhere(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, model string
		match          bool // budgets, access, insights, prices
		prefix         bool // routing and max_output_tokens (plain name: a prefix)
	}{
		{"*opus*", "openrouter/claude-opus-4", true, true}, // * crosses "/" everywhere
		{"*opus*", "anthropic.claude-opus-4-1", true, true},
		{"*opus*", "claude-sonnet-4", false, false},
		{"claude-*", "claude-instant-1", true, true},
		{"claude-*", "anthropic/claude-instant-1", false, false},
		{"openrouter/*", "openrouter/openai/gpt-4o", true, true},
		{"gpt-4o*", "gpt-4o-mini", true, true},
		{"gpt-*-mini", "gpt-4o-mini", true, true}, // a * inside, once an error for prices and literal for routing
		{"gpt-*-mini", "gpt-4o-mini-2024", false, false},
		{"gpt-?o", "gpt-xo", true, true},
		{"gpt-4o", "gpt-4o", true, true},
		{"gpt-4o", "gpt-4o-mini", false, true}, // the one difference: a plain name in models: is a prefix
		{"*", "anything/at-all", true, true},
	}
	// (Models are chosen so no more specific entry of the built-in
	// max-output table decides for them.)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.model, func(t *testing.T) {
			t.Parallel()
			p := allot.Principal{User: "alice", Team: "platform"}
			call := budget.Call{Principal: p, Provider: "openai", Model: tt.model, Time: now, WorstCase: allot.Tokens{Input: 10, Output: 10}}

			// Budgets: the budget counts the call only if its models match.
			r, err := budget.New(allot.Policy{Budgets: []allot.Budget{{Name: "b", Scope: "org", Models: []string{tt.pattern}, LimitTokens: 1000, Period: "month"}}}, nil, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			adm, err := r.Admit(ctx, call)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(adm.Budgets()) == 1; got != tt.match {
				t.Errorf("budget models %q counts %q = %v, want %v", tt.pattern, tt.model, got, tt.match)
			}
			_ = adm.Release()

			// Access: a deny list refuses the model only if it matches.
			r, err = budget.New(allot.Policy{Access: []allot.ModelAccess{{Scope: "team:platform", DenyModels: []string{tt.pattern}}}}, nil, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			adm, err = r.Admit(ctx, call)
			if got := allot.CodeOf(err) == allot.EForbidden; got != tt.match {
				t.Errorf("deny_models %q refuses %q = %v (%v), want %v", tt.pattern, tt.model, got, err, tt.match)
			}
			if adm != nil {
				_ = adm.Release()
			}

			// Insights: model_equivalents applies only if the pattern matches.
			opts, err := insights.OptionsFrom(allot.InsightPolicy{ModelEquivalents: map[string]string{tt.pattern: "cheap"}})
			if err != nil {
				t.Fatal(err)
			}
			if _, got := opts.Equivalent(tt.model); got != tt.match {
				t.Errorf("model_equivalents %q applies to %q = %v, want %v", tt.pattern, tt.model, got, tt.match)
			}

			// Prices: the override prices the model only if it matches.
			cat, err := pricing.Default().WithOverrides(map[string]pricing.Override{tt.pattern: {InputMTok: pricing.NewDecimalNano(1), OutputMTok: pricing.NewDecimalNano(1)}})
			if err != nil {
				t.Fatal(err)
			}
			if mp, ok := cat.Lookup("openai", tt.model, now); (ok && mp.Provider == "override") != tt.match {
				t.Errorf("price override %q prices %q = %+v, want override %v", tt.pattern, tt.model, mp, tt.match)
			}

			// max_output_tokens: the configured limit applies only if it matches.
			cat, err = pricing.Default().WithMaxOutput(map[string]int64{tt.pattern: 7})
			if err != nil {
				t.Fatal(err)
			}
			if got := cat.MaxOutput(tt.model) == 7; got != tt.prefix {
				t.Errorf("max_output_tokens %q applies to %q = %v, want %v", tt.pattern, tt.model, got, tt.prefix)
			}

			// Routing: models: sends the model to the provider only if it matches.
			g := New(Options{
				Upstreams: []Upstream{{Name: "default", Protocol: openai.Protocol{}}, {Name: "routed", Protocol: openai.Protocol{}}},
				Models:    map[string]string{tt.pattern: "routed"},
				Keys:      noKeys{}, Pricer: pricing.Default(), Recorder: noRecorder{},
			})
			up, err := g.upstreamFor(allot.RouteChat, tt.model)
			if err != nil {
				t.Fatal(err)
			}
			if got := up.Name == "routed"; got != tt.prefix {
				t.Errorf("models: %q routes %q = %v, want %v", tt.pattern, tt.model, got, tt.prefix)
			}
		})
	}
}

// An invalid pattern in models: is a wiring bug by the time it reaches
// New (config.Validate refuses it first), so New panics naming it rather
// than routing nothing.
func TestNewRefusesAnInvalidRoutingPattern(t *testing.T) {
	t.Parallel()
	defer func() {
		r := recover()
		if msg, _ := r.(string); !strings.Contains(msg, `"gpt-[45]o"`) {
			t.Errorf("New with models {gpt-[45]o} = %v, want a panic naming the pattern", r)
		}
	}()
	New(Options{
		Upstreams: []Upstream{{Name: "default", Protocol: openai.Protocol{}}},
		Models:    map[string]string{"gpt-[45]o": "default"},
		Keys:      noKeys{}, Pricer: pricing.Default(), Recorder: noRecorder{},
	})
}

// noKeys and noRecorder fill the required options of a gateway that
// serves no call.
type (
	noKeys     struct{}
	noRecorder struct{}
)

func (noKeys) PrincipalByKeyHash(context.Context, []byte) (allot.Principal, error) {
	return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "no keys")
}

func (noRecorder) Record(allot.Event) {}
