package otlp

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/ingest"
)

// attrs is the attribute view of one data point, log record or span: its
// own attributes first, then its resource's (OpenTelemetry copies
// OTEL_RESOURCE_ATTRIBUTES onto the resource).
type attrs struct {
	own, res []*commonpb.KeyValue
}

func (a attrs) value(key string) *commonpb.AnyValue {
	for _, kv := range a.own {
		if kv.GetKey() == key {
			return kv.GetValue()
		}
	}
	for _, kv := range a.res {
		if kv.GetKey() == key {
			return kv.GetValue()
		}
	}
	return nil
}

// has reports whether key is set.
func (a attrs) has(key string) bool { return a.value(key) != nil }

// str returns key's value as text ("" if absent); numbers and booleans are
// formatted. Over-long text is capped (allot.CapLabel): every name an
// event takes from an attribute (session, task, model, app, provider,
// user.email) comes through here.
func (a attrs) str(key string) string { return allot.CapLabel(anyString(a.value(key))) }

// first returns the first non-empty of keys' values.
func (a attrs) first(keys ...string) string {
	for _, k := range keys {
		if v := a.str(k); v != "" {
			return v
		}
	}
	return ""
}

func anyString(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	}
	return ""
}

// count reads a token count: an int, a whole double, or a decimal string
// (Claude Code sends its event attributes as strings). ok is false when
// the key is absent; err is set when it is present but not a count.
func (a attrs) count(key string) (n int64, ok bool, err error) {
	v := a.value(key)
	if v == nil {
		return 0, false, nil
	}
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_IntValue:
		n = x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		f := x.DoubleValue
		if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) {
			return 0, true, fmt.Errorf("%s=%v is not a token count", key, f)
		}
		if math.Abs(f) > float64(allot.MaxCallTokens) {
			return 0, true, fmt.Errorf("%s=%v is over %d, the most one call can have", key, f, allot.MaxCallTokens)
		}
		n = int64(f)
	case *commonpb.AnyValue_StringValue:
		s := strings.TrimSpace(x.StringValue)
		if s == "" {
			return 0, false, nil
		}
		var perr error
		if n, perr = strconv.ParseInt(s, 10, 64); perr != nil {
			f, ferr := strconv.ParseFloat(s, 64)
			if ferr != nil || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) {
				return 0, true, fmt.Errorf("%s=%q is not a token count", key, s)
			}
			if math.Abs(f) > float64(allot.MaxCallTokens) {
				return 0, true, fmt.Errorf("%s=%q is over %d, the most one call can have", key, s, allot.MaxCallTokens)
			}
			n = int64(f)
		}
	default:
		return 0, true, fmt.Errorf("%s is not a number", key)
	}
	if n < 0 {
		return 0, true, fmt.Errorf("%s=%d is negative", key, n)
	}
	if n > allot.MaxCallTokens {
		return 0, true, fmt.Errorf("%s=%d is over %d, the most one call can have", key, n, allot.MaxCallTokens)
	}
	return n, true, nil
}

// counts reads the first present of keys as a count.
func (a attrs) counts(keys ...string) (int64, bool, error) {
	for _, k := range keys {
		if n, ok, err := a.count(k); ok || err != nil {
			return n, ok, err
		}
	}
	return 0, false, nil
}

// usd reads a dollar amount (a double or a decimal string); ok is false
// when absent or unreadable.
func (a attrs) usd(key string) (allot.Money, bool) {
	v := a.value(key)
	if v == nil {
		return 0, false
	}
	var m allot.Money
	var err error
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_DoubleValue:
		m, err = ingest.ReportedUSDFromFloat(x.DoubleValue)
	case *commonpb.AnyValue_IntValue:
		m, err = ingest.ReportedUSDFromFloat(float64(x.IntValue))
	case *commonpb.AnyValue_StringValue:
		m, err = ingest.ParseReportedUSD(x.StringValue)
	default:
		return 0, false
	}
	return m, err == nil
}

// fingerprint appends a canonical form of kvs, sorted by key and without
// the keys in skip, to b: the identity of a series or record.
func fingerprint(b []byte, kvs []*commonpb.KeyValue, skip ...string) []byte {
	idx := make([]int, 0, len(kvs))
next:
	for i, kv := range kvs {
		for _, s := range skip {
			if kv.GetKey() == s {
				continue next
			}
		}
		idx = append(idx, i)
	}
	sort.Slice(idx, func(i, j int) bool { return kvs[idx[i]].GetKey() < kvs[idx[j]].GetKey() })
	for _, i := range idx {
		b = append(b, kvs[i].GetKey()...)
		b = append(b, '=')
		b = appendValue(b, kvs[i].GetValue())
		b = append(b, 0)
	}
	return b
}

func appendValue(b []byte, v *commonpb.AnyValue) []byte {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return append(append(b, 's'), x.StringValue...)
	case *commonpb.AnyValue_IntValue:
		return strconv.AppendInt(append(b, 'i'), x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.AppendFloat(append(b, 'd'), x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BoolValue:
		return strconv.AppendBool(append(b, 'b'), x.BoolValue)
	case *commonpb.AnyValue_BytesValue:
		return append(append(b, 'x'), x.BytesValue...)
	case *commonpb.AnyValue_ArrayValue:
		b = append(b, '[')
		for _, e := range x.ArrayValue.GetValues() {
			b = append(appendValue(b, e), ',')
		}
		return append(b, ']')
	case *commonpb.AnyValue_KvlistValue:
		b = append(b, '{')
		b = fingerprint(b, x.KvlistValue.GetValues())
		return append(b, '}')
	}
	return b
}
