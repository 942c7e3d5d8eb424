package otlp

import (
	"math"
	"strconv"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/ingest"
)

// group is the usage of one series context (one session and model of one
// tool, all token types together) over one interval: one event.
type group struct {
	fam        *family
	a          attrs // of its first point
	start, end uint64
	tokens     allot.Tokens
	points     int64
	key        string // source key: the context and interval
	costKey    string
}

// point is one data point of a token or cost metric, whatever its type.
type point struct {
	attrs      []*commonpb.KeyValue
	start, end uint64
	value      float64
	isInt      bool
	intValue   int64
}

// points lists m's data points and whether they are cumulative; ok is
// false for a type that cannot carry usage (a gauge).
func points(m *metricspb.Metric) (ps []point, cumulative, ok bool) {
	cum := func(t metricspb.AggregationTemporality) bool {
		return t == metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
	}
	switch d := m.GetData().(type) {
	case *metricspb.Metric_Sum:
		for _, p := range d.Sum.GetDataPoints() {
			pt := point{attrs: p.GetAttributes(), start: p.GetStartTimeUnixNano(), end: p.GetTimeUnixNano()}
			switch v := p.GetValue().(type) {
			case *metricspb.NumberDataPoint_AsInt:
				pt.isInt, pt.intValue = true, v.AsInt
			case *metricspb.NumberDataPoint_AsDouble:
				pt.value = v.AsDouble
			default:
				pt.value = math.NaN()
			}
			ps = append(ps, pt)
		}
		return ps, cum(d.Sum.GetAggregationTemporality()), true
	case *metricspb.Metric_Histogram:
		for _, p := range d.Histogram.GetDataPoints() {
			pt := point{attrs: p.GetAttributes(), start: p.GetStartTimeUnixNano(), end: p.GetTimeUnixNano(), value: math.NaN()}
			if p.Sum != nil {
				pt.value = p.GetSum()
			} else if p.GetCount() == 0 {
				pt.value = 0
			}
			ps = append(ps, pt)
		}
		return ps, cum(d.Histogram.GetAggregationTemporality()), true
	case *metricspb.Metric_ExponentialHistogram:
		for _, p := range d.ExponentialHistogram.GetDataPoints() {
			pt := point{attrs: p.GetAttributes(), start: p.GetStartTimeUnixNano(), end: p.GetTimeUnixNano(), value: math.NaN()}
			if p.Sum != nil {
				pt.value = p.GetSum()
			} else if p.GetCount() == 0 {
				pt.value = 0
			}
			ps = append(ps, pt)
		}
		return ps, cum(d.ExponentialHistogram.GetAggregationTemporality()), true
	case *metricspb.Metric_Summary:
		for _, p := range d.Summary.GetDataPoints() {
			ps = append(ps, point{attrs: p.GetAttributes(), start: p.GetStartTimeUnixNano(), end: p.GetTimeUnixNano(), value: p.GetSum()})
		}
		return ps, true, true // summaries are cumulative by definition
	}
	return nil, false, false
}

// pointCount is the number of data points of m.
func pointCount(m *metricspb.Metric) int64 {
	switch d := m.GetData().(type) {
	case *metricspb.Metric_Sum:
		return int64(len(d.Sum.GetDataPoints()))
	case *metricspb.Metric_Gauge:
		return int64(len(d.Gauge.GetDataPoints()))
	case *metricspb.Metric_Histogram:
		return int64(len(d.Histogram.GetDataPoints()))
	case *metricspb.Metric_ExponentialHistogram:
		return int64(len(d.ExponentialHistogram.GetDataPoints()))
	case *metricspb.Metric_Summary:
		return int64(len(d.Summary.GetDataPoints()))
	}
	return 0
}

// tokens reads a point as a whole number of tokens; cost as nano-USD.
func (p point) amount(cost bool) (int64, error) {
	if p.isInt {
		if p.intValue < 0 {
			return 0, errNegative
		}
		if cost {
			if p.intValue > 1_000_000_000 {
				return 0, errRange
			}
			return p.intValue * int64(allot.USD), nil
		}
		if p.intValue > ingest.MaxCount {
			return 0, errRange
		}
		return p.intValue, nil
	}
	v := p.value
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, errNaN
	}
	if v < 0 {
		return 0, errNegative
	}
	if cost {
		m, err := ingest.ReportedUSDFromFloat(v)
		return int64(m), err
	}
	if v > ingest.MaxCount {
		return 0, errRange
	}
	return int64(math.Round(v)), nil
}

type pointError string

func (e pointError) Error() string { return string(e) }

const (
	errNegative = pointError("negative value")
	errNaN      = pointError("value is not a number")
	errRange    = pointError("value out of range")
)

// metrics reads a metrics export.
func (b *batch) metrics(md *metricspb.MetricsData) {
	for _, rm := range md.GetResourceMetrics() {
		res := rm.GetResource().GetAttributes()
		tool := toolOf(attrs{res: res}.str("service.name"))
		var resFP []byte
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				n := pointCount(m)
				b.st.stats.points.Add(n)
				def := metricDefs[m.GetName()]
				switch {
				case def == nil:
					b.st.stats.ignore(m.GetName(), n)
					continue
				case def.fam == genAI && tool != nil:
					b.st.stats.ignore(m.GetName()+" from "+tool.name+" (read from its own metrics)", n)
					continue
				}
				if resFP == nil {
					resFP = fingerprint(append(make([]byte, 0, 256), 'r'), res)
				}
				b.metric(def, m, res, resFP)
			}
		}
	}
}

func (b *batch) metric(def *metricDef, m *metricspb.Metric, res []*commonpb.KeyValue, resFP []byte) {
	ps, cumulative, ok := points(m)
	if !ok {
		b.st.stats.ignore(m.GetName()+" (gauge)", pointCount(m))
		return
	}
	var temporality metricspb.AggregationTemporality
	switch d := m.GetData().(type) {
	case *metricspb.Metric_Sum:
		temporality = d.Sum.GetAggregationTemporality()
	case *metricspb.Metric_Histogram:
		temporality = d.Histogram.GetAggregationTemporality()
	case *metricspb.Metric_ExponentialHistogram:
		temporality = d.ExponentialHistogram.GetAggregationTemporality()
	default:
		temporality = metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
	}
	if temporality == metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_UNSPECIFIED {
		for range ps {
			b.reject("%s: aggregation temporality unspecified; set delta or cumulative", m.GetName())
		}
		return
	}
	buf := make([]byte, 0, 512)
	for _, p := range ps {
		a := attrs{own: p.attrs, res: res}
		kind := kindCost
		if !def.cost {
			typ := a.str(def.typeKey)
			k, known := def.kinds[typ]
			if !known || k == kindIgnore {
				b.st.stats.ignore(m.GetName()+"{"+def.typeKey+"="+typ+"}", 1)
				continue
			}
			kind = k
		}
		v, err := p.amount(def.cost)
		if err != nil {
			b.reject("%s: %v", m.GetName(), err)
			continue
		}
		start, end := p.start, p.end
		if cumulative {
			buf = append(buf[:0], b.who.User...)
			buf = append(buf, 0)
			buf = append(buf, m.GetName()...)
			buf = append(buf, 0)
			buf = append(buf, resFP...)
			buf = fingerprint(buf, p.attrs)
			d, from, ok := b.st.series.delta(string(buf), p.start, p.end, v, b.now)
			if !ok {
				continue
			}
			v, start = d, from
		}
		if v == 0 {
			continue
		}
		// One interval's usage becomes one event, bounded like a call's:
		// cumulative totals may grow past the bounds over a long session
		// (they are bounded by ingest.MaxCount above), an interval's delta
		// may not.
		if kind == kindCost && allot.Money(v) > allot.MaxCallCost {
			b.reject("%s: %s USD in one interval is over %s, the most one call can cost", m.GetName(), allot.Money(v), allot.MaxCallCost)
			continue
		}
		if kind != kindCost && v > allot.MaxCallTokens {
			b.reject("%s: %d tokens in one interval is over %d, the most one call can have", m.GetName(), v, allot.MaxCallTokens)
			continue
		}
		if kind == kindCost {
			b.addCost(a, start, end, allot.Money(v))
			continue
		}
		// The group: tool, key owner, resource, the point's attributes but
		// its token type, and the interval.
		buf = append(buf[:0], "otlp-metric:"...)
		buf = append(buf, def.fam.name...)
		buf = append(buf, 0)
		buf = append(buf, resFP...)
		buf = fingerprint(buf, p.attrs, def.typeKey)
		buf = strconv.AppendUint(append(buf, '@'), start, 10)
		buf = strconv.AppendUint(append(buf, '-'), end, 10)
		g := b.byKey[string(buf)]
		if g == nil {
			g = &group{fam: def.fam, a: a, start: start, end: end, key: string(buf)}
			g.costKey = b.costKey(a, start, end)
			if b.byKey == nil {
				b.byKey = map[string]*group{}
				b.costGroups = map[string]int{}
			}
			b.byKey[g.key] = g
			b.costGroups[g.costKey]++
			b.groups = append(b.groups, g)
		}
		var unused allot.Money
		kind.add(&g.tokens, &unused, v)
		g.points++
	}
}

// costKey matches a cost point to the token points of the same request
// context: user, session, model and interval.
func (b *batch) costKey(a attrs, start, end uint64) string {
	return a.str("user.email") + "\x00" + a.str("session.id") + "\x00" + a.str("model") + "\x00" +
		strconv.FormatUint(start, 10) + "-" + strconv.FormatUint(end, 10)
}

// addCost keeps a tool-reported cost for the token group it belongs to;
// it is used only for models the price catalog does not know.
func (b *batch) addCost(a attrs, start, end uint64, c allot.Money) {
	if b.costs == nil {
		b.costs = map[string]allot.Money{}
	}
	k := b.costKey(a, start, end)
	b.costs[k] = b.costs[k].Plus(c)
}
