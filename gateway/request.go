package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/allot-dev/allot"
)

var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPrealloc bounds the buffer allocated for a request body before its
// bytes arrive.
const maxPrealloc = 64 << 10

// readBody reads the whole request body up to limit; a larger body is
// ETooLarge, so nothing is forwarded half-read.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, allot.Errorf(allot.ETooLarge, "request body of %d bytes is over this gateway's limit of %d bytes; send a smaller request or ask an admin to raise max_body_bytes", r.ContentLength, limit)
	}
	// Size the buffer for the declared length, up to maxPrealloc: memory
	// grows with the bytes that arrive, not with what a client declares
	// (a declared 32 MiB and one byte sent must not cost 32 MiB).
	size := 4096
	if r.ContentLength > 0 {
		size = int(min(r.ContentLength, maxPrealloc)) + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, allot.Errorf(allot.ETooLarge, "request body is over this gateway's limit of %d bytes; send a smaller request or ask an admin to raise max_body_bytes", limit)
	case err != nil:
		return nil, &allot.Error{Code: allot.EInvalid, Message: "could not read the request body; resend the request", Err: err}
	}
	return buf.Bytes(), nil
}

// hopHeaders are connection-level headers that a proxy must not forward (RFC 9110 §7.6.1).
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// copyRequestHeaders copies the client's headers for the provider, minus
// hop-by-hop headers, allot's own headers and the client's allot key.
func copyRequestHeaders(dst, src http.Header) {
	for k, vv := range src {
		switch k {
		case "Authorization", "X-Api-Key", "Host", "Content-Length", "Accept-Encoding", "Cookie":
			continue
		}
		if strings.HasPrefix(k, "X-Allot-") {
			continue
		}
		dst[k] = vv
	}
	for _, h := range hopHeaders {
		dst.Del(h)
	}
}

// copyHeaders copies the provider's response headers for the client.
func copyHeaders(dst, src http.Header) {
	for k, vv := range src {
		if k == "Set-Cookie" {
			continue
		}
		dst[k] = vv
	}
	for _, h := range hopHeaders {
		dst.Del(h)
	}
}

// presentedKey returns the allot key from Authorization: Bearer or x-api-key.
func presentedKey(h http.Header) string {
	if a := h.Get("Authorization"); a != "" {
		if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			return strings.TrimSpace(a[7:])
		}
	}
	return strings.TrimSpace(h.Get("X-Api-Key"))
}

// taskOf picks the call's task: the X-Allot-Task header, else metadata.task
// in the body, else untagged.
func taskOf(h http.Header, fromBody string) string {
	if t := strings.TrimSpace(h.Get("X-Allot-Task")); t != "" {
		return t
	}
	if fromBody != "" {
		return fromBody
	}
	return allot.UntaggedTask
}

// modelRoute sends the models matching pattern to up (config models:).
type modelRoute struct {
	pattern allot.ModelPattern
	key     string // as configured, for messages
	up      *Upstream
}

// compileRoutes compiles the models: table, most specific pattern first.
func compileRoutes(models map[string]string, byName map[string]*Upstream) ([]modelRoute, error) {
	routes := make([]modelRoute, 0, len(models))
	for key, name := range models {
		p, err := allot.ParseModelPrefix(key)
		if err != nil {
			return nil, fmt.Errorf("models: %s", allot.ErrorOf(err).Message)
		}
		for _, r := range routes {
			if r.pattern == p {
				return nil, fmt.Errorf("models: %q and %q are the same pattern (a plain name is a prefix there); keep one", r.key, key)
			}
		}
		up := byName[name]
		if up == nil {
			return nil, fmt.Errorf("models: %q routes to upstream %q, which is not configured", key, name)
		}
		routes = append(routes, modelRoute{p, key, up})
	}
	slices.SortFunc(routes, func(a, b modelRoute) int { return allot.CompareModelPatterns(a.pattern, b.pattern) })
	return routes, nil
}

// upstreamFor picks the provider for model on route: the most specific
// matching models: pattern, else the first provider speaking the route's
// format.
func (g *Gateway) upstreamFor(route allot.Route, model string) (*Upstream, error) {
	want := g.protocolFor(route)
	for _, r := range g.routes {
		if !r.pattern.Match(model) {
			continue
		}
		if r.up.Protocol.Name() != want {
			return nil, allot.Errorf(allot.EUnknownModel, "model %q is served by provider %q, which speaks the %s API; call it on that API's route instead", model, r.up.Name, r.up.Protocol.Name())
		}
		return r.up, nil
	}
	if up := g.byType[want]; up != nil {
		return up, nil
	}
	return nil, allot.Errorf(allot.EUnknownModel, "no provider speaking the %s API is configured for model %q; an admin must add one under providers:", want, model)
}

func itoa(n int) string { return strconv.Itoa(n) }

// byteEstimator is the fallback estimate: one token per four bytes.
type byteEstimator struct{}

func (byteEstimator) CountTokens(s string) int64 { return int64((len(s) + 3) / 4) }

var _ io.Reader = (*bytes.Reader)(nil)
