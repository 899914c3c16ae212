package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authserver"
	"github.com/orgscope/orgscope/mcpserver"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/postgres"
	"github.com/orgscope/orgscope/store/sqlite"
)

var logHandler = mcpserver.LogHandler

// descriptorReserve is what the server needs besides client connections:
// database connections, the database files, logs.
const descriptorReserve = 128

// Run serves OrgScope until ctx ends, then shuts down gracefully (in-flight
// requests get up to ten seconds).
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	logger := cfg.logger()
	stdout := cfg.Stdout
	if stdout == nil {
		stdout = io.Discard
	}

	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()

	ln := cfg.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
		}
	}
	defer ln.Close()
	useTLS := cfg.TLSCertFile != ""
	publicURL := strings.TrimSuffix(cfg.PublicURL, "/")
	if publicURL == "" {
		publicURL = publicURLFor(ln.Addr(), useTLS)
	}
	resource := mcpserver.Resource(publicURL)
	warnings(cfg, publicURL, useTLS, logger)

	svc := service.New(service.Options{Store: st, PasswordCost: cfg.PasswordCost, Logger: logger})
	defer svc.Close()
	go auditJanitor(ctx, svc, cfg.AuditRetention, logger)

	opts := mcpserver.Options{
		PublicURL:      publicURL,
		Service:        svc,
		Store:          st,
		AllowedOrigins: cfg.AllowedOrigins,
		RateLimits:     sharedRateLimits(cfg, st),
		Version:        cfg.Version,
		Logger:         logger,
	}
	if len(cfg.Issuers) > 0 {
		err = externalMode(ctx, cfg, resource, logger, &opts)
	} else {
		err = embeddedMode(ctx, cfg, st, publicURL, resource, logger, &opts)
	}
	if err != nil {
		return err
	}
	handler, err := mcpserver.New(opts)
	if err != nil {
		return err
	}

	srv := newHTTPServer(ctx, handler, defaultHTTPLimits, logger)
	if useTLS {
		if err := configureTLS(srv, cfg, logger); err != nil {
			return err
		}
	}

	demo := cfg.Demo == DemoOn || cfg.Demo == DemoAuto && isLoopbackURL(publicURL)
	seeded, err := seedDemo(ctx, st, demo && len(cfg.Issuers) == 0, cfg.PasswordCost)
	if err != nil {
		return err
	}
	if demo && len(cfg.Issuers) > 0 {
		if err := seedDemoTenants(ctx, st); err != nil {
			return err
		}
	}
	if seeded != nil && !isLoopbackURL(publicURL) {
		logger.Warn("seeded demo tenants on a server that is not on loopback (--demo=true): the global admin client "+
			"printed on stdout may do everything; disable or delete the demo clients before real use", "public_url", publicURL)
	}
	var steps *firstSteps
	if seeded == nil && len(cfg.Issuers) == 0 {
		if steps, err = needFirstSteps(ctx, st); err != nil {
			return err
		}
	}
	printBanner(stdout, publicURL, resource, cfg, seeded, steps)

	ln = limitListener(ln, cfg, logger)
	serveErr := make(chan error, 1)
	go func() {
		if useTLS {
			serveErr <- srv.ServeTLS(ln, "", "")
		} else {
			serveErr <- srv.Serve(ln)
		}
	}()
	logger.Info("serving", "url", publicURL, "mcp", resource,
		"max_connections", cfg.MaxConnections, "max_connections_per_address", cfg.MaxConnectionsPerAddress)

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// warnings logs what is allowed but probably not meant.
func warnings(cfg Config, publicURL string, useTLS bool, logger *slog.Logger) {
	if !useTLS && strings.HasPrefix(publicURL, "http://") && !isLoopbackURL(publicURL) {
		logger.Warn("the public URL is plain http on a network address: access tokens, client secrets and passwords "+
			"will cross the network in clear; serve HTTPS (--tls-cert/--tls-key) or put a TLS proxy in front and "+
			"give its https:// URL as --public-url", "public_url", publicURL)
	}
	if limit, ok := descriptorLimit(); ok && uint64(cfg.MaxConnections)+descriptorReserve > limit {
		logger.Warn("--max-connections is more than the open-file limit leaves for connections; at that many "+
			"connections new ones (and database files) fail: raise the limit (ulimit -n) or lower --max-connections",
			"max_connections", cfg.MaxConnections, "open_file_limit", limit)
	}
}

// embeddedMode runs OrgScope's own issuer: its endpoints under /oauth2/,
// its metadata, and a verifier of its tokens.
func embeddedMode(ctx context.Context, cfg Config, st store.Store, publicURL, resource string, logger *slog.Logger, opts *mcpserver.Options) error {
	issuer, err := authserver.New(ctx, authserver.Options{
		Issuer:                       publicURL,
		Resource:                     resource,
		Store:                        st,
		TokenTTL:                     cfg.TokenTTL,
		PasswordCost:                 cfg.PasswordCost,
		MetadataDocumentAllowPrivate: cfg.CIMDAllowPrivate,
		RateLimit:                    issuerRateLimit(cfg.RateLimits),
		AllowedOrigins:               cfg.AllowedOrigins,
		Logger:                       logger,
	})
	if err != nil {
		return err
	}
	jwtVerifier, err := auth.NewJWTVerifier(auth.JWTOptions{
		Issuer:   publicURL,
		Audience: resource,
		// Its keys are RS256 keys: pinned, so nothing else verifies with them.
		KeySet: auth.NewStaticKeySet(oidc.RS256, issuer.PublicKeys()...),
		// Every token it issues carries these.
		RequireClaims: []string{"jti", "sub", "client_id"},
	})
	if err != nil {
		return err
	}
	go issuer.Janitor(ctx, 10*time.Minute)
	opts.Verifier = embeddedVerifier(jwtVerifier, issuer)
	opts.AuthorizationServers = []string{publicURL}
	opts.AuthServer = issuer.Handler()
	opts.AuthServerMetadata = issuer.Metadata()
	return nil
}

// issuerRateLimit is the embedded issuer's per-address limit: the one
// --signin-rate-limit sets.
func issuerRateLimit(rl *mcpserver.RateLimits) authserver.RateLimit {
	if rl == nil {
		return authserver.RateLimit{}
	}
	return authserver.RateLimit{PerSecond: rl.PerAddress, Burst: rl.AddressBurst}
}

// externalMode makes OrgScope a pure resource server for the configured
// issuers: no endpoints of its own, the PRM pointing at them.
func externalMode(ctx context.Context, cfg Config, resource string, logger *slog.Logger, opts *mcpserver.Options) error {
	v, err := auth.NewExternalVerifier(ctx, auth.ExternalOptions{
		Issuers: cfg.Issuers, Resource: resource, Getenv: os.Getenv, Logger: logger,
		KeyRefresh: cfg.JWKSRefresh, RefetchCooldown: cfg.JWKSCooldown,
	})
	if err != nil {
		return err
	}
	opts.Verifier = v
	for _, is := range cfg.Issuers {
		opts.AuthorizationServers = append(opts.AuthorizationServers, is.URL)
	}
	return nil
}

// embeddedVerifier is the resource server's view of the embedded issuer:
// its tokens, verified once and cached, and — for tokens of the interactive
// flow — their grant checked on every call, so that revoking it (code
// replay, refresh reuse, revocation, the user's deletion) takes effect at
// once.
func embeddedVerifier(jwt auth.Verifier, issuer *authserver.Server) auth.Verifier {
	return auth.NewRevocationVerifier(auth.NewCachingVerifier(jwt, nil), func(ctx context.Context, p *auth.Principal) (bool, error) {
		return issuer.GrantActive(ctx, p.GrantID, p.OrgCode, p.Subject)
	})
}

// auditJanitor removes audit events older than retention, now and then
// every hour, until ctx ends. Every replica may run one.
func auditJanitor(ctx context.Context, svc *service.Service, retention time.Duration, logger *slog.Logger) {
	if retention <= 0 {
		return
	}
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := svc.DeleteAuditEventsBefore(ctx, time.Now().Add(-retention))
		switch {
		case err != nil && ctx.Err() == nil:
			logger.WarnContext(ctx, "audit retention sweep failed", "err", err)
		case n > 0:
			logger.InfoContext(ctx, "audit events past retention removed", "events", n, "retention", retention)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// openStore opens PostgreSQL when a database URL is given, SQLite otherwise.
func openStore(ctx context.Context, cfg Config) (store.Store, error) {
	if err := cfg.checkDatabase(); err != nil {
		return nil, err
	}
	if cfg.DatabaseURL != "" {
		st, err := postgres.Open(ctx, cfg.DatabaseURL, &postgres.Options{Schema: cfg.DatabaseSchema, QueryTimeout: cfg.StoreTimeout})
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL database: %w", err)
		}
		return st, nil
	}
	st, err := sqlite.Open(ctx, cfg.DBPath, &sqlite.Options{QueryTimeout: cfg.StoreTimeout})
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", cfg.DBPath, err)
	}
	return st, nil
}
