package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot/sqlite"
	"github.com/allot-dev/allot/upstreamsim"
)

// TestShutdownDrainsInFlightCalls: on SIGTERM (here: the context ends)
// allot stops accepting, lets a running stream finish, writes its usage
// event and returns without error (exit 0).
func TestShutdownDrainsInFlightCalls(t *testing.T) {
	t.Parallel()
	sim := httptest.NewServer(upstreamsim.New(upstreamsim.Options{}))
	defer sim.Close()
	cfg := testServerConfig(t, sim.URL, filepath.Join(t.TempDir(), "allot.db"), "testdata/org.yaml")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	srv, err := startServer(ctx, cfg, serverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := srv.db.CreateKey(ctx, "bob", "test")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.wait(ctx) }()

	req, _ := http.NewRequest(http.MethodPost, "http://"+srv.addr+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("x-sim-output-tokens", "10")
	req.Header.Set("x-sim-chunk-delay", "40ms")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	stop() // SIGTERM while the stream is still running
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !strings.Contains(string(body), "[DONE]") {
		t.Fatalf("in-flight stream was cut at shutdown: %v\n%s", err, body)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown returned %v, want nil (exit 0)", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown did not finish")
	}
	if _, err := http.Get("http://" + srv.addr + "/healthz"); err == nil {
		t.Error("still accepting connections after shutdown")
	}
	db, err := sqlite.Open(context.Background(), cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	evs, err := db.Events(context.Background(), time.Now().Add(-time.Hour), time.Now().Add(time.Hour), 10)
	if err != nil || len(evs) != 1 || evs[0].User != "bob" || evs[0].Tokens.Output != 10 {
		t.Fatalf("events after shutdown = %+v (err %v), want bob's one call with 10 output tokens", evs, err)
	}
}
