package e2e

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/orgscope/orgscope/cmd/orgscope/app"
)

// TestSlowClientsDoNotStarveOthers: hundreds of connections from one
// address that send their headers slowly get that address's share of
// connections and no more; agents on another address keep calling tools
// as usual, and the greedy address itself is refused at once, not queued.
func TestSlowClientsDoNotStarveOthers(t *testing.T) {
	const perAddress = 16
	s := startServer(t, serverOptions{config: func(c *app.Config) {
		c.MaxConnections = 200
		c.MaxConnectionsPerAddress = perAddress
	}})
	token := s.token(t, s.Clients["org_acme"])

	greedy := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	addr := strings.TrimPrefix(s.URL, "http://")
	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for range 500 { // more than the total, all from one address
		c, err := greedy.Dial("tcp", addr)
		if err != nil {
			continue // refused while connecting
		}
		open = append(open, c)
		c.Write([]byte("POST /mcp HTTP/1.1\r\nHost: " + addr + "\r\nX-Slow: "))
	}

	// The server keeps perAddress of them and has closed the rest.
	held := 0
	for _, c := range open {
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			held++
		}
	}
	if held != perAddress {
		t.Errorf("the server holds %d of the greedy address's connections, want %d", held, perAddress)
	}

	// Meanwhile an agent elsewhere works normally.
	for i := range 20 {
		who := s.tool(t, token, "whoami", nil)
		if !strings.Contains(who.text(), "org_acme") {
			t.Fatalf("call %d from another address: %s", i, who.text())
		}
	}
}
