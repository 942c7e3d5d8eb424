package connlimit

import (
	"bufio"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// dialFrom opens a connection to addr from the loopback address local.
func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echoServer accepts on a capped listener and echoes each line back, so a
// client can tell a held connection (echo) from a refused one (EOF).
func echoServer(t *testing.T, l Limits, onRefuse func(netip.Prefix, bool)) *Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := NewListener(ln, l)
	cl.OnRefuse = onRefuse
	t.Cleanup(func() { cl.Close() })
	go func() {
		for {
			c, err := cl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return cl
}

// held says whether the server holds c: it echoes a line, rather than closing.
func held(c net.Conn) bool {
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "ping\n"
}

func TestListenerCapsConnections(t *testing.T) {
	t.Parallel()
	var refused []string
	var mu sync.Mutex
	cl := echoServer(t, Limits{MaxConns: 5, MaxConnsPerClient: 3}, func(client netip.Prefix, perClient bool) {
		mu.Lock()
		defer mu.Unlock()
		kind := "all"
		if perClient {
			kind = "per-client"
		}
		refused = append(refused, client.String()+" "+kind)
	})
	addr := cl.Addr().String()

	steps := []struct {
		from string
		held bool
		why  string
	}{
		{"127.0.0.1", true, "first of 127.0.0.1"},
		{"127.0.0.1", true, "second of 127.0.0.1"},
		{"127.0.0.1", true, "third of 127.0.0.1, at its cap"},
		{"127.0.0.1", false, "fourth of 127.0.0.1 is over the per-client cap of 3"},
		{"127.0.0.2", true, "another client is not starved by 127.0.0.1"},
		{"127.0.0.2", true, "fifth connection in all, at the global cap"},
		{"127.0.0.3", false, "sixth connection in all is over the global cap of 5"},
	}
	var conns []net.Conn
	for _, s := range steps {
		c := dialFrom(t, s.from, addr)
		if got := held(c); got != s.held {
			t.Fatalf("%s: held = %v, want %v", s.why, got, s.held)
		}
		if s.held {
			conns = append(conns, c)
		}
	}
	if cl.Open() != 5 || cl.Refused() != 2 {
		t.Errorf("open %d refused %d, want 5 and 2", cl.Open(), cl.Refused())
	}
	mu.Lock()
	if len(refused) != 2 || refused[0] != "127.0.0.1/32 per-client" || refused[1] != "127.0.0.3/32 all" {
		t.Errorf("OnRefuse saw %q", refused)
	}
	mu.Unlock()

	// Closing frees the places: 127.0.0.1 may connect again.
	conns[0].Close()
	deadline := time.Now().Add(2 * time.Second)
	for cl.Open() != 4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if c := dialFrom(t, "127.0.0.1", addr); !held(c) {
		t.Error("a closed connection did not free its place under the caps")
	}
}

func TestClientOfGroupsIPv6By64(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 5}, "10.1.2.3/32"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:10.1.2.3"), Port: 5}, "10.1.2.3/32"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:aaaa::1"), Port: 5}, "2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:bbbb::9"), Port: 7}, "2001:db8:1:2::/64"},
		{&net.UnixAddr{Name: "/tmp/s", Net: "unix"}, "invalid Prefix"},
	}
	for _, tt := range tests {
		if got := clientOf(tt.addr).String(); got != tt.want {
			t.Errorf("clientOf(%v) = %s, want %s", tt.addr, got, tt.want)
		}
	}
}

func TestFitFDsKeepsConnectionsWellUnderTheLimit(t *testing.T) {
	t.Parallel()
	l := Limits{MaxConns: 4096, MaxConnsPerClient: 256}
	tests := []struct {
		nofile           uint64
		wantMax, wantPer int
		wantLowered      bool
	}{
		{0, 4096, 256, false},       // unknown: as configured
		{1 << 20, 4096, 256, false}, // a server's usual limit
		{20000, 4096, 256, false},   // (20000-256)/2 = 9872
		{8448, 4096, 256, false},    // exactly fits: (8448-256)/2
		{4096, 1920, 256, true},     // (4096-256)/2
		{1024, 384, 256, true},      // (1024-256)/2
		{256, 96, 96, true},         // reserve is at most a quarter: (256-64)/2
		{1, 1, 1, true},
	}
	for _, tt := range tests {
		got, lowered := l.FitFDs(tt.nofile)
		if got.MaxConns != tt.wantMax || got.MaxConnsPerClient != tt.wantPer || lowered != tt.wantLowered {
			t.Errorf("FitFDs(%d) = %d/%d lowered %v, want %d/%d lowered %v", tt.nofile, got.MaxConns, got.MaxConnsPerClient, lowered, tt.wantMax, tt.wantPer, tt.wantLowered)
		}
	}
}

func TestRefusalsAreLoggedAtMostOncePerInterval(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	onRefuse := LogRefusals(logger, Limits{MaxConns: 10, MaxConnsPerClient: 2}, time.Hour)
	client := netip.MustParsePrefix("10.0.0.1/32")
	for range 1000 {
		onRefuse(client, true)
	}
	if n := strings.Count(buf.String(), "connections refused"); n != 1 {
		t.Fatalf("a flood of 1000 refusals logged %d lines, want 1:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "max_connections_per_client=2") || !strings.Contains(buf.String(), "client=10.0.0.1/32") {
		t.Errorf("the warning does not say which limit and client: %s", buf.String())
	}
}
