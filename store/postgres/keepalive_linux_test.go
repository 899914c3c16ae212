package postgres

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// TestPoolDialsWithKeepAliveAndConnectTimeout: the connections the pool
// opens have TCP keep-alive on with the probes keepAlive names (an idle
// connection whose peer vanished is found dead in about 30 s), and the
// dialer's timeout is the connect timeout. Read from the socket itself.
func TestPoolDialsWithKeepAliveAndConnectTimeout(t *testing.T) {
	addr := silentServer(t)
	for _, c := range []struct {
		url     string
		opts    Options
		connect time.Duration
	}{
		{"postgres://" + addr + "/db", Options{}, DefaultConnectTimeout},
		{"postgres://" + addr + "/db?connect_timeout=2", Options{}, 2 * time.Second},
		{"postgres://" + addr + "/db", Options{ConnectTimeout: 700 * time.Millisecond}, 700 * time.Millisecond},
	} {
		cfg, err := poolConfig(c.url, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.ConnConfig.ConnectTimeout != c.connect {
			t.Errorf("%s %+v: connect timeout %v, want %v", c.url, c.opts, cfg.ConnConfig.ConnectTimeout, c.connect)
		}
		conn, err := cfg.ConnConfig.DialFunc(t.Context(), "tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		tcp, ok := conn.(graceConn).Conn.(*net.TCPConn)
		if !ok {
			t.Fatalf("dialed %T, want a TCP connection", conn)
		}
		raw, err := tcp.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		var sockErr error
		raw.Control(func(fd uintptr) {
			for name, opt := range map[string][2]int{
				"SO_KEEPALIVE":  {syscall.SOL_SOCKET, syscall.SO_KEEPALIVE},
				"TCP_KEEPIDLE":  {syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE},
				"TCP_KEEPINTVL": {syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL},
				"TCP_KEEPCNT":   {syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT},
			} {
				v, err := syscall.GetsockoptInt(int(fd), opt[0], opt[1])
				if err != nil {
					sockErr = err
				}
				got[name] = v
			}
		})
		conn.Close()
		if sockErr != nil {
			t.Fatal(sockErr)
		}
		want := map[string]int{"SO_KEEPALIVE": 1, "TCP_KEEPIDLE": int(keepAlive.Idle.Seconds()),
			"TCP_KEEPINTVL": int(keepAlive.Interval.Seconds()), "TCP_KEEPCNT": keepAlive.Count}
		for name, v := range want {
			if got[name] != v {
				t.Errorf("%s: %s = %d, want %d", c.url, name, got[name], v)
			}
		}
	}
}
