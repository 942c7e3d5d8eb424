package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// genWorkday makes n events like a gateway sees them, spread over span
// from start: each of w.users people works in sessions of an app that
// sends one of a few system prompts (so prompt fingerprints repeat), most
// calls set max_tokens, a few fail, and a session's input grows turn by
// turn. genEvents, by contrast, gives every call its own system prompt.
func genWorkday(seed uint64, n int, start time.Time, span time.Duration, w world) []allot.Event {
	rng := rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d))
	out := make([]allot.Event, n)
	for i := range out {
		u := rng.IntN(w.users)
		at := start.Add(time.Duration(rng.Int64N(int64(span)))).Truncate(time.Microsecond)
		day := at.Unix() / 86400
		sess := rng.IntN(3) // a session keeps its app, model and task
		pick := func(of, favourites int) int { return (u*7 + (sess+int(day))%favourites) % of }
		model := pick(w.models, 2)
		app := pick(w.apps, 1)
		turn := int64(at.Sub(start.Truncate(time.Hour)) / time.Minute % 60)
		input := 2000 + turn*800 + rng.Int64N(500)
		tokens := allot.Tokens{Input: input, Output: 50 + rng.Int64N(1500)}
		if app%2 == 0 {
			tokens.CacheRead = input / 2
		}
		maxTokens := int64(4096)
		if rng.IntN(4) == 0 {
			maxTokens = 0
		}
		status := 200
		if rng.IntN(50) == 0 {
			status = 500 + rng.IntN(30)
		}
		out[i] = allot.Event{
			ID:   fmt.Sprintf("%016x%016x", seed, uint64(i)),
			Time: at,
			Principal: allot.Principal{
				Org: "acme", Team: fmt.Sprintf("team%02d", u%w.teams), User: fmt.Sprintf("user%04d", u),
				KeyID: fmt.Sprintf("k%07d", u), KeyLabel: "laptop", Role: allot.RoleMember,
			},
			Provider:       fmt.Sprintf("provider%d", model%w.providers),
			RequestedModel: fmt.Sprintf("model-%d", model),
			ServedModel:    fmt.Sprintf("model-%d", model),
			Route:          allot.RouteChat,
			Task:           fmt.Sprintf("task%02d", pick(w.tasks, 3)),
			Session:        fmt.Sprintf("s%d-%d-%d", u, day, sess),
			App:            fmt.Sprintf("app%d", app),
			Source:         allot.SourceGateway,
			Status:         status,
			Latency:        time.Second,
			RequestBytes:   input * 4,
			MaxTokens:      maxTokens,
			Messages:       1 + int(turn),
			SystemFP:       uint64(app+1)<<32 | uint64(day%2),
			RequestFP:      rng.Uint64(),
			Tokens:         tokens,
			Cost:           allot.Money(tokens.Input*150 + tokens.Output*600),
			CostKnown:      true,
		}
	}
	return out
}

// cpuTime is the CPU time this process has used, which, unlike the wall
// clock, other processes on a shared machine do not inflate.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchAppendCPU appends batches of 1,000 and of 5,000 events from gen, a
// minute of traffic per 1,000, and reports the rate and the CPU time per
// event.
func benchAppendCPU(b *testing.B, gen func(seed uint64, n int, start time.Time, span time.Duration, w world) []allot.Event) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			db := openTest(b)
			ctx := context.Background()
			b.ReportAllocs()
			var cpu time.Duration
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				evs := gen(uint64(i)+1, n, benchStart.Add(time.Duration(i*n/1000)*time.Minute), time.Duration(n/1000)*time.Minute, benchWorld)
				b.StartTimer()
				c0 := cpuTime()
				if _, err := db.Append(ctx, evs); err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - c0
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*n), "cpu-µs/event")
		})
	}
}

// BenchmarkAppendWorkday appends genWorkday's events, whose system prompts
// repeat as real ones do: the insight aggregates then update rows rather
// than add one per event.
func BenchmarkAppendWorkday(b *testing.B) { benchAppendCPU(b, genWorkday) }

// BenchmarkAppendRandomPrompts is BenchmarkAppend (every call its own
// system prompt: the insight aggregates' worst case) with the CPU time per
// event, which a busy machine does not distort.
func BenchmarkAppendRandomPrompts(b *testing.B) { benchAppendCPU(b, genEvents) }
