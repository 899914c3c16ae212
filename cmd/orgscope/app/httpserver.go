package app

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/orgscope/orgscope/internal/certreload"
	"github.com/orgscope/orgscope/internal/connlimit"
)

// httpLimits are the time and size limits of the HTTP server.
type httpLimits struct {
	// header bounds the time from a connection's first byte (or from the
	// end of the previous request) to the end of the request headers: a
	// client that sends its headers slowly is dropped after it.
	header time.Duration
	// read bounds reading a whole request, body included (bodies are at
	// most 1 MiB), and the TLS handshake. net/http lifts it once the body
	// is read, so it does not limit how long a handler may take.
	read time.Duration
	// write bounds the handler and the answer, from the end of the request
	// headers to the last byte written: the longest answer that still
	// works. Tools finish within seconds (database statements time out
	// after 5 s), and this is the ceiling the README asks proxies not to
	// undercut. It must stay well above read and header: one short
	// timeout for everything would cut off legitimate slow answers.
	write time.Duration
	// idle bounds how long a kept-alive connection waits for its next
	// request.
	idle time.Duration
	// maxHeaderBytes bounds the request line and headers (bodies are
	// bounded by mcpserver).
	maxHeaderBytes int
	// maxStreams bounds the concurrent requests of one HTTP/2 connection
	// (HTTPS only), which would otherwise be 250.
	maxStreams int
}

var defaultHTTPLimits = httpLimits{
	header:         5 * time.Second,
	read:           30 * time.Second,
	write:          60 * time.Second,
	idle:           2 * time.Minute,
	maxHeaderBytes: 64 << 10,
	maxStreams:     100,
}

// newHTTPServer returns the server for handler with the limits set.
// Requests' contexts derive from ctx without its cancellation (shutdown
// is Shutdown's job).
func newHTTPServer(ctx context.Context, handler http.Handler, l httpLimits, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: l.header,
		ReadTimeout:       l.read,
		WriteTimeout:      l.write,
		IdleTimeout:       l.idle,
		MaxHeaderBytes:    l.maxHeaderBytes,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: l.maxStreams},
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
}

// limitListener bounds ln's connections as cfg says, logging refusals at
// most once a minute (a flood of them would otherwise flood the log too).
func limitListener(ln net.Listener, cfg Config, logger *slog.Logger) net.Listener {
	perAddress := cfg.MaxConnectionsPerAddress
	if perAddress == 0 {
		perAddress = -1 // no limit, in connlimit's terms
	}
	refusals := &refusalLog{logger: logger, limit: perAddress}
	return connlimit.Listen(ln, &connlimit.Options{Total: cfg.MaxConnections, PerAddress: perAddress, Refused: refusals.note})
}

type refusalLog struct {
	logger *slog.Logger
	limit  int

	mu     sync.Mutex
	last   time.Time
	missed int
}

func (r *refusalLog) note(addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.missed++
	if time.Since(r.last) < time.Minute {
		return
	}
	r.logger.Warn("refused connections over the per-address limit (--max-connections-per-address)",
		"address", addr, "limit", r.limit, "refused_since_last_report", r.missed)
	r.last, r.missed = time.Now(), 0
}

// configureTLS configures srv for HTTPS with a certificate reloaded from the
// files when they change.
func configureTLS(srv *http.Server, cfg Config, logger *slog.Logger) error {
	r, err := certreload.New(cfg.TLSCertFile, cfg.TLSKeyFile, logger)
	if err != nil {
		return usageErrorf("%s, %s: %w", flagRef("tls-cert"), flagRef("tls-key"), err)
	}
	srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
	return nil
}
