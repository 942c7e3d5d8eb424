package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot-dev/allot/config"
	"github.com/allot-dev/allot/tokenizer"
	"github.com/allot-dev/allot/upstreamsim"
)

// slowClients is one kind of misbehaving client: conns connections from
// loopback addresses (in turn) that each send head, then trickle one byte every
// trickle (if set) and never finish.
type slowClients struct {
	name    string
	from    []string
	conns   int
	head    string
	trickle time.Duration
	// the server must close each connection in this window after it opened
	closedAfter, closedBefore time.Duration

	mu       sync.Mutex
	held     []net.Conn
	refused  int
	maxAlive time.Duration
	minAlive time.Duration
}

// open dials the connections and watches each until the server closes it.
func (s *slowClients) open(t *testing.T, addr string, wg *sync.WaitGroup) {
	s.minAlive = time.Hour
	for i := range s.conns {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(s.from[i%len(s.from)])}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Errorf("%s: dial: %v", s.name, err)
			return
		}
		opened := time.Now()
		if s.head != "" {
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := io.WriteString(c, s.head); err != nil {
				// Closed at accept (over a cap) before the head went out.
				c.Close()
				s.mu.Lock()
				s.refused++
				s.mu.Unlock()
				continue
			}
		}
		s.mu.Lock()
		s.held = append(s.held, c)
		s.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, _ = io.Copy(io.Discard, c) // until the server closes
			alive := time.Since(opened)
			s.mu.Lock()
			s.maxAlive = max(s.maxAlive, alive)
			s.minAlive = min(s.minAlive, alive)
			s.mu.Unlock()
		}()
	}
	if s.trickle > 0 {
		go func() {
			for range 100 {
				time.Sleep(s.trickle)
				s.mu.Lock()
				conns := append([]net.Conn(nil), s.held...)
				s.mu.Unlock()
				for _, c := range conns {
					_ = c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
					_, _ = c.Write([]byte("x"))
				}
			}
		}()
	}
}

// procFDs counts this process's open file descriptors.
func procFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd to count descriptors: %v", err)
	}
	return len(ents)
}

// procRSSMB is this process's resident memory in MiB.
func procRSSMB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb >> 10
		}
	}
	return 0
}

func heapMB() int {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int(m.HeapInuse >> 20)
}

// TestSlowClientsCannotTakeAllotDown: thousands of connections that trickle
// bodies, send half a header, or idle, from nine addresses, while a
// well-behaved client keeps getting /healthz and gateway answers within a
// second, a stream longer than every deadline completes, descriptors and
// memory stay bounded, and every slow connection is cut by its deadline.
//
// Not parallel: it measures the process's descriptors and memory.
func TestSlowClientsCannotTakeAllotDown(t *testing.T) {
	sim := httptest.NewServer(upstreamsim.New(upstreamsim.Options{}))
	defer sim.Close()
	cfg := testServerConfig(t, sim.URL, filepath.Join(t.TempDir(), "allot.db"), "testdata/org.yaml")
	perClient := scaled(400)
	cfg.Limits = config.Limits{
		MaxConnections:          scaled(3200),
		MaxConnectionsPerClient: perClient,
		ReadHeaderTimeout:       config.Duration(4 * time.Second),
		BodyReadTimeout:         config.Duration(4 * time.Second),
		BodyMinBytesPerSecond:   1024,
		IdleTimeout:             config.Duration(4 * time.Second),
		WriteStallTimeout:       config.Duration(4 * time.Second),
		MaxHeaderBytes:          16 << 10,
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	srv, err := startServer(ctx, cfg, serverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.wait(ctx) }()
	defer func() { stop(); <-served }() // shut down before the temporary directory goes
	secret, _, err := srv.db.CreateKey(ctx, "bob", "test")
	if err != nil {
		t.Fatal(err)
	}

	// The well-behaved client: its own connections, from 127.0.0.1.
	good := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	call := func(stream bool) (time.Duration, error) {
		var req *http.Request
		if stream {
			req, _ = http.NewRequest(http.MethodPost, "http://"+srv.addr+"/v1/chat/completions",
				strings.NewReader(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
			req.Header.Set("Authorization", "Bearer "+secret)
			req.Header.Set("x-sim-output-tokens", "60")
			req.Header.Set("x-sim-chunk-delay", "100ms") // ~6s: longer than every deadline
		} else if time.Now().UnixNano()%2 == 0 {
			req, _ = http.NewRequest(http.MethodGet, "http://"+srv.addr+"/healthz", nil)
		} else {
			req, _ = http.NewRequest(http.MethodPost, "http://"+srv.addr+"/v1/chat/completions",
				strings.NewReader(`{"model":"gpt-4o","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}`))
			req.Header.Set("Authorization", "Bearer "+secret)
			req.Header.Set("x-sim-output-tokens", "5")
		}
		start := time.Now()
		resp, err := good.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK || (stream && !strings.Contains(string(b), "[DONE]")) {
			return 0, fmt.Errorf("%s %s: %d %v\n%s", req.Method, req.URL.Path, resp.StatusCode, err, b)
		}
		return time.Since(start), nil
	}
	if _, err := call(false); err != nil {
		t.Fatal(err)
	}

	if err := tokenizer.New().Load(); err != nil { // loaded in the background at start; in the baseline, not the figures
		t.Fatal(err)
	}
	debug.FreeOSMemory()
	debug.FreeOSMemory()
	fdsBefore, rssBefore, heapBefore := procFDs(t), procRSSMB(t), heapMB()

	body := "POST /v1/chat/completions HTTP/1.1\r\nHost: allot\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n"
	groups := []*slowClients{
		// Headers that never end: cut at read_header_timeout.
		{name: "half headers", from: []string{"127.0.0.4"}, conns: scaled(200), head: "GET /healthz HTTP/1.1\r\nHost: allot\r\n",
			closedAfter: 3 * time.Second, closedBefore: 5500 * time.Millisecond},
		// Keep-alive connections left idle after one answer: closed at idle_timeout.
		{name: "idle keep-alives", from: []string{"127.0.0.4"}, conns: scaled(200), head: "GET /healthz HTTP/1.1\r\nHost: allot\r\n\r\n",
			closedAfter: 3 * time.Second, closedBefore: 5500 * time.Millisecond},
		// The attack: a declared body, one byte, no key. Refused
		// before the body: answered and closed at once, the body never read.
		{name: "keyless trickling bodies", from: []string{"127.0.0.2", "127.0.0.6", "127.0.0.10"}, conns: scaled(1000), head: body + "\r\n{", trickle: 250 * time.Millisecond,
			closedBefore: time.Second},
		// With a valid key the body is read: at 4 bytes/s it is cut when the
		// 4s grace is spent.
		{name: "keyed trickling bodies", from: []string{"127.0.0.3", "127.0.0.7", "127.0.0.9"}, conns: scaled(900), head: body + "Authorization: Bearer " + secret + "\r\n\r\n{", trickle: 250 * time.Millisecond,
			closedAfter: 3 * time.Second, closedBefore: 5500 * time.Millisecond},
		// Silent connections: nothing sent, cut at read_header_timeout.
		{name: "silent", from: []string{"127.0.0.5", "127.0.0.8"}, conns: scaled(700), closedAfter: 3 * time.Second, closedBefore: 5500 * time.Millisecond},
	}
	// Over the per-client cap: once 127.0.0.4 holds its 400, these are
	// closed at accept.
	over := &slowClients{name: "over the per-client cap", from: []string{"127.0.0.4"}, conns: 50, head: "GET /healthz HTTP/1.1\r\nHost: allot\r\n"}

	// The good client keeps calling from before the attack until every
	// slow connection is gone, and streams for longer than every deadline.
	streamed := make(chan error, 1)
	go func() { _, err := call(true); streamed <- err }()
	type figures struct {
		worst                          time.Duration
		calls, maxOpen, fds, rss, heap int
		err                            error
	}
	quit, measured := make(chan struct{}), make(chan figures, 1)
	go func() {
		var f figures
		defer func() { measured <- f }()
		for {
			select {
			case <-quit:
				return
			default:
			}
			took, err := call(false)
			if err != nil {
				f.err = err
				return
			}
			f.worst, f.calls = max(f.worst, took), f.calls+1
			f.maxOpen, f.fds, f.rss, f.heap = max(f.maxOpen, srv.conns.Open()), max(f.fds, procFDs(t)), max(f.rss, procRSSMB(t)), max(f.heap, heapMB())
			time.Sleep(20 * time.Millisecond)
		}
	}()

	var wg, dialing sync.WaitGroup
	attackStart := time.Now()
	dial := func(gs ...*slowClients) {
		dialing.Go(func() {
			for _, g := range gs {
				g.open(t, srv.addr, &wg)
			}
		})
	}
	dial(groups[0], groups[1], over) // 127.0.0.4 at its cap, then over it, before any expire
	dialing.Wait()
	for _, g := range groups[2:] {
		dial(g)
	}
	dialing.Wait()
	dialed := time.Since(attackStart)
	heldDialed := srv.conns.Open()
	if err := <-streamed; err != nil {
		t.Fatalf("a stream longer than every deadline was cut: %v", err)
	}
	wg.Wait() // every slow connection was closed by the server
	deadline := time.Now().Add(5 * time.Second)
	for srv.conns.Open() > 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	close(quit)
	f := <-measured
	if f.err != nil {
		t.Fatalf("the well-behaved client was refused during the attack: %v", f.err)
	}
	worst, calls, maxOpen, fdsPeak, rssPeak, heapPeak := f.worst, f.calls, f.maxOpen, f.fds, f.rss, f.heap
	debug.FreeOSMemory() // twice: the first frees pools into their victim caches
	debug.FreeOSMemory()
	fdsAfter, rssAfter, heapAfter := procFDs(t), procRSSMB(t), heapMB()

	t.Logf("slow connections opened %d in %s (+%d over the per-client cap), server held at most %d (%d when all were dialed), refused at accept %d",
		sumConns(groups), dialed.Round(time.Millisecond), over.conns, maxOpen, heldDialed, srv.conns.Refused())
	t.Logf("good client: %d calls during the attack, slowest %s", calls, worst.Round(time.Millisecond))
	t.Logf("fds (both ends, one process) before %d, peak %d, after %d; RSS MiB before %d, peak %d, after %d; heap MiB before %d, peak %d, after %d",
		fdsBefore, fdsPeak, fdsAfter, rssBefore, rssPeak, rssAfter, heapBefore, heapPeak, heapAfter)
	for _, g := range groups {
		t.Logf("%s: %d held, closed by the server after %s to %s", g.name, len(g.held), g.minAlive.Round(time.Millisecond), g.maxAlive.Round(time.Millisecond))
	}

	if worst > time.Second {
		t.Errorf("the well-behaved client waited %s for an answer, want under 1s", worst)
	}
	if maxOpen > cfg.Limits.MaxConnections {
		t.Errorf("server held %d connections, over max_connections %d", maxOpen, cfg.Limits.MaxConnections)
	}
	if srv.conns.Refused() != uint64(over.conns) {
		t.Errorf("connections over the per-client cap: %d refused at accept, want %d", srv.conns.Refused(), over.conns)
	}
	for _, g := range groups {
		if len(g.held) != g.conns {
			t.Errorf("%s: %d of %d connections held, want all (under the caps)", g.name, len(g.held), g.conns)
		}
		if g.minAlive < g.closedAfter || g.maxAlive > g.closedBefore {
			t.Errorf("%s: closed after %s to %s, want between %s and %s", g.name, g.minAlive, g.maxAlive, g.closedAfter, g.closedBefore)
		}
	}
	if open := srv.conns.Open(); open > 2 {
		t.Errorf("%d connections still held after every deadline", open)
	}
	if fdsAfter > fdsBefore+20 {
		t.Errorf("descriptors after the attack %d, before %d: connections leak", fdsAfter, fdsBefore)
	}
	if heapPeak > heapBefore+256 || heapAfter > heapBefore+32 {
		t.Errorf("heap MiB before %d, peak %d, after %d: not bounded", heapBefore, heapPeak, heapAfter)
	}
}

// scaled is n, or a quarter of it under the race detector, which limits
// live goroutines to 8128 and runs everything several times slower.
func scaled(n int) int {
	if raceDetector {
		return n / 4
	}
	return n
}

func sumConns(gs []*slowClients) int {
	n := 0
	for _, g := range gs {
		n += g.conns
	}
	return n
}
