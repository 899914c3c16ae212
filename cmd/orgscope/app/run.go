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
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/postgres"
	"github.com/orgscope/orgscope/store/sqlite"
)

var logHandler = mcpserver.LogHandler

// Run serves OrgScope until ctx ends, then shuts down gracefully (in-flight
// requests get up to ten seconds).
func Run(ctx context.Context, cfg Config) error {
	logger, err := cfg.logger()
	if err != nil {
		return err
	}
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
	publicURL := strings.TrimSuffix(cfg.PublicURL, "/")
	if publicURL == "" {
		publicURL = publicURLFor(ln.Addr())
	}
	resource := mcpserver.Resource(publicURL)

	opts := mcpserver.Options{
		PublicURL:      publicURL,
		Store:          st,
		AllowedOrigins: cfg.AllowedOrigins,
		RateLimits:     cfg.RateLimits,
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

	seeded, err := seedDemo(ctx, st, cfg.Demo && len(cfg.Issuers) == 0, cfg.PasswordCost)
	if err != nil {
		return err
	}
	if cfg.Demo && len(cfg.Issuers) > 0 {
		if _, err := seedDemoTenants(ctx, st); err != nil {
			return err
		}
	}
	printBanner(stdout, publicURL, resource, cfg, seeded)

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("serving", "url", publicURL, "mcp", resource)

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
		KeySet:   &oidc.StaticKeySet{PublicKeys: issuer.PublicKeys()},
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

// openStore opens PostgreSQL when a database URL is given, SQLite otherwise.
func openStore(ctx context.Context, cfg Config) (store.Store, error) {
	if cfg.DatabaseURL != "" {
		if !strings.HasPrefix(cfg.DatabaseURL, "postgres://") && !strings.HasPrefix(cfg.DatabaseURL, "postgresql://") {
			return nil, errors.New("--database-url must be a postgres:// URL")
		}
		st, err := postgres.Open(ctx, cfg.DatabaseURL, &postgres.Options{Schema: cfg.DatabaseSchema})
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL database: %w", err)
		}
		return st, nil
	}
	st, err := sqlite.Open(ctx, cfg.DBPath, nil)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", cfg.DBPath, err)
	}
	return st, nil
}
