package budget

import (
	"context"
	"log/slog"

	"github.com/allot-dev/allot"
)

// Reported records usage that did not pass through the gateway's
// admission (OTLP, POST /api/v1/usage) and also counts it against the
// budgets it belongs to, so telemetry-reported spend uses up budgets too.
// Counting happens on a goroutine in batches; when it falls far behind,
// events are only recorded (the next start rebuilds budgets from the
// ledger, which has them all).
type Reported struct {
	next   allot.Recorder
	ration *Live
	queue  chan allot.Event
	logger *slog.Logger
}

// NewReported records to next and starts counting against ration's
// budgets until ctx ends.
func NewReported(ctx context.Context, next allot.Recorder, ration *Live, logger *slog.Logger) *Reported {
	b := &Reported{next: next, ration: ration, queue: make(chan allot.Event, 8192), logger: logger}
	go b.run(ctx)
	return b
}

// Record implements allot.Recorder.
func (b *Reported) Record(e allot.Event) {
	b.next.Record(e)
	select {
	case b.queue <- e:
	default:
		b.logger.Warn("budget counting is behind; this event counts against budgets from the next start", "id", e.ID)
	}
}

func (b *Reported) run(ctx context.Context) {
	batch := make([]allot.Event, 0, 256)
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-b.queue:
			batch = append(batch[:0], e)
		drain:
			for len(batch) < cap(batch) {
				select {
				case e := <-b.queue:
					batch = append(batch, e)
				default:
					break drain
				}
			}
			if err := b.ration.Current().Replay(ctx, batch); err != nil {
				b.logger.Error("count reported usage against budgets", "events", len(batch), "err", err)
			}
		}
	}
}
