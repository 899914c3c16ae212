package connlimit

import (
	"net"
	"sync"

	"golang.org/x/net/netutil"
)

// Defaults of Options: a laptop's descriptor limit (often 1024 soft, raised
// by Go to the hard limit at start, commonly 4096 or more) and a server's
// both live with them, and 256 at once is far more than any honest client
// of an MCP server opens.
const (
	DefaultTotal      = 4096
	DefaultPerAddress = 256
)

// Options configure Listen. The zero value means the defaults.
type Options struct {
	// Total bounds the connections held open at once. At the limit the
	// listener stops accepting; further connections wait in the kernel's
	// backlog (they cost no descriptor) until one closes. Zero means
	// DefaultTotal; negative means no limit.
	Total int
	// PerAddress bounds the connections one client address holds open at
	// once (IPv6 addresses count per /64, the block one host usually
	// has). Connections over it are closed as soon as they are accepted.
	// Zero means DefaultPerAddress; negative means no limit.
	PerAddress int
	// Refused, when set, is called for each connection closed at the
	// per-address limit, with the address's key (the IP, or the /64). It
	// runs on the accepting goroutine and must be quick.
	Refused func(addr string)
}

// Listen wraps ln so that it honours opts.
func Listen(ln net.Listener, opts *Options) net.Listener {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Total == 0 {
		o.Total = DefaultTotal
	}
	if o.PerAddress == 0 {
		o.PerAddress = DefaultPerAddress
	}
	if o.PerAddress > 0 {
		ln = &perAddress{Listener: ln, limit: o.PerAddress, refused: o.Refused, open: map[string]int{}}
	}
	if o.Total > 0 {
		// Outermost, so a connection refused per address never holds a
		// slot of the total: perAddress.Accept loops inside one slot.
		ln = netutil.LimitListener(ln, o.Total)
	}
	return ln
}

// perAddress closes connections beyond limit per address.
type perAddress struct {
	net.Listener
	limit   int
	refused func(string)

	mu   sync.Mutex
	open map[string]int
}

func (l *perAddress) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := addressKey(c.RemoteAddr())
		l.mu.Lock()
		ok := l.open[key] < l.limit
		if ok {
			l.open[key]++
		}
		l.mu.Unlock()
		if ok {
			return &trackedConn{Conn: c, release: func() { l.release(key) }}, nil
		}
		if tc, isTCP := c.(*net.TCPConn); isTCP {
			// A reset rather than an orderly close: the peer learns at
			// once, and no TIME_WAIT state is left behind on our side.
			tc.SetLinger(0)
		}
		c.Close()
		if l.refused != nil {
			l.refused(key)
		}
	}
}

func (l *perAddress) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
}

// trackedConn gives its address's slot back when closed (once).
type trackedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// addressKey is what the per-address limit counts by: the IP of a TCP
// peer, IPv6 addresses reduced to their /64; anything else by its string.
func addressKey(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := tcp.IP
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
