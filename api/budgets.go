package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/budget"
)

// PolicyStore reads and writes the stored rationing policy (a setting).
type PolicyStore interface {
	Setting(ctx context.Context, name string) ([]byte, error)
	SetSetting(ctx context.Context, name string, value []byte) error
}

// Me is a person's own view: who they are, their spend this calendar
// month (UTC) and the budgets that apply to them.
type Me struct {
	User         string                `json:"user"`
	Team         string                `json:"team"`
	Role         allot.Role            `json:"role"`
	KeyID        string                `json:"key_id"`
	KeyLabel     string                `json:"key_label"`
	PeriodStart  time.Time             `json:"period_start"`
	PeriodEnd    time.Time             `json:"period_end"`
	Requests     int64                 `json:"requests"`
	InputTokens  int64                 `json:"input_tokens"`
	OutputTokens int64                 `json:"output_tokens"`
	SpendUSD     allot.Money           `json:"spend_usd"`
	RemainingUSD *allot.Money          `json:"remaining_usd"` // the tightest USD budget's room; null without one
	Budgets      []budget.BudgetStatus `json:"budgets"`
	// Forecast is the one month forecast of the person's spend (the same
	// as their insights' and their own monthly budget's projection), run
	// out against their own monthly budget (budget.Rationer.MonthLimit).
	Forecast allot.Forecast `json:"forecast"`
}

// MeOf computes p's own view at now.
func MeOf(ctx context.Context, r *budget.Rationer, reports allot.Reporter, p allot.Principal, now time.Time) (Me, error) {
	now = now.UTC()
	start, end := allot.MonthOf(now)
	me := Me{User: p.User, Team: p.Team, Role: p.Role, KeyID: p.KeyID, KeyLabel: p.KeyLabel,
		PeriodStart: start, PeriodEnd: end, Budgets: []budget.BudgetStatus{}}
	rows, err := reports.Report(ctx, allot.ReportQuery{From: start, To: me.PeriodEnd, Filter: map[allot.Dimension]string{allot.DimUser: p.User}})
	if err != nil {
		return me, fmt.Errorf("spend of %s: %w", p.User, err)
	}
	for _, row := range rows {
		me.Requests = allot.SatAdd(me.Requests, row.Requests)
		me.InputTokens = allot.SatAdd(me.InputTokens, row.Tokens.Input)
		me.OutputTokens = allot.SatAdd(me.OutputTokens, row.Tokens.Output)
		me.SpendUSD = me.SpendUSD.Plus(row.Cost)
	}
	if r == nil {
		me.Forecast = allot.ForecastMonth(me.SpendUSD, now, nil)
		return me, nil
	}
	me.Forecast = allot.ForecastMonth(me.SpendUSD, now, r.MonthLimit("user:"+p.User, now))
	st, err := r.StatusFor(ctx, p, now)
	if err != nil {
		return me, err
	}
	me.Budgets = append(me.Budgets, st...)
	for _, s := range st {
		if !s.USD || s.OnExceed == allot.OnExceedNotify {
			continue
		}
		left := allot.Money(max(s.Limit-s.Spent-s.Reserved, 0))
		if me.RemainingUSD == nil || left < *me.RemainingUSD {
			me.RemainingUSD = &left
		}
	}
	return me, nil
}

func (b *Server) me(w http.ResponseWriter, r *http.Request, p allot.Principal) error {
	me, err := MeOf(r.Context(), b.Rationer(), b.Reports, p, b.now())
	if err != nil {
		return err
	}
	writeJSON(w, me)
	return nil
}

func (b *Server) budgets(w http.ResponseWriter, r *http.Request, p allot.Principal) error {
	rt := b.Rationer()
	var err error
	var st []budget.BudgetStatus
	if p.Role == allot.RoleAdmin {
		st, err = rt.Status(r.Context(), b.now())
	} else {
		st, err = rt.StatusFor(r.Context(), p, b.now())
	}
	if err != nil {
		return err
	}
	if st == nil {
		st = []budget.BudgetStatus{}
	}
	writeJSON(w, st)
	return nil
}

// put creates or replaces one budget of the stored policy.
func (b *Server) put(w http.ResponseWriter, r *http.Request, p allot.Principal) error {
	name := r.PathValue("name")
	var nb allot.Budget
	if err := decodeBody(r, &nb); err != nil {
		return err
	}
	if nb.Name == "" {
		nb.Name = name
	}
	if nb.Name != name {
		return allot.Errorf(allot.EInvalid, "the body names budget %q but the URL %q; rename by deleting and creating", nb.Name, name)
	}
	ctx := r.Context()
	raw, err := b.Policy.Setting(ctx, allot.PolicySetting)
	if err != nil {
		return err
	}
	var pol allot.Policy
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &pol); err != nil {
			return fmt.Errorf("decode stored policy: %w", err)
		}
	}
	action := "budget.create"
	replaced := false
	for i := range pol.Budgets {
		if pol.Budgets[i].Name == name {
			pol.Budgets[i], replaced, action = nb, true, "budget.update"
		}
	}
	if !replaced {
		pol.Budgets = append(pol.Budgets, nb)
	}
	if err := pol.Validate(); err != nil {
		return err
	}
	out, _ := json.Marshal(pol)
	if err := b.Policy.SetSetting(ctx, allot.PolicySetting, out); err != nil {
		return err
	}
	detail, _ := json.Marshal(nb)
	b.audit(ctx, p, action, name, string(detail))
	if b.Refresh != nil {
		if err := b.Refresh(ctx); err != nil {
			return err
		}
	}
	writeJSON(w, nb)
	return nil
}

// grantRequest is the body of POST /api/v1/budgets/{name}/grants.
type grantRequest struct {
	USD    string    `json:"usd"`    // decimal dollars, for USD budgets
	Tokens int64     `json:"tokens"` // for token budgets
	Until  time.Time `json:"until"`  // zero: the end of the current period
	Reason string    `json:"reason"`
}

func (b *Server) grant(w http.ResponseWriter, r *http.Request, p allot.Principal) error {
	if b.Grants == nil {
		return allot.Errorf(allot.EUnavailable, "this store keeps no grants")
	}
	var req grantRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	g := allot.Grant{Budget: r.PathValue("name"), Tokens: req.Tokens, Until: req.Until, Reason: req.Reason}
	if req.USD != "" {
		m, err := allot.ParseUSD(req.USD)
		if err != nil {
			return allot.Errorf(allot.EInvalid, "usd %q is not a dollar amount such as \"20\"", req.USD)
		}
		g.Amount = m
	}
	g, err := budget.CheckGrant(b.Rationer(), g)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := b.Grants.AddGrant(ctx, g); err != nil {
		return err
	}
	detail, _ := json.Marshal(g)
	b.audit(ctx, p, "budget.grant", g.Budget, string(detail))
	if b.Refresh != nil {
		if err := b.Refresh(ctx); err != nil {
			return err
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(g)
	return nil
}

func (b *Server) audit(ctx context.Context, p allot.Principal, action, target, detail string) {
	if b.Audit == nil {
		return
	}
	_ = b.Audit.Audit(ctx, allot.AuditEntry{Time: b.now().UTC(), Actor: p.User, Action: action, Target: target, Detail: detail})
}

// decodeBody reads a JSON body of at most 1 MiB, refusing unknown fields.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return allot.Errorf(allot.EInvalid, "request body is not the expected JSON: %v", err)
	}
	return nil
}

// writeJSON writes v as JSON with status 200 unless a status was written.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
