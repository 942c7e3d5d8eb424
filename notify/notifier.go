// Package notify delivers allot's notices (budget thresholds crossed,
// downgrades, refusals) to webhooks: generic JSON or Slack incoming
// webhooks, off the caller's path, with retries and backoff. Sink puts a
// notice store in front, so each notice is stored once and delivered at
// most once per ID even when several replicas raise it.
package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allot-dev/allot"
)

// Options tune delivery; zero fields take the defaults.
type Options struct {
	QueueSize   int           // notices waiting per webhook before the oldest is dropped; default 256
	MaxAttempts int           // attempts per notice and webhook before giving up; default 6
	BaseDelay   time.Duration // wait after the first failed attempt, doubled per attempt; default 1s
	MaxDelay    time.Duration // longest wait between attempts, also for Retry-After; default 5m
	Timeout     time.Duration // limit of one attempt; default 10s
	Client      *http.Client  // default: a client of its own
	Logger      *slog.Logger  // default: slog.Default()
}

func (o *Options) defaults() {
	if o.QueueSize <= 0 {
		o.QueueSize = 256
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 6
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = time.Second
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 5 * time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Stats counts what a Notifier did, one count per notice and webhook.
type Stats struct {
	Queued    int    // waiting now
	Delivered uint64 // answered 2xx
	Failed    uint64 // given up: attempts exhausted, a 4xx answer, or shutdown
	Dropped   uint64 // pushed out of a full queue, or sent after Close
}

// Notifier delivers notices to webhooks. Notify never blocks: each webhook
// has its own bounded queue and worker, so a slow or hanging endpoint
// delays only its own notices. It is safe for concurrent use.
type Notifier struct {
	opts    Options
	log     *slog.Logger
	targets []*target
	ctx     context.Context // canceled when Close gives up waiting
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	delivered, failed, dropped atomic.Uint64
}

// target is one webhook with its queue.
type target struct {
	hook Hook
	name string // the redacted URL, for logs
	q    *queue
}

// New starts delivery to hooks. Hooks that fail Validate are logged and
// left out (check them when loading the config). Stop it with Close.
func New(hooks []Hook, opts Options) *Notifier {
	opts.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	n := &Notifier{opts: opts, log: opts.Logger, ctx: ctx, cancel: cancel}
	for _, h := range hooks {
		if err := h.Validate(); err != nil {
			n.log.Error("webhook left out", "err", err)
			continue
		}
		t := &target{hook: h, name: redact(h.URL), q: newQueue(opts.QueueSize)}
		n.targets = append(n.targets, t)
		n.wg.Go(func() {
			if left := t.q.drain(ctx, func(no allot.Notice) { n.deliver(t, no) }); left > 0 {
				n.failed.Add(uint64(left))
				n.log.Error("webhook notices not delivered at shutdown", "webhook", t.name, "notices", left)
			}
		})
	}
	return n
}

// Notify queues n for every webhook that takes its kind and returns at
// once. When a webhook's queue is full its oldest notice is dropped
// (counted in Stats and logged).
func (n *Notifier) Notify(no allot.Notice) {
	if n == nil {
		return
	}
	for _, t := range n.targets {
		if !t.hook.accepts(no.Kind) {
			continue
		}
		dropped, ok := t.q.push(no)
		switch {
		case !ok:
			n.dropped.Add(1)
			n.log.Warn("webhook notice dropped: the notifier is closed", "webhook", t.name, "notice", no.ID)
		case dropped != nil:
			n.dropped.Add(1)
			n.log.Warn("webhook queue full: dropped its oldest notice", "webhook", t.name, "dropped", dropped.ID,
				"queue_size", n.opts.QueueSize, "dropped_total", n.dropped.Load())
		}
	}
}

// Stats returns the counts so far.
func (n *Notifier) Stats() Stats {
	s := Stats{Delivered: n.delivered.Load(), Failed: n.failed.Load(), Dropped: n.dropped.Load()}
	for _, t := range n.targets {
		s.Queued += t.q.len()
	}
	return s
}

// Close stops accepting notices and waits until the queued ones are
// delivered or given up. When ctx ends first it abandons the rest
// (attempts in flight are canceled) and returns ctx's error.
func (n *Notifier) Close(ctx context.Context) error {
	if n == nil {
		return nil
	}
	for _, t := range n.targets {
		t.q.close()
	}
	done := make(chan struct{})
	go func() {
		n.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		n.cancel()
		return nil
	case <-ctx.Done():
		n.cancel()
		<-done
		return fmt.Errorf("close notifier: %w", ctx.Err())
	}
}

// deliver posts one notice to one webhook, retrying as Options say.
func (n *Notifier) deliver(t *target, no allot.Notice) {
	body, err := t.hook.body(no)
	if err != nil {
		n.failed.Add(1)
		n.log.Error("webhook notice not encodable", "webhook", t.name, "notice", no.ID, "err", err)
		return
	}
	for attempt := 1; ; attempt++ {
		status, wait, err := n.post(t, body)
		if err == nil && status/100 == 2 {
			n.delivered.Add(1)
			n.log.Debug("webhook notice delivered", "webhook", t.name, "notice", no.ID, "attempts", attempt)
			return
		}
		if err == nil {
			err = fmt.Errorf("answered %d", status)
		}
		if n.ctx.Err() != nil {
			n.failed.Add(1)
			n.log.Error("webhook notice not delivered: shutting down", "webhook", t.name, "notice", no.ID, "attempts", attempt, "err", err)
			return
		}
		if status != 0 && !retryable(status) {
			n.failed.Add(1)
			n.log.Error("webhook refused the notice; not retrying (check the webhook URL and format)", "webhook", t.name,
				"notice", no.ID, "status", status, "err", err)
			return
		}
		if attempt >= n.opts.MaxAttempts {
			n.failed.Add(1)
			n.log.Error("webhook notice not delivered: giving up", "webhook", t.name, "notice", no.ID, "attempts", attempt, "err", err)
			return
		}
		if wait <= 0 {
			wait = backoff(attempt, n.opts.BaseDelay, n.opts.MaxDelay)
		}
		wait = min(wait, n.opts.MaxDelay)
		n.log.Warn("webhook delivery failed; retrying", "webhook", t.name, "notice", no.ID, "attempt", attempt, "retry_in", wait, "err", err)
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-n.ctx.Done():
			timer.Stop()
		}
	}
}

// post makes one attempt. It returns the status (0 when no answer came),
// the wait a 429 or 503 asked for with Retry-After, and a transport error.
func (n *Notifier) post(t *target, body []byte) (status int, retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(n.ctx, n.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.hook.URL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "allot-notify/1")
	resp, err := n.opts.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // it quotes the URL, whose path may be a secret
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s", n.opts.Timeout)
		}
		return 0, 0, err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	if resp.StatusCode/100 != 2 && len(snippet) > 0 {
		err = fmt.Errorf("answered %d: %q", resp.StatusCode, snippet)
	}
	return resp.StatusCode, retryAfter, err
}
