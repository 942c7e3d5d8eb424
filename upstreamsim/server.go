package upstreamsim

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configure a Server. The zero value is a fast, deterministic
// simulator that accepts any key.
type Options struct {
	// ChunkDelay is the wait before each streamed content chunk (0: none).
	// The x-sim-chunk-delay header overrides it per request.
	ChunkDelay time.Duration
	// Seed varies the generated usage and text; the same seed and request
	// always give the same answer.
	Seed int64
	// RequireKey, if set, is the only provider key accepted: as a Bearer
	// token on OpenAI routes; as x-api-key or a Bearer token on Anthropic
	// routes (anthropic-sdk-go v2 sends API keys as Bearer tokens). Any
	// other request gets a 401 in the provider's error shape.
	RequireKey string
}

// maxBody is the largest request body the simulator reads.
const maxBody = 32 << 20

// Server is the simulated provider, an http.Handler. It is safe for
// concurrent use.
type Server struct {
	opts  Options
	cache *cacheMemory

	mu    sync.Mutex
	calls []Call
	ids   uint64
}

// New returns a simulator configured by opts.
func New(opts Options) *Server {
	return &Server{opts: opts, cache: newCacheMemory()}
}

// Calls returns a copy of every call received so far, in arrival order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		out[i] = c.clone()
	}
	return out
}

// Last returns the most recent call, or the zero Call if none arrived.
func (s *Server) Last() Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.calls) == 0 {
		return Call{}
	}
	return s.calls[len(s.calls)-1].clone()
}

// WaitIdle waits until every call received so far has been fully handled
// (e.g. a cancelled stream has noticed its client left), or ctx ends.
func (s *Server) WaitIdle(ctx context.Context) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		if s.idle() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for simulator calls to finish: %w", ctx.Err())
		case <-t.C:
		}
	}
}

func (s *Server) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		if !c.Done {
			return false
		}
	}
	return true
}

// begin records a new call and returns the handle its handler updates.
func (s *Server) begin(r *http.Request, body []byte) record {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{
		Method: r.Method,
		Path:   r.URL.Path,
		Query:  cloneValues(r.URL.Query()),
		Header: r.Header.Clone(),
		Body:   body,
		Start:  time.Now(),
	})
	return record{s: s, i: len(s.calls) - 1}
}

// nextID returns a fresh identifier such as "chatcmpl-…", unique per server.
func (s *Server) nextID(prefix string) string {
	s.mu.Lock()
	s.ids++
	n := s.ids
	s.mu.Unlock()
	return fmt.Sprintf("%s%016x%08x", prefix, hashOf(s.opts.Seed, prefix, fmt.Sprint(n)), n)
}

// protocol is the wire format a request speaks.
type protocol int

const (
	protoOpenAI protocol = iota
	protoAnthropic
)

// endpoint is a route with the protocol that answers it.
type endpoint struct {
	route    route
	protocol protocol
}

var endpoints = map[string]endpoint{
	"/v1/chat/completions":      {routeChat, protoOpenAI},
	"/v1/responses":             {routeResponses, protoOpenAI},
	"/v1/embeddings":            {routeEmbeddings, protoOpenAI},
	"/v1/messages":              {routeMessages, protoAnthropic},
	"/v1/messages/count_tokens": {routeCountTokens, protoAnthropic},
}

// protocolOf guesses the protocol of a request to a path without a route:
// Anthropic clients always send anthropic-version.
func protocolOf(r *http.Request) protocol {
	if r.Header.Get("anthropic-version") != "" || strings.Contains(r.URL.Path, "/messages") {
		return protoAnthropic
	}
	return protoOpenAI
}

// ServeHTTP answers one request as the simulated provider.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		body = nil
	}
	rec := s.begin(r, body)
	defer rec.update(func(c *Call) { c.Done, c.End = true, time.Now() })
	x := &exchange{s: s, w: w, r: r, rec: rec, body: body, start: time.Now()}

	path := r.URL.Path
	if path == "/v1/models" || strings.HasPrefix(path, "/v1/models/") {
		x.proto = protocolOf(r)
		if r.Method != http.MethodGet {
			x.fail(http.StatusMethodNotAllowed, fmt.Sprintf("%s %s is not supported; use GET", r.Method, path))
			return
		}
		if !x.authorized() {
			return
		}
		s.serveModels(x, strings.TrimPrefix(path, "/v1/models"))
		return
	}
	ep, ok := endpoints[path]
	if !ok {
		x.proto = protocolOf(r)
		x.fail(http.StatusNotFound, fmt.Sprintf("Invalid URL (%s %s)", r.Method, path))
		return
	}
	x.proto = ep.protocol
	if r.Method != http.MethodPost {
		x.fail(http.StatusMethodNotAllowed, fmt.Sprintf("%s %s is not supported; use POST", r.Method, path))
		return
	}
	if err != nil {
		x.fail(http.StatusBadRequest, fmt.Sprintf("could not read the request body: %v", err))
		return
	}
	s.serveAPI(x, ep.route)
}

// serveAPI answers a POST to one of the APIs: the x-sim-* headers and the
// provider key first, then the body.
func (s *Server) serveAPI(x *exchange, rt route) {
	ctl, err := parseControl(x.r.Header)
	if err != nil {
		x.fail(http.StatusBadRequest, err.Error())
		return
	}
	x.ctl = ctl
	if !x.authorized() {
		return
	}
	req, parseErr := parseRequest(rt, x.body)
	if parseErr == nil {
		x.rec.update(func(c *Call) { c.Model, c.Stream = req.model, req.stream })
	}
	if ctl.hang {
		<-x.r.Context().Done()
		x.rec.cancelled()
		return
	}
	if ctl.status != 0 {
		if ctl.retryAfter > 0 {
			x.w.Header().Set("retry-after", fmt.Sprint(ctl.retryAfter))
		}
		x.fail(ctl.status, fmt.Sprintf("simulated %d %s (x-sim-status)", ctl.status, http.StatusText(ctl.status)))
		return
	}
	if parseErr != nil {
		x.fail(http.StatusBadRequest, strings.TrimPrefix(parseErr.Error(), errBadRequest.Error()+": "))
		return
	}
	if ctl.strictModels && !knownModel(req.model) {
		x.fail(http.StatusNotFound, fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", req.model))
		return
	}
	x.req = req
	switch rt {
	case routeChat:
		s.serveChat(x)
	case routeResponses:
		s.serveResponses(x)
	case routeEmbeddings:
		s.serveEmbeddings(x)
	case routeMessages:
		s.serveMessages(x)
	case routeCountTokens:
		s.serveCountTokens(x)
	}
}

// exchange is one request being answered.
type exchange struct {
	s     *Server
	w     http.ResponseWriter
	r     *http.Request
	rec   record
	body  []byte
	start time.Time
	proto protocol
	ctl   control
	req   request
}

// authorized checks the provider key when Options.RequireKey is set and
// answers 401 if it is wrong.
func (x *exchange) authorized() bool {
	want := x.s.opts.RequireKey
	if want == "" {
		return true
	}
	var got string
	if a := x.r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		got = a[7:]
	}
	if k := x.r.Header.Get("x-api-key"); k != "" && x.proto == protoAnthropic {
		got = k
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1 {
		return true
	}
	switch {
	case x.proto == protoAnthropic:
		x.fail(http.StatusUnauthorized, "invalid x-api-key")
	case got == "":
		x.fail(http.StatusUnauthorized, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
	default:
		x.fail(http.StatusUnauthorized, fmt.Sprintf("Incorrect API key provided: %s. You can find your API key at https://platform.openai.com/account/api-keys.", maskKey(got)))
	}
	return false
}

// maskKey shows a key the way OpenAI does in errors: its ends only.
func maskKey(k string) string {
	if len(k) <= 8 {
		return "***"
	}
	return k[:3] + "*****" + k[len(k)-4:]
}

// wait sleeps d unless the client goes away first; it reports whether the
// client is still there.
func (x *exchange) wait(d time.Duration) bool {
	ctx := x.r.Context()
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// chunkDelay is the delay before each content chunk for this request.
func (x *exchange) chunkDelay() time.Duration {
	if x.ctl.chunkDelay >= 0 {
		return x.ctl.chunkDelay
	}
	return x.s.opts.ChunkDelay
}

// errGone reports that the client went away mid-answer.
var errGone = errors.New("client went away")
