package budget

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allot-dev/allot"
)

// Rationer decides whether a call may go ahead: model access, rate limits
// and budgets, reserving the call's worst case on every counter that
// applies in one atomic step. It is safe for concurrent use.
type Rationer struct {
	ix       *index
	counters Counters
	pricer   allot.Pricer
	clock    func() time.Time

	grantMu sync.Mutex
	grants  atomic.Pointer[map[string][]grantEntry] // copy on write; read on every Admit

	leasePrefix string        // random per Rationer, so lease ids are unique across replicas
	leaseSeq    atomic.Uint64 // numbers this Rationer's admissions
	leaseTTL    atomic.Int64  // time.Duration; see SetLeaseTTL
}

// Call is what the gateway knows about a call before sending it upstream.
type Call struct {
	Principal allot.Principal
	Task      string
	Provider  string
	Model     string       // the model the client asked for
	Time      time.Time    // when the call started; zero means the Rationer's clock
	WorstCase allot.Tokens // input upper bound plus the maximum output
}

// New returns a Rationer for policy p over counters c. pricer prices the
// worst case (nil prices nothing: USD budgets then only see settled cost);
// clock tells the time (nil is time.Now), replaceable in tests. The policy
// is validated; an invalid one is an EInvalid *Error.
func New(p allot.Policy, c Counters, pricer allot.Pricer, clock func() time.Time) (*Rationer, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if c == nil {
		c = NewMemoryCounters()
	}
	if clock == nil {
		clock = time.Now
	}
	ix, err := newIndex(p)
	if err != nil {
		return nil, err
	}
	var id [9]byte
	_, _ = rand.Read(id[:]) // never fails (crypto/rand)
	r := &Rationer{ix: ix, counters: c, pricer: pricer, clock: clock, leasePrefix: hex.EncodeToString(id[:]) + "."}
	r.leaseTTL.Store(int64(DefaultLeaseTTL))
	return r, nil
}

// SetLeaseTTL sets how long an admission's reservations live unless it is
// settled or released first (DefaultLeaseTTL when unset; d <= 0 keeps the
// default). Set it above the longest upstream call, e.g. the gateway's
// upstream_timeout plus a minute: a call that outlives its lease no longer
// holds budget room, and only its settlement counts it.
func (r *Rationer) SetLeaseTTL(d time.Duration) {
	if d <= 0 {
		d = DefaultLeaseTTL
	}
	r.leaseTTL.Store(int64(d))
}

// lease fills the lease and keep fields of an admission's charges: one
// lease id for the whole admission, so every reservation of a replica that
// died lapses together.
func (r *Rationer) lease(a *Admission, now time.Time) {
	if a.lease == "" {
		a.lease = r.leasePrefix + strconv.FormatUint(r.leaseSeq.Add(1), 36)
	}
	ttl := time.Duration(r.leaseTTL.Load())
	for i := range a.charges {
		ch := &a.charges[i]
		ch.Lease, ch.LeaseTTL = a.lease, ttl
		switch m := &a.meta[i]; m.kind {
		case kindBudget:
			ch.Keep = m.in.rule.win.keep(ch.Bucket)
		case kindConcurrent:
			ch.Keep = now.Add(ttl)
		default:
			ch.Keep = time.Unix((ch.Bucket+1)*int64(rateBucket/time.Second), 0).Add(time.Minute)
		}
	}
}

// keep returns when cell bucket stops counting: the end of its calendar
// period (at the latest; a day may have 25 hours) or of the last window
// that includes it.
func (w window) keep(bucket int64) time.Time {
	switch w.unit {
	case "":
		return time.Unix((bucket+1)*w.bucket, 0).Add(w.rolling)
	case allot.PeriodDay:
		return time.Unix(bucket, 0).Add(25 * time.Hour)
	case allot.PeriodWeek:
		return time.Unix(bucket, 0).Add(7*24*time.Hour + time.Hour)
	}
	return time.Unix(bucket, 0).Add(31*24*time.Hour + time.Hour)
}

// chargeKind says what a charge of an admission counts.
type chargeKind uint8

const (
	kindBudget chargeKind = iota
	kindRPM
	kindTPM
	kindConcurrent
)

// chargeMeta is what the Rationer knows about one charge of an admission.
type chargeMeta struct {
	kind  chargeKind
	in    *instance // kindBudget
	rate  *rateRule // rate kinds
	limit int64     // the enforced limit, grants included
}

// Admit checks and reserves a call. It returns an *allot.Error with code
// EForbidden (model not allowed), ERateLimit or EBudget (with RetryAfter),
// or EUnavailable when the counters cannot be reached. On success the
// caller must end the Admission with exactly one Settle or Release.
//
// Budgets that apply are those whose scope matches the principal (key
// scope by key label), the task or the org, whose model filter matches,
// and the default user budget for users without an explicit user budget.
// USD budgets reserve the worst case priced by the Pricer; for a model
// without a price they reserve one nano-dollar, so the call is admitted
// only while the budget has room and settles at its actual (unknown, so
// usually zero) cost; token budgets reserve WorstCase input+output either
// way. When a downgrade budget has no room the model is rewritten by its
// downgrade map and everything is checked again for the cheaper model.
func (r *Rationer) Admit(ctx context.Context, c Call) (*Admission, error) {
	now := c.Time
	if now.IsZero() {
		now = r.clock()
	}
	if err := r.ix.checkAccess(c.Principal, c.Model); err != nil {
		return nil, err
	}
	a := &Admission{r: r, RequestedModel: c.Model, at: now}
	a.charges, a.meta = a.chargeBuf[:0], a.metaBuf[:0]

	if err := c.WorstCase.CheckCall(); err != nil {
		return nil, allot.Errorf(allot.EInvalid, "this call's worst case cannot be reserved: %s; lower max_tokens or send a smaller request", allot.ErrorOf(err).Message)
	}
	var rateBuf [4]*rateRule
	tokens := allot.SatAdd(c.WorstCase.Input, c.WorstCase.Output)
	rateCell := floorDiv(now.Unix(), int64(rateBucket/time.Second))
	for _, rr := range r.ix.rateRules(rateBuf[:0], c.Principal) {
		if l := rr.limit.RequestsPerMinute; l > 0 {
			a.add(Charge{Key: rr.rpmKey, Bucket: rateCell, Span: rateBuckets, Amount: 1, Limit: l}, chargeMeta{kind: kindRPM, rate: rr, limit: l})
		}
		if l := rr.limit.TokensPerMinute; l > 0 {
			a.add(Charge{Key: rr.tpmKey, Bucket: rateCell, Span: rateBuckets, Amount: tokens, Limit: l}, chargeMeta{kind: kindTPM, rate: rr, limit: l})
		}
		if l := rr.limit.MaxConcurrent; l > 0 {
			a.add(Charge{Key: rr.conc, Span: 1, Amount: 1, Limit: l}, chargeMeta{kind: kindConcurrent, rate: rr, limit: l})
		}
	}
	nRate := len(a.charges)

	grants := r.grants.Load()
	model := c.Model
	var triedBuf [4]string
	tried := triedBuf[:0]
	for {
		a.charges, a.meta = a.charges[:nRate], a.meta[:nRate]
		var inBuf [8]*instance
		ins := r.ix.budgets(inBuf[:0], c.Principal, c.Task, model)
		sortByOrder(ins)
		cost, known := allot.Money(0), false
		if r.pricer != nil && len(ins) > 0 {
			cost, known = r.pricer.Cost(c.Provider, model, now, c.WorstCase)
		}
		usd := int64(cost)
		if !known {
			usd = 1
		} else if cost < 0 || cost > allot.MaxCallCost {
			return nil, allot.Errorf(allot.EInvalid, "this call's worst case of %s cannot be reserved: it is over %s, the most one call can cost; lower max_tokens or send a smaller request",
				dollars(cost), dollars(allot.MaxCallCost))
		}
		for _, in := range ins {
			bucket, span := in.rule.win.cell(now)
			limit := r.limitOf(grants, in, now)
			ch := Charge{Key: in.key, Bucket: bucket, Span: span, Amount: tokens, Limit: limit}
			if in.rule.usd {
				ch.Amount = usd
			}
			if in.rule.action == allot.OnExceedNotify {
				ch.Limit = NoLimit
			}
			a.add(ch, chargeMeta{kind: kindBudget, in: in, limit: limit})
		}
		failed := -1
		var err error
		if len(a.charges) > 0 {
			r.lease(a, now)
			failed, err = r.counters.Reserve(ctx, a.charges)
		}
		if err != nil {
			var e *allot.Error
			if errors.As(err, &e) {
				return nil, e // e.g. Failover's refusal under fail_closed
			}
			return nil, &allot.Error{Code: allot.EUnavailable, Message: "allot could not reach its budget counters, so the call was not sent; retry shortly", Err: err}
		}
		if failed < 0 {
			a.WorstCase, a.CostKnown = cost, known
			break
		}
		m, ch := a.meta[failed], a.charges[failed]
		if m.kind != kindBudget {
			return nil, rateError(m, ch, now)
		}
		if m.in.rule.action == allot.OnExceedDowngrade {
			to, ok := m.in.rule.downgradeOf(model)
			if ok && to != model && to != c.Model && !slices.Contains(tried, to) && len(tried) < 8 &&
				r.ix.checkAccess(c.Principal, to) == nil {
				tried = append(tried, to)
				model = to
				continue
			}
		}
		return nil, budgetError(m, ch, now)
	}

	a.ServedModel = model
	if model != c.Model {
		a.Downgraded = c.Model + " -> " + model
	}
	for i := nRate; i < len(a.charges); i++ {
		m, ch := a.meta[i], a.charges[i]
		if !m.in.rule.usd || m.in.rule.action == allot.OnExceedNotify {
			continue
		}
		left := allot.Money(max(room(m.limit, ch.Spent, allot.SatAdd(ch.Reserved, -ch.Amount)), 0))
		if !a.HasUSDBudget || left < a.RemainingUSD {
			a.RemainingUSD, a.HasUSDBudget = left, true
		}
	}
	a.Alerts = r.alerts(ctx, nil, a.charges[nRate:], a.meta[nRate:], now)
	return a, nil
}

// add appends one charge and what it is.
func (a *Admission) add(c Charge, m chargeMeta) {
	a.charges = append(a.charges, c)
	a.meta = append(a.meta, m)
}

// sortByOrder orders budget instances downgrade, block, notify, keeping
// declaration order within each (an insertion sort: the list is short).
func sortByOrder(ins []*instance) {
	for i := 1; i < len(ins); i++ {
		for j := i; j > 0 && ins[j].rule.order() < ins[j-1].rule.order(); j-- {
			ins[j], ins[j-1] = ins[j-1], ins[j]
		}
	}
}
