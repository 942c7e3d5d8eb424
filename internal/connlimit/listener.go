package connlimit

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Listener is a net.Listener that holds at most Limits.MaxConns
// connections, and at most Limits.MaxConnsPerClient from one client
// address. A connection over either cap is closed as soon as it is
// accepted: it costs no goroutine, no buffer and its file descriptor is
// freed at once, so a flood from one address cannot starve the others and
// no flood can exhaust the process's file descriptors.
//
// Closing at accept rather than answering 503 is deliberate: a 503 needs
// the request read first (a client that sends nothing would hold the
// connection), and a client over the cap is either misbehaving or must
// retry later anyway; the refusal is logged through OnRefuse.
type Listener struct {
	net.Listener

	// OnRefuse, if set, is told of each refused connection: the client's
	// address and whether the per-client cap (else the global one) was hit.
	// It runs on the accept loop, so it must be quick.
	OnRefuse func(client netip.Prefix, perClient bool)

	max, perClient int
	mu             sync.Mutex
	open           int
	byClient       map[netip.Prefix]int
	refused        atomic.Uint64
}

// NewListener wraps ln with the caps of l.
func NewListener(ln net.Listener, l Limits) *Listener {
	return &Listener{Listener: ln, max: l.MaxConns, perClient: l.perClient(), byClient: map[netip.Prefix]int{}}
}

// Accept returns the next connection within the caps, closing those over
// them.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		client := clientOf(c.RemoteAddr())
		if ok, perClient := l.admit(client); !ok {
			_ = c.Close()
			l.refused.Add(1)
			if l.OnRefuse != nil {
				l.OnRefuse(client, perClient)
			}
			continue
		}
		return &conn{Conn: c, l: l, client: client}, nil
	}
}

// admit counts a new connection from client if both caps allow it.
func (l *Listener) admit(client netip.Prefix) (ok, perClient bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byClient[client] >= l.perClient {
		return false, true
	}
	if l.open >= l.max {
		return false, false
	}
	l.open++
	l.byClient[client]++
	return true, false
}

func (l *Listener) release(client netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if n := l.byClient[client] - 1; n > 0 {
		l.byClient[client] = n
	} else {
		delete(l.byClient, client)
	}
}

// Open is the number of connections held now.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Refused is the number of connections closed at accept so far.
func (l *Listener) Refused() uint64 { return l.refused.Load() }

// clientOf is the address a per-client cap counts against: the IPv4
// address, or the /64 of an IPv6 address (one host commonly holds a whole
// /64, so counting single IPv6 addresses would not cap anyone).
func clientOf(a net.Addr) netip.Prefix {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.TCPAddr:
		ip = a.AddrPort().Addr()
	default:
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			ip = ap.Addr()
		}
	}
	ip = ip.Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	if !ip.IsValid() {
		return netip.Prefix{} // not an IP (a pipe, a Unix socket): one shared client
	}
	p, _ := ip.Prefix(bits)
	return p
}

// conn releases its place under the caps when closed, once.
type conn struct {
	net.Conn
	l      *Listener
	client netip.Prefix
	once   sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.client) })
	return err
}
