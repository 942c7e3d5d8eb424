package upstreamsim

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// control is what a request's x-sim-* headers ask for. A nil count pointer
// means "not set": the simulator computes that count itself.
type control struct {
	output, reasoning, input *int64
	cached, write5m, write1h *int64

	status       int           // 0: answer normally
	retryAfter   int           // seconds; 0: no retry-after header
	chunkDelay   time.Duration // -1: use Options.ChunkDelay
	cutAfter     int           // -1: never cut
	hang         bool
	usageEvery   int // Anthropic intermediate message_delta period; 0: none
	strictModels bool
}

// maxCount bounds the token counts a header may ask for; the output is
// generated text, so it must fit in memory.
const maxCount = 1 << 24

// parseControl reads the x-sim-* headers. A malformed value is an error that
// names the header, so a test author sees at once what to fix.
func parseControl(h http.Header) (control, error) {
	c := control{chunkDelay: -1, cutAfter: -1}
	counts := []struct {
		name string
		dst  **int64
	}{
		{"x-sim-output-tokens", &c.output},
		{"x-sim-reasoning-tokens", &c.reasoning},
		{"x-sim-input-tokens", &c.input},
		{"x-sim-cached-tokens", &c.cached},
		{"x-sim-cache-write-5m", &c.write5m},
		{"x-sim-cache-write-1h", &c.write1h},
	}
	for _, f := range counts {
		v := h.Get(f.name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 || n > maxCount {
			return c, fmt.Errorf("header %s: want an integer from 0 to %d, got %q", f.name, maxCount, v)
		}
		*f.dst = &n
	}
	ints := []struct {
		name string
		dst  *int
		min  int
	}{
		{"x-sim-status", &c.status, 100},
		{"x-sim-retry-after", &c.retryAfter, 0},
		{"x-sim-cut-after", &c.cutAfter, 0},
		{"x-sim-usage-every", &c.usageEvery, 1},
	}
	for _, f := range ints {
		v := h.Get(f.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < f.min || n > 1<<30 || (f.name == "x-sim-status" && n > 599) {
			return c, fmt.Errorf("header %s: want an integer of at least %d, got %q", f.name, f.min, v)
		}
		*f.dst = n
	}
	if v := h.Get("x-sim-chunk-delay"); v != "" {
		d, err := parseDelay(v)
		if err != nil {
			return c, fmt.Errorf("header x-sim-chunk-delay: %w", err)
		}
		c.chunkDelay = d
	}
	var err error
	if c.hang, err = parseFlag(h, "x-sim-hang"); err != nil {
		return c, err
	}
	if c.strictModels, err = parseFlag(h, "x-sim-strict-models"); err != nil {
		return c, err
	}
	return c, nil
}

// maxDelay bounds x-sim-chunk-delay; use x-sim-hang to wait forever.
const maxDelay = time.Hour

// parseDelay reads a Go duration ("10ms") or a bare number of milliseconds.
func parseDelay(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	d, err := time.ParseDuration(v)
	if n, nerr := strconv.ParseInt(v, 10, 64); nerr == nil {
		d, err = time.Duration(n)*time.Millisecond, nil
		if n > maxDelay.Milliseconds() {
			d = -1
		}
	}
	if err != nil || d < 0 || d > maxDelay {
		return 0, fmt.Errorf("want a duration from 0 to 1h such as 10ms, got %q", v)
	}
	return d, nil
}

// parseFlag reads a boolean header: 1/true/yes or 0/false/no; absent is false.
func parseFlag(h http.Header, name string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(h.Get(name))) {
	case "", "0", "false", "no":
		return false, nil
	case "1", "true", "yes":
		return true, nil
	}
	return false, fmt.Errorf("header %s: want 1 or 0, got %q", name, h.Get(name))
}
