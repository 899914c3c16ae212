package postgres

import (
	"context"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// When a call's context ends, pgx sets a deadline on the connection's
// socket at once (poolConfig installs pgconn.DeadlineContextWatcherHandler),
// so the call returns even if the network drops every packet. pgx then
// closes that connection in the background: it opens a second connection
// to send the server a cancel request, sends the first one a goodbye and
// reads until the server hangs up, allowing each 15 s. On a link that
// drops packets nothing ever answers, and the pool keeps the dying
// connection's slot for those 15 s, so that when the network comes back
// the pool is still full of connections being closed. The dialer below
// bounds both waits:
//
//   - every connection starts with a deadline of the connect timeout,
//     which afterConnect clears once the connection is open (pgx calls it
//     for connections it opens for queries, not for cancel requests), so a
//     cancel request gets the connect timeout to be answered;
//   - a deadline further away than closeGrace is brought down to it; pgx
//     sets one only when closing a connection (those of calls are set when
//     the call's context ends, for now).

// closeGrace is how long pgx may wait for a connection it closes to say
// goodbye.
const closeGrace = 2 * time.Second

// dialer opens connections with TCP keep-alive and the bounds above.
type dialer struct {
	net.Dialer // Timeout is the connect timeout
}

func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.Dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if err := c.SetDeadline(time.Now().Add(d.Timeout)); err != nil {
		c.Close()
		return nil, err
	}
	return graceConn{c}, nil
}

// afterConnect clears the deadline DialContext set, once pgx has opened the
// connection (TLS included) for queries.
func afterConnect(_ context.Context, _ *pgconn.Config, c net.Conn) (net.Conn, error) {
	return c, c.SetDeadline(time.Time{})
}

// graceConn caps the deadlines pgx sets at closeGrace from now.
type graceConn struct{ net.Conn }

func (c graceConn) SetDeadline(t time.Time) error {
	if limit := time.Now().Add(closeGrace); t.After(limit) {
		t = limit
	}
	return c.Conn.SetDeadline(t)
}
