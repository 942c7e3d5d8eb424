package ledger_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/internal/tcpproxy"
	"github.com/allot-dev/allot/ledger"
	"github.com/allot-dev/allot/postgres"
)

// TestSpoolWithPostgresCutUnderLoad puts a TCP proxy between the writer
// and PostgreSQL, cuts it while events stream in, restores it, and checks
// that every event is stored exactly once.
func TestSpoolWithPostgresCutUnderLoad(t *testing.T) {
	t.Parallel()
	dsn := os.Getenv("ALLOT_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("ALLOT_TEST_POSTGRES_DSN is not set (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable); skipping")
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Fatalf("ALLOT_TEST_POSTGRES_DSN %q is not a postgres:// URL with a host: %v", dsn, err)
	}
	ctx := context.Background()
	var b [6]byte
	rand.Read(b[:])
	schema := "ledger_spool_" + hex.EncodeToString(b[:])
	direct, err := postgres.Open(ctx, dsn, postgres.Options{Schema: schema, Migrate: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("ALLOT_TEST_POSTGRES_DSN is set but PostgreSQL is unusable: %v", err)
	}
	t.Cleanup(func() {
		if _, err := direct.Pool().Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
		}
		direct.Close()
	})

	p := tcpproxy.New(t, u.Host)
	viaProxy := *u
	viaProxy.Host = p.Addr
	store, err := postgres.Open(ctx, viaProxy.String(), postgres.Options{Schema: schema, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	w, err := ledger.OpenWriter(store, ledger.Options{
		BatchSize: 100, FlushInterval: 10 * time.Millisecond, SpoolDir: t.TempDir(),
		AppendTimeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}

	const n = 6000
	var maxSpooled atomic.Int64
	stop := make(chan struct{})
	go func() { // watch the spool fill up during the cut
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if s := w.Spooled(); s > maxSpooled.Load() {
				maxSpooled.Store(s)
			}
		}
	}()
	start := time.Now().UTC().Truncate(time.Microsecond)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < n; i += 4 {
				w.Record(allot.Event{
					ID: fmt.Sprintf("%032x", i), Time: start.Add(time.Duration(i) * time.Millisecond),
					Principal: allot.Principal{Org: "acme", Team: "platform", User: fmt.Sprintf("u%d", g), KeyID: "k", KeyLabel: "laptop"},
					Provider:  "openai", RequestedModel: "gpt-4o", ServedModel: "gpt-4o", Route: allot.RouteChat,
					Task: allot.UntaggedTask, App: "openai-python", Source: allot.SourceGateway, Status: 200,
					Tokens: allot.Tokens{Input: 1000, Output: 100}, Cost: allot.MustUSD("0.0035"), CostKnown: true,
				})
				if i%200 == g {
					time.Sleep(20 * time.Millisecond) // spread the load over the cut
				}
			}
		})
	}
	time.Sleep(150 * time.Millisecond)
	p.Cut()
	time.Sleep(600 * time.Millisecond)
	p.Restore()
	wg.Wait()
	fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := w.Flush(fctx); err != nil {
		t.Fatalf("Flush after PostgreSQL is back: %v (still %d unstored, %d spooled)", err, w.Depth(), w.Spooled())
	}
	close(stop)
	if err := w.Close(fctx); err != nil {
		t.Fatal(err)
	}
	if maxSpooled.Load() == 0 {
		t.Error("no event went through the spool; the cut did not hit the writer")
	}
	var total, distinct int64
	if err := direct.Pool().QueryRow(ctx, "SELECT count(*), count(DISTINCT id) FROM events").Scan(&total, &distinct); err != nil {
		t.Fatal(err)
	}
	if total != n || distinct != n {
		t.Fatalf("PostgreSQL holds %d events (%d distinct), want each of the %d exactly once", total, distinct, n)
	}
}
