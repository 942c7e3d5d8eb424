package otlp

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// unmarshalJSON decodes an OTLP/JSON payload into m (a *MetricsData,
// *LogsData or *TracesData) with the result and the errors protojson
// would give with DiscardUnknown (see jsonReader), hex ids still read as
// base64 (fixLogIDs and fixSpanIDs correct them).
func unmarshalJSON(data []byte, m proto.Message) error {
	r := jsonReader{data: data, depth: depthLimit}
	var err error
	switch m := m.(type) {
	case *metricspb.MetricsData:
		err = r.metricsData(m)
	case *logspb.LogsData:
		err = r.logsData(m)
	case *tracepb.TracesData:
		err = r.tracesData(m)
	default:
		return fmt.Errorf("otlp: no JSON decoder for %T", m)
	}
	if err != nil {
		return err
	}
	return r.end()
}

// jsonFields are the names a message's fields go by in OTLP/JSON, with
// their numbers: the lowerCamelCase JSON names first, then the proto
// names, the order in which protojson tries them.
type jsonFields []jsonField

type jsonField struct {
	name string
	num  int
}

// fieldsOf lists m's field names from its descriptor.
func fieldsOf(m proto.Message) jsonFields {
	fds := m.ProtoReflect().Descriptor().Fields()
	var fs jsonFields
	for i := range fds.Len() {
		fd := fds.Get(i)
		if fd.Number() >= 64 {
			panic(fmt.Sprintf("otlp: field number %d of %s beyond the decoder's field set", fd.Number(), fd.FullName()))
		}
		fs = append(fs, jsonField{fd.JSONName(), int(fd.Number())})
	}
	for i := range fds.Len() {
		if fd := fds.Get(i); fd.TextName() != fd.JSONName() {
			fs = append(fs, jsonField{fd.TextName(), int(fd.Number())})
		}
	}
	return fs
}

// lookup returns the number of the field named name, 0 if none.
func (fs jsonFields) lookup(name []byte) int {
	for i := range fs {
		if string(name) == fs[i].name {
			return fs[i].num
		}
	}
	return 0
}

// message reads an object into a message: set reads the value of the
// field numbered num (it must read every field fields names). Unknown
// fields are skipped, null leaves a field unset, and a field named twice
// (by either name) is an error, as in protojson.
func (r *jsonReader) message(fields jsonFields, set func(num int) error) error {
	if err := r.enter(); err != nil {
		return err
	}
	var seen uint64
	for i := 0; ; i++ {
		start := r.peekPos()
		name, ok, err := r.field(i)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		num := fields.lookup(name)
		if num == 0 {
			if err := r.unknown(name); err != nil {
				return err
			}
			continue
		}
		if seen&(1<<num) != 0 {
			return r.errorAt(start, "duplicate field %q", name)
		}
		seen |= 1 << num
		if r.null() {
			continue
		}
		if err := set(num); err != nil {
			return err
		}
	}
	r.depth++
	return nil
}

// oneofSet is the error for a second member of a oneof.
func (r *jsonReader) oneofSet(oneof string) error {
	return r.errorAt(r.pos, "oneof %s is already set", oneof)
}

// unhandled reports a field in a table that its decoder misses: a bug.
func unhandled(msg string, num int) error {
	return fmt.Errorf("otlp: JSON decoder of %s misses field %d", msg, num)
}

func (r *jsonReader) uint64Value(what string) (uint64, error) { return r.integer(64, false, what) }

func (r *jsonReader) uint32Value(what string) (uint32, error) {
	v, err := r.integer(32, false, what)
	return uint32(v), err
}

func (r *jsonReader) int64Value(what string) (int64, error) {
	v, err := r.integer(64, true, what)
	return int64(v), err
}

func (r *jsonReader) int32Value(what string) (int32, error) {
	v, err := r.integer(32, true, what)
	return int32(v), err
}

func (r *jsonReader) optFloat(what string) (*float64, error) {
	f, err := r.float(what)
	return &f, err
}

func (r *jsonReader) uint64List(dst *[]uint64, what string) error {
	return r.list(func() error {
		v, err := r.uint64Value(what)
		*dst = append(*dst, v)
		return err
	})
}

func (r *jsonReader) floatList(dst *[]float64, what string) error {
	return r.list(func() error {
		v, err := r.float(what)
		*dst = append(*dst, v)
		return err
	})
}

func (r *jsonReader) textList(dst *[]string, what string) error {
	return r.list(func() error {
		v, err := r.text(what)
		*dst = append(*dst, v)
		return err
	})
}

// Common messages.

var (
	fieldsAnyValue     = fieldsOf(&commonpb.AnyValue{})
	fieldsArrayValue   = fieldsOf(&commonpb.ArrayValue{})
	fieldsKeyValueList = fieldsOf(&commonpb.KeyValueList{})
	fieldsKeyValue     = fieldsOf(&commonpb.KeyValue{})
	fieldsScope        = fieldsOf(&commonpb.InstrumentationScope{})
	fieldsEntityRef    = fieldsOf(&commonpb.EntityRef{})
	fieldsResource     = fieldsOf(&resourcepb.Resource{})
)

func (r *jsonReader) anyValue(v *commonpb.AnyValue) error {
	return r.message(fieldsAnyValue, func(num int) error {
		if v.Value != nil { // every field is a member of the oneof
			return r.oneofSet("AnyValue.value")
		}
		switch num {
		case 1:
			sv := alloc(&r.strSlab)
			v.Value = sv
			var err error
			sv.StringValue, err = r.text("stringValue")
			return err
		case 2:
			b, err := r.boolean("boolValue")
			v.Value = &commonpb.AnyValue_BoolValue{BoolValue: b}
			return err
		case 3:
			n, err := r.int64Value("intValue")
			v.Value = &commonpb.AnyValue_IntValue{IntValue: n}
			return err
		case 4:
			f, err := r.float("doubleValue")
			v.Value = &commonpb.AnyValue_DoubleValue{DoubleValue: f}
			return err
		case 5:
			a := &commonpb.ArrayValue{}
			v.Value = &commonpb.AnyValue_ArrayValue{ArrayValue: a}
			return r.message(fieldsArrayValue, func(num int) error {
				if num != 1 {
					return unhandled("ArrayValue", num)
				}
				return r.list(func() error {
					e := alloc(&r.anySlab)
					a.Values = append(a.Values, e)
					return r.anyValue(e)
				})
			})
		case 6:
			l := &commonpb.KeyValueList{}
			v.Value = &commonpb.AnyValue_KvlistValue{KvlistValue: l}
			return r.message(fieldsKeyValueList, func(num int) error {
				if num != 1 {
					return unhandled("KeyValueList", num)
				}
				return r.keyValues(&l.Values)
			})
		case 7:
			b, err := r.bytesValue("bytesValue")
			v.Value = &commonpb.AnyValue_BytesValue{BytesValue: b}
			return err
		case 8:
			n, err := r.int32Value("stringValueStrindex")
			v.Value = &commonpb.AnyValue_StringValueStrindex{StringValueStrindex: n}
			return err
		}
		return unhandled("AnyValue", num)
	})
}

// keyValues reads a list of attributes.
func (r *jsonReader) keyValues(dst *[]*commonpb.KeyValue) error {
	return r.list(func() error {
		kv := alloc(&r.kvSlab)
		*dst = append(*dst, kv)
		return r.keyValue(kv)
	})
}

func (r *jsonReader) keyValue(kv *commonpb.KeyValue) error {
	return r.message(fieldsKeyValue, func(num int) (err error) {
		switch num {
		case 1:
			kv.Key, err = r.text("key")
		case 2:
			kv.Value = alloc(&r.anySlab)
			err = r.anyValue(kv.Value)
		case 3:
			kv.KeyStrindex, err = r.int32Value("keyStrindex")
		default:
			err = unhandled("KeyValue", num)
		}
		return err
	})
}

func (r *jsonReader) scope(s *commonpb.InstrumentationScope) error {
	return r.message(fieldsScope, func(num int) (err error) {
		switch num {
		case 1:
			s.Name, err = r.text("name")
		case 2:
			s.Version, err = r.text("version")
		case 3:
			err = r.keyValues(&s.Attributes)
		case 4:
			s.DroppedAttributesCount, err = r.uint32Value("droppedAttributesCount")
		default:
			err = unhandled("InstrumentationScope", num)
		}
		return err
	})
}

func (r *jsonReader) resource(res *resourcepb.Resource) error {
	return r.message(fieldsResource, func(num int) (err error) {
		switch num {
		case 1:
			err = r.keyValues(&res.Attributes)
		case 2:
			res.DroppedAttributesCount, err = r.uint32Value("droppedAttributesCount")
		case 3:
			err = r.list(func() error {
				e := &commonpb.EntityRef{}
				res.EntityRefs = append(res.EntityRefs, e)
				return r.entityRef(e)
			})
		default:
			err = unhandled("Resource", num)
		}
		return err
	})
}

func (r *jsonReader) entityRef(e *commonpb.EntityRef) error {
	return r.message(fieldsEntityRef, func(num int) (err error) {
		switch num {
		case 1:
			e.SchemaUrl, err = r.text("schemaUrl")
		case 2:
			e.Type, err = r.text("type")
		case 3:
			err = r.textList(&e.IdKeys, "idKeys")
		case 4:
			err = r.textList(&e.DescriptionKeys, "descriptionKeys")
		default:
			err = unhandled("EntityRef", num)
		}
		return err
	})
}

// Metrics.

var (
	fieldsMetricsData     = fieldsOf(&metricspb.MetricsData{})
	fieldsResourceMetrics = fieldsOf(&metricspb.ResourceMetrics{})
	fieldsScopeMetrics    = fieldsOf(&metricspb.ScopeMetrics{})
	fieldsMetric          = fieldsOf(&metricspb.Metric{})
	fieldsGauge           = fieldsOf(&metricspb.Gauge{})
	fieldsSum             = fieldsOf(&metricspb.Sum{})
	fieldsHistogram       = fieldsOf(&metricspb.Histogram{})
	fieldsExpHistogram    = fieldsOf(&metricspb.ExponentialHistogram{})
	fieldsSummary         = fieldsOf(&metricspb.Summary{})
	fieldsNumberPoint     = fieldsOf(&metricspb.NumberDataPoint{})
	fieldsHistogramPoint  = fieldsOf(&metricspb.HistogramDataPoint{})
	fieldsExpHistPoint    = fieldsOf(&metricspb.ExponentialHistogramDataPoint{})
	fieldsBuckets         = fieldsOf(&metricspb.ExponentialHistogramDataPoint_Buckets{})
	fieldsSummaryPoint    = fieldsOf(&metricspb.SummaryDataPoint{})
	fieldsValueAtQuantile = fieldsOf(&metricspb.SummaryDataPoint_ValueAtQuantile{})
	fieldsExemplar        = fieldsOf(&metricspb.Exemplar{})
	temporalityNames      = metricspb.AggregationTemporality_value
)

func (r *jsonReader) metricsData(md *metricspb.MetricsData) error {
	return r.message(fieldsMetricsData, func(num int) error {
		if num != 1 {
			return unhandled("MetricsData", num)
		}
		return r.list(func() error {
			rm := &metricspb.ResourceMetrics{}
			md.ResourceMetrics = append(md.ResourceMetrics, rm)
			return r.resourceMetrics(rm)
		})
	})
}

func (r *jsonReader) resourceMetrics(rm *metricspb.ResourceMetrics) error {
	return r.message(fieldsResourceMetrics, func(num int) (err error) {
		switch num {
		case 1:
			rm.Resource = &resourcepb.Resource{}
			err = r.resource(rm.Resource)
		case 2:
			err = r.list(func() error {
				sm := &metricspb.ScopeMetrics{}
				rm.ScopeMetrics = append(rm.ScopeMetrics, sm)
				return r.scopeMetrics(sm)
			})
		case 3:
			rm.SchemaUrl, err = r.text("schemaUrl")
		default:
			err = unhandled("ResourceMetrics", num)
		}
		return err
	})
}

func (r *jsonReader) scopeMetrics(sm *metricspb.ScopeMetrics) error {
	return r.message(fieldsScopeMetrics, func(num int) (err error) {
		switch num {
		case 1:
			sm.Scope = &commonpb.InstrumentationScope{}
			err = r.scope(sm.Scope)
		case 2:
			err = r.list(func() error {
				m := &metricspb.Metric{}
				sm.Metrics = append(sm.Metrics, m)
				return r.metric(m)
			})
		case 3:
			sm.SchemaUrl, err = r.text("schemaUrl")
		default:
			err = unhandled("ScopeMetrics", num)
		}
		return err
	})
}

func (r *jsonReader) metric(m *metricspb.Metric) error {
	return r.message(fieldsMetric, func(num int) (err error) {
		switch num {
		case 1:
			m.Name, err = r.text("name")
		case 2:
			m.Description, err = r.text("description")
		case 3:
			m.Unit, err = r.text("unit")
		case 5, 7, 9, 10, 11:
			if m.Data != nil {
				return r.oneofSet("Metric.data")
			}
			err = r.metricData(m, num)
		case 12:
			err = r.keyValues(&m.Metadata)
		default:
			err = unhandled("Metric", num)
		}
		return err
	})
}

// metricData reads the member num of Metric's data oneof.
func (r *jsonReader) metricData(m *metricspb.Metric, num int) error {
	switch num {
	case 5:
		g := &metricspb.Gauge{}
		m.Data = &metricspb.Metric_Gauge{Gauge: g}
		return r.message(fieldsGauge, func(num int) error {
			if num != 1 {
				return unhandled("Gauge", num)
			}
			return r.numberPoints(&g.DataPoints)
		})
	case 7:
		s := &metricspb.Sum{}
		m.Data = &metricspb.Metric_Sum{Sum: s}
		return r.message(fieldsSum, func(num int) (err error) {
			switch num {
			case 1:
				err = r.numberPoints(&s.DataPoints)
			case 2:
				s.AggregationTemporality, err = r.temporality()
			case 3:
				s.IsMonotonic, err = r.boolean("isMonotonic")
			default:
				err = unhandled("Sum", num)
			}
			return err
		})
	case 9:
		h := &metricspb.Histogram{}
		m.Data = &metricspb.Metric_Histogram{Histogram: h}
		return r.message(fieldsHistogram, func(num int) (err error) {
			switch num {
			case 1:
				err = r.list(func() error {
					p := &metricspb.HistogramDataPoint{}
					h.DataPoints = append(h.DataPoints, p)
					return r.histogramPoint(p)
				})
			case 2:
				h.AggregationTemporality, err = r.temporality()
			default:
				err = unhandled("Histogram", num)
			}
			return err
		})
	case 10:
		h := &metricspb.ExponentialHistogram{}
		m.Data = &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: h}
		return r.message(fieldsExpHistogram, func(num int) (err error) {
			switch num {
			case 1:
				err = r.list(func() error {
					p := &metricspb.ExponentialHistogramDataPoint{}
					h.DataPoints = append(h.DataPoints, p)
					return r.expHistPoint(p)
				})
			case 2:
				h.AggregationTemporality, err = r.temporality()
			default:
				err = unhandled("ExponentialHistogram", num)
			}
			return err
		})
	case 11:
		s := &metricspb.Summary{}
		m.Data = &metricspb.Metric_Summary{Summary: s}
		return r.message(fieldsSummary, func(num int) error {
			if num != 1 {
				return unhandled("Summary", num)
			}
			return r.list(func() error {
				p := &metricspb.SummaryDataPoint{}
				s.DataPoints = append(s.DataPoints, p)
				return r.summaryPoint(p)
			})
		})
	}
	return unhandled("Metric", num)
}

func (r *jsonReader) temporality() (metricspb.AggregationTemporality, error) {
	v, err := r.enum(temporalityNames, "aggregationTemporality")
	return metricspb.AggregationTemporality(v), err
}

func (r *jsonReader) numberPoints(dst *[]*metricspb.NumberDataPoint) error {
	return r.list(func() error {
		p := &metricspb.NumberDataPoint{}
		*dst = append(*dst, p)
		return r.numberPoint(p)
	})
}

func (r *jsonReader) numberPoint(p *metricspb.NumberDataPoint) error {
	return r.message(fieldsNumberPoint, func(num int) (err error) {
		switch num {
		case 7:
			err = r.keyValues(&p.Attributes)
		case 2:
			p.StartTimeUnixNano, err = r.uint64Value("startTimeUnixNano")
		case 3:
			p.TimeUnixNano, err = r.uint64Value("timeUnixNano")
		case 4:
			if p.Value != nil {
				return r.oneofSet("NumberDataPoint.value")
			}
			var f float64
			f, err = r.float("asDouble")
			p.Value = &metricspb.NumberDataPoint_AsDouble{AsDouble: f}
		case 6:
			if p.Value != nil {
				return r.oneofSet("NumberDataPoint.value")
			}
			var n int64
			n, err = r.int64Value("asInt")
			p.Value = &metricspb.NumberDataPoint_AsInt{AsInt: n}
		case 5:
			err = r.exemplars(&p.Exemplars)
		case 8:
			p.Flags, err = r.uint32Value("flags")
		default:
			err = unhandled("NumberDataPoint", num)
		}
		return err
	})
}

func (r *jsonReader) histogramPoint(p *metricspb.HistogramDataPoint) error {
	return r.message(fieldsHistogramPoint, func(num int) (err error) {
		switch num {
		case 9:
			err = r.keyValues(&p.Attributes)
		case 2:
			p.StartTimeUnixNano, err = r.uint64Value("startTimeUnixNano")
		case 3:
			p.TimeUnixNano, err = r.uint64Value("timeUnixNano")
		case 4:
			p.Count, err = r.uint64Value("count")
		case 5:
			p.Sum, err = r.optFloat("sum")
		case 6:
			err = r.uint64List(&p.BucketCounts, "bucketCounts")
		case 7:
			err = r.floatList(&p.ExplicitBounds, "explicitBounds")
		case 8:
			err = r.exemplars(&p.Exemplars)
		case 10:
			p.Flags, err = r.uint32Value("flags")
		case 11:
			p.Min, err = r.optFloat("min")
		case 12:
			p.Max, err = r.optFloat("max")
		default:
			err = unhandled("HistogramDataPoint", num)
		}
		return err
	})
}

func (r *jsonReader) expHistPoint(p *metricspb.ExponentialHistogramDataPoint) error {
	return r.message(fieldsExpHistPoint, func(num int) (err error) {
		switch num {
		case 1:
			err = r.keyValues(&p.Attributes)
		case 2:
			p.StartTimeUnixNano, err = r.uint64Value("startTimeUnixNano")
		case 3:
			p.TimeUnixNano, err = r.uint64Value("timeUnixNano")
		case 4:
			p.Count, err = r.uint64Value("count")
		case 5:
			p.Sum, err = r.optFloat("sum")
		case 6:
			p.Scale, err = r.int32Value("scale")
		case 7:
			p.ZeroCount, err = r.uint64Value("zeroCount")
		case 8:
			p.Positive = &metricspb.ExponentialHistogramDataPoint_Buckets{}
			err = r.buckets(p.Positive)
		case 9:
			p.Negative = &metricspb.ExponentialHistogramDataPoint_Buckets{}
			err = r.buckets(p.Negative)
		case 10:
			p.Flags, err = r.uint32Value("flags")
		case 11:
			err = r.exemplars(&p.Exemplars)
		case 12:
			p.Min, err = r.optFloat("min")
		case 13:
			p.Max, err = r.optFloat("max")
		case 14:
			p.ZeroThreshold, err = r.float("zeroThreshold")
		default:
			err = unhandled("ExponentialHistogramDataPoint", num)
		}
		return err
	})
}

func (r *jsonReader) buckets(b *metricspb.ExponentialHistogramDataPoint_Buckets) error {
	return r.message(fieldsBuckets, func(num int) (err error) {
		switch num {
		case 1:
			b.Offset, err = r.int32Value("offset")
		case 2:
			err = r.uint64List(&b.BucketCounts, "bucketCounts")
		default:
			err = unhandled("Buckets", num)
		}
		return err
	})
}

func (r *jsonReader) summaryPoint(p *metricspb.SummaryDataPoint) error {
	return r.message(fieldsSummaryPoint, func(num int) (err error) {
		switch num {
		case 7:
			err = r.keyValues(&p.Attributes)
		case 2:
			p.StartTimeUnixNano, err = r.uint64Value("startTimeUnixNano")
		case 3:
			p.TimeUnixNano, err = r.uint64Value("timeUnixNano")
		case 4:
			p.Count, err = r.uint64Value("count")
		case 5:
			p.Sum, err = r.float("sum")
		case 6:
			err = r.list(func() error {
				q := &metricspb.SummaryDataPoint_ValueAtQuantile{}
				p.QuantileValues = append(p.QuantileValues, q)
				return r.message(fieldsValueAtQuantile, func(num int) (err error) {
					switch num {
					case 1:
						q.Quantile, err = r.float("quantile")
					case 2:
						q.Value, err = r.float("value")
					default:
						err = unhandled("ValueAtQuantile", num)
					}
					return err
				})
			})
		case 8:
			p.Flags, err = r.uint32Value("flags")
		default:
			err = unhandled("SummaryDataPoint", num)
		}
		return err
	})
}

func (r *jsonReader) exemplars(dst *[]*metricspb.Exemplar) error {
	return r.list(func() error {
		e := &metricspb.Exemplar{}
		*dst = append(*dst, e)
		return r.message(fieldsExemplar, func(num int) (err error) {
			switch num {
			case 7:
				err = r.keyValues(&e.FilteredAttributes)
			case 2:
				e.TimeUnixNano, err = r.uint64Value("timeUnixNano")
			case 3:
				if e.Value != nil {
					return r.oneofSet("Exemplar.value")
				}
				var f float64
				f, err = r.float("asDouble")
				e.Value = &metricspb.Exemplar_AsDouble{AsDouble: f}
			case 6:
				if e.Value != nil {
					return r.oneofSet("Exemplar.value")
				}
				var n int64
				n, err = r.int64Value("asInt")
				e.Value = &metricspb.Exemplar_AsInt{AsInt: n}
			case 4:
				e.SpanId, err = r.bytesValue("spanId")
			case 5:
				e.TraceId, err = r.bytesValue("traceId")
			default:
				err = unhandled("Exemplar", num)
			}
			return err
		})
	})
}

// Logs.

var (
	fieldsLogsData     = fieldsOf(&logspb.LogsData{})
	fieldsResourceLogs = fieldsOf(&logspb.ResourceLogs{})
	fieldsScopeLogs    = fieldsOf(&logspb.ScopeLogs{})
	fieldsLogRecord    = fieldsOf(&logspb.LogRecord{})
)

func (r *jsonReader) logsData(ld *logspb.LogsData) error {
	return r.message(fieldsLogsData, func(num int) error {
		if num != 1 {
			return unhandled("LogsData", num)
		}
		return r.list(func() error {
			rl := &logspb.ResourceLogs{}
			ld.ResourceLogs = append(ld.ResourceLogs, rl)
			return r.resourceLogs(rl)
		})
	})
}

func (r *jsonReader) resourceLogs(rl *logspb.ResourceLogs) error {
	return r.message(fieldsResourceLogs, func(num int) (err error) {
		switch num {
		case 1:
			rl.Resource = &resourcepb.Resource{}
			err = r.resource(rl.Resource)
		case 2:
			err = r.list(func() error {
				sl := &logspb.ScopeLogs{}
				rl.ScopeLogs = append(rl.ScopeLogs, sl)
				return r.scopeLogs(sl)
			})
		case 3:
			rl.SchemaUrl, err = r.text("schemaUrl")
		default:
			err = unhandled("ResourceLogs", num)
		}
		return err
	})
}

func (r *jsonReader) scopeLogs(sl *logspb.ScopeLogs) error {
	return r.message(fieldsScopeLogs, func(num int) (err error) {
		switch num {
		case 1:
			sl.Scope = &commonpb.InstrumentationScope{}
			err = r.scope(sl.Scope)
		case 2:
			err = r.list(func() error {
				lr := &logspb.LogRecord{}
				sl.LogRecords = append(sl.LogRecords, lr)
				return r.logRecord(lr)
			})
		case 3:
			sl.SchemaUrl, err = r.text("schemaUrl")
		default:
			err = unhandled("ScopeLogs", num)
		}
		return err
	})
}

func (r *jsonReader) logRecord(lr *logspb.LogRecord) error {
	return r.message(fieldsLogRecord, func(num int) (err error) {
		switch num {
		case 1:
			lr.TimeUnixNano, err = r.uint64Value("timeUnixNano")
		case 11:
			lr.ObservedTimeUnixNano, err = r.uint64Value("observedTimeUnixNano")
		case 2:
			var v int32
			v, err = r.enum(logspb.SeverityNumber_value, "severityNumber")
			lr.SeverityNumber = logspb.SeverityNumber(v)
		case 3:
			lr.SeverityText, err = r.text("severityText")
		case 5:
			lr.Body = &commonpb.AnyValue{}
			err = r.anyValue(lr.Body)
		case 6:
			err = r.keyValues(&lr.Attributes)
		case 7:
			lr.DroppedAttributesCount, err = r.uint32Value("droppedAttributesCount")
		case 8:
			lr.Flags, err = r.uint32Value("flags")
		case 9:
			lr.TraceId, err = r.bytesValue("traceId")
		case 10:
			lr.SpanId, err = r.bytesValue("spanId")
		case 12:
			lr.EventName, err = r.text("eventName")
		default:
			err = unhandled("LogRecord", num)
		}
		return err
	})
}

// Traces.

var (
	fieldsTracesData    = fieldsOf(&tracepb.TracesData{})
	fieldsResourceSpans = fieldsOf(&tracepb.ResourceSpans{})
	fieldsScopeSpans    = fieldsOf(&tracepb.ScopeSpans{})
	fieldsSpan          = fieldsOf(&tracepb.Span{})
	fieldsSpanEvent     = fieldsOf(&tracepb.Span_Event{})
	fieldsSpanLink      = fieldsOf(&tracepb.Span_Link{})
	fieldsStatus        = fieldsOf(&tracepb.Status{})
)

func (r *jsonReader) tracesData(td *tracepb.TracesData) error {
	return r.message(fieldsTracesData, func(num int) error {
		if num != 1 {
			return unhandled("TracesData", num)
		}
		return r.list(func() error {
			rs := &tracepb.ResourceSpans{}
			td.ResourceSpans = append(td.ResourceSpans, rs)
			return r.resourceSpans(rs)
		})
	})
}

func (r *jsonReader) resourceSpans(rs *tracepb.ResourceSpans) error {
	return r.message(fieldsResourceSpans, func(num int) (err error) {
		switch num {
		case 1:
			rs.Resource = &resourcepb.Resource{}
			err = r.resource(rs.Resource)
		case 2:
			err = r.list(func() error {
				ss := &tracepb.ScopeSpans{}
				rs.ScopeSpans = append(rs.ScopeSpans, ss)
				return r.scopeSpans(ss)
			})
		case 3:
			rs.SchemaUrl, err = r.text("schemaUrl")
		default:
			err = unhandled("ResourceSpans", num)
		}
		return err
	})
}

func (r *jsonReader) scopeSpans(ss *tracepb.ScopeSpans) error {
	return r.message(fieldsScopeSpans, func(num int) (err error) {
		switch num {
		case 1:
			ss.Scope = &commonpb.InstrumentationScope{}
			err = r.scope(ss.Scope)
		case 2:
			err = r.list(func() error {
				s := &tracepb.Span{}
				ss.Spans = append(ss.Spans, s)
				return r.span(s)
			})
		case 3:
			ss.SchemaUrl, err = r.text("schemaUrl")
		default:
			err = unhandled("ScopeSpans", num)
		}
		return err
	})
}

func (r *jsonReader) span(s *tracepb.Span) error {
	return r.message(fieldsSpan, func(num int) (err error) {
		switch num {
		case 1:
			s.TraceId, err = r.bytesValue("traceId")
		case 2:
			s.SpanId, err = r.bytesValue("spanId")
		case 3:
			s.TraceState, err = r.text("traceState")
		case 4:
			s.ParentSpanId, err = r.bytesValue("parentSpanId")
		case 16:
			s.Flags, err = r.uint32Value("flags")
		case 5:
			s.Name, err = r.text("name")
		case 6:
			var v int32
			v, err = r.enum(tracepb.Span_SpanKind_value, "kind")
			s.Kind = tracepb.Span_SpanKind(v)
		case 7:
			s.StartTimeUnixNano, err = r.uint64Value("startTimeUnixNano")
		case 8:
			s.EndTimeUnixNano, err = r.uint64Value("endTimeUnixNano")
		case 9:
			err = r.keyValues(&s.Attributes)
		case 10:
			s.DroppedAttributesCount, err = r.uint32Value("droppedAttributesCount")
		case 11:
			err = r.list(func() error {
				e := &tracepb.Span_Event{}
				s.Events = append(s.Events, e)
				return r.spanEvent(e)
			})
		case 12:
			s.DroppedEventsCount, err = r.uint32Value("droppedEventsCount")
		case 13:
			err = r.list(func() error {
				l := &tracepb.Span_Link{}
				s.Links = append(s.Links, l)
				return r.spanLink(l)
			})
		case 14:
			s.DroppedLinksCount, err = r.uint32Value("droppedLinksCount")
		case 15:
			s.Status = &tracepb.Status{}
			err = r.message(fieldsStatus, func(num int) (err error) {
				switch num {
				case 2:
					s.Status.Message, err = r.text("message")
				case 3:
					var v int32
					v, err = r.enum(tracepb.Status_StatusCode_value, "code")
					s.Status.Code = tracepb.Status_StatusCode(v)
				default:
					err = unhandled("Status", num)
				}
				return err
			})
		default:
			err = unhandled("Span", num)
		}
		return err
	})
}

func (r *jsonReader) spanEvent(e *tracepb.Span_Event) error {
	return r.message(fieldsSpanEvent, func(num int) (err error) {
		switch num {
		case 1:
			e.TimeUnixNano, err = r.uint64Value("timeUnixNano")
		case 2:
			e.Name, err = r.text("name")
		case 3:
			err = r.keyValues(&e.Attributes)
		case 4:
			e.DroppedAttributesCount, err = r.uint32Value("droppedAttributesCount")
		default:
			err = unhandled("Span.Event", num)
		}
		return err
	})
}

func (r *jsonReader) spanLink(l *tracepb.Span_Link) error {
	return r.message(fieldsSpanLink, func(num int) (err error) {
		switch num {
		case 1:
			l.TraceId, err = r.bytesValue("traceId")
		case 2:
			l.SpanId, err = r.bytesValue("spanId")
		case 3:
			l.TraceState, err = r.text("traceState")
		case 4:
			err = r.keyValues(&l.Attributes)
		case 5:
			l.DroppedAttributesCount, err = r.uint32Value("droppedAttributesCount")
		case 6:
			l.Flags, err = r.uint32Value("flags")
		default:
			err = unhandled("Span.Link", num)
		}
		return err
	})
}
