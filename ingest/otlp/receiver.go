// Package otlp receives OpenTelemetry telemetry over OTLP/HTTP (protobuf or
// JSON, optionally gzipped) from tools whose calls allot cannot proxy, and
// records the usage in it as allot.Event values: Claude Code
// (claude_code.token.usage, claude_code.cost.usage, claude_code.api_request
// events), OpenAI Codex CLI (codex.turn.token_usage, codex.sse_event),
// Gemini CLI (gemini_cli.token.usage, gemini_cli.api_response) and any
// application following the OpenTelemetry GenAI conventions
// (gen_ai.client.token.usage, gen_ai.usage.* on spans and log events).
//
// Per-request events are preferred over aggregated metrics: once a session
// has sent per-request usage events, its token metrics are ignored, so the
// same usage is never counted from both. Metric events wait MetricsHold
// before they count, so per-request events that arrive a little later still
// win.
package otlp

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/ingest"
)

// DefaultMaxBodyBytes limits a request body (compressed or not) when
// Receiver.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 16 << 20

// DefaultMetricsHold is how long metric-derived events wait for the same
// session's per-request events when Receiver.MetricsHold is 0. Claude Code
// exports its log events every 5 s and its metrics every 60 s.
const DefaultMetricsHold = 15 * time.Second

// Receiver is the OTLP/HTTP endpoint: POST /v1/metrics, /v1/logs and
// /v1/traces. Mount it on those paths; the key is the caller's allot key,
// sent as OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer ak-…".
type Receiver struct {
	// Authenticate resolves the caller's allot key (Bearer or x-api-key).
	Authenticate func(*http.Request) (allot.Principal, error)
	// Recorder receives the events; it must be idempotent on Event.ID
	// (the ledger is), since exporters retry and payloads are replayed.
	Recorder allot.Recorder
	// Pricer prices the usage; the tool's own cost is kept only for
	// models it has no price for.
	Pricer allot.Pricer
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
	// MaxBodyBytes limits a request body, and the body once gunzipped
	// (DefaultMaxBodyBytes when 0).
	MaxBodyBytes int64
	// UserByEmail, when set, lets an admin's key report for the whole
	// organization (one key in managed settings): a record carrying
	// user.email of a known user is attributed to that user. Other keys'
	// records always belong to the key's owner.
	UserByEmail func(ctx context.Context, email string) (allot.User, bool, error)
	// MetricsHold is how long metric-derived events wait before they are
	// recorded, in case the same session's per-request events arrive
	// (DefaultMetricsHold when 0; negative records them at once).
	MetricsHold time.Duration

	once sync.Once
	st   *state
}

// state is the receiver's memory between requests.
type state struct {
	stats  statsCounter
	series seriesTable // last values of cumulative series
	pref   preference  // sessions that send per-request events; held metric events
}

func (r *Receiver) state() *state {
	r.once.Do(func() { r.st = &state{series: newSeriesTable(r.now()), pref: newPreference()} })
	return r.st
}

func (r *Receiver) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Receiver) hold() time.Duration {
	switch {
	case r.MetricsHold == 0:
		return DefaultMetricsHold
	case r.MetricsHold < 0:
		return 0
	}
	return r.MetricsHold
}

// signal is one of the OTLP signals.
type signal int

const (
	sigMetrics signal = iota
	sigLogs
	sigTraces
)

func signalOf(path string) (signal, bool) {
	switch {
	case strings.HasSuffix(path, "/v1/metrics"):
		return sigMetrics, true
	case strings.HasSuffix(path, "/v1/logs"):
		return sigLogs, true
	case strings.HasSuffix(path, "/v1/traces"):
		return sigTraces, true
	}
	return 0, false
}

// ServeHTTP handles one OTLP/HTTP export request.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	st := r.state()
	enc := encodingOf(req.Header.Get("Content-Type"))
	sig, ok := signalOf(req.URL.Path)
	if !ok {
		writeStatus(w, enc, http.StatusNotFound, codeNotFound, "no OTLP endpoint at "+req.URL.Path+"; use /v1/metrics, /v1/logs or /v1/traces")
		return
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeStatus(w, enc, http.StatusMethodNotAllowed, codeInvalidArgument, "OTLP export requests are POST")
		return
	}
	if enc == encUnknown {
		writeStatus(w, encJSON, http.StatusUnsupportedMediaType, codeInvalidArgument,
			fmt.Sprintf("unsupported Content-Type %q; send application/x-protobuf or application/json (OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf or http/json)", req.Header.Get("Content-Type")))
		return
	}
	who, err := r.Authenticate(req)
	if err != nil {
		r.authError(w, enc, err)
		return
	}
	body, err := r.readBody(w, req)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) || errors.Is(err, errTooLarge) {
			writeStatus(w, enc, http.StatusRequestEntityTooLarge, codeInvalidArgument,
				fmt.Sprintf("request body over %d bytes; lower the exporter's batch size", r.maxBody()))
			return
		}
		writeStatus(w, enc, http.StatusBadRequest, codeInvalidArgument, err.Error())
		return
	}
	if s, ok := sniff(body, enc); ok {
		sig = s // the payload knows better than a shared URL
	}
	b := &batch{r: r, st: st, ctx: req.Context(), who: who, now: r.now()}
	switch sig {
	case sigMetrics:
		var md metricspb.MetricsData
		if err := decode(body, enc, &md); err != nil {
			r.malformed(w, enc, "metrics", err)
			return
		}
		b.metrics(&md)
	case sigLogs:
		var ld logspb.LogsData
		if err := decode(body, enc, &ld); err != nil {
			r.malformed(w, enc, "logs", err)
			return
		}
		b.logs(&ld)
	case sigTraces:
		var td tracepb.TracesData
		if err := decode(body, enc, &td); err != nil {
			r.malformed(w, enc, "traces", err)
			return
		}
		b.traces(&td)
	}
	b.finish()
	st.stats.requests.Add(1)
	writeSuccess(w, enc, sig, b.rejected, b.reason)
}

func (r *Receiver) authError(w http.ResponseWriter, enc encoding, err error) {
	e := allot.ErrorOf(err)
	switch e.Code {
	case allot.EUnauthorized:
		writeStatus(w, enc, http.StatusUnauthorized, codeUnauthenticated,
			e.Message+`; set OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer ak-…" to your allot key`)
	case allot.EForbidden:
		writeStatus(w, enc, http.StatusForbidden, codePermissionDenied, e.Message)
	default:
		if r.Logger != nil {
			r.Logger.Error("otlp: authenticate", "err", err)
		}
		w.Header().Set("Retry-After", "5")
		writeStatus(w, enc, http.StatusServiceUnavailable, codeUnavailable, "allot cannot check keys right now; the exporter should retry")
	}
}

func (r *Receiver) malformed(w http.ResponseWriter, enc encoding, what string, err error) {
	r.state().stats.malformedRequests.Add(1)
	writeStatus(w, enc, http.StatusBadRequest, codeInvalidArgument, fmt.Sprintf("malformed OTLP %s payload: %v", what, err))
}

func (r *Receiver) maxBody() int64 {
	if r.MaxBodyBytes > 0 {
		return r.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

var errTooLarge = errors.New("request body too large")

// readBody reads the body, gunzipping it when Content-Encoding says so,
// within the size limit before and after decompression.
func (r *Receiver) readBody(w http.ResponseWriter, req *http.Request) ([]byte, error) {
	limit := r.maxBody()
	var src io.Reader = http.MaxBytesReader(w, req.Body, limit)
	switch ce := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding"))); ce {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return nil, err
			}
			return nil, fmt.Errorf("body is not valid gzip: %v", err)
		}
		defer zr.Close()
		src = zr
	default:
		return nil, fmt.Errorf("unsupported Content-Encoding %q; use gzip or none", ce)
	}
	size := req.ContentLength
	if size <= 0 || size > limit {
		size = 64 << 10
	}
	buf := make([]byte, 0, size+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := src.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return nil, err
			}
			if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("body is not valid gzip: %v", err)
			}
			return nil, fmt.Errorf("read request body: %v", err)
		}
	}
}

// Flush records every held metric event now (those whose session sent
// per-request events meanwhile are dropped, as they would have been).
func (r *Receiver) Flush() { r.state().pref.releaseAll(r) }

// Close records every held metric event and makes later ones count at
// once. Call it at shutdown before closing the Recorder.
func (r *Receiver) Close() {
	st := r.state()
	st.pref.close()
	st.pref.releaseAll(r)
}

// record prices and records one event.
func (r *Receiver) record(e allot.Event) {
	ingest.Price(r.Pricer, &e)
	r.Recorder.Record(e)
	r.state().stats.events.Add(1)
}
