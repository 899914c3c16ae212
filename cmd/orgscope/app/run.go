package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authserver"
	"github.com/orgscope/orgscope/console"
	"github.com/orgscope/orgscope/mcpserver"
	"github.com/orgscope/orgscope/policy"
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

	engine, err := policy.New(policy.Options{File: cfg.PolicyFile, PollInterval: cfg.PolicyPollInterval, Logger: logger})
	if err != nil {
		return fmt.Errorf("%s refused:\n%w", flagRef("policy"), err)
	}
	svcOpts := service.Options{Store: st, PasswordCost: cfg.PasswordCost, Logger: logger, Authorizer: engine}
	if len(cfg.Issuers) == 0 {
		// People sign in to the embedded issuer, so the console can show
		// them the calls that need their approval.
		svcOpts.ApprovalURL = func(id string) string { return console.ApprovalURL(publicURL, id) }
	}
	svc := service.New(svcOpts)
	defer svc.Close()
	go auditJanitor(ctx, svc, cfg.AuditRetention, logger)
	go approvalJanitor(ctx, svc, logger)

	opts := mcpserver.Options{
		PublicURL:      publicURL,
		Service:        svc,
		Store:          st,
		AllowedOrigins: cfg.AllowedOrigins,
		RateLimits:     cfg.RateLimits,
		Version:        cfg.Version,
		Logger:         logger,
		MoreMetrics:    engine.WriteMetrics,
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
	watchPolicy(ctx, cfg, engine, handler, logger)

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
	opts.Verifier = withPersonRoles(embeddedVerifier(jwtVerifier, issuer), st)
	opts.AuthorizationServers = []string{publicURL}
	opts.AuthServer = issuer.Handler()
	opts.AuthServerMetadata = issuer.Metadata()
	return approvalConsole(ctx, st, publicURL, resource, logger, opts)
}

// approvalConsole sets up the console where people approve the calls the
// policy leaves to them: a confidential client of the embedded issuer
// whose secret every replica derives from the signing key they share.
func approvalConsole(ctx context.Context, st store.Store, publicURL, resource string, logger *slog.Logger, opts *mcpserver.Options) error {
	keys, err := st.SigningKeys(ctx)
	if err != nil || len(keys) == 0 {
		return fmt.Errorf("console: read the signing key: %w", cmp.Or(err, errors.New("no signing key")))
	}
	client, secret := console.Client(publicURL, keys[len(keys)-1].PrivateKey) // the oldest key: it outlives new ones
	if err := console.EnsureClient(ctx, st, client); err != nil {
		return fmt.Errorf("console: register its client: %w", err)
	}
	con, err := console.New(console.Options{
		PublicURL: publicURL, Resource: resource, Service: opts.Service, Verifier: opts.Verifier,
		Issuer: opts.AuthServer, Client: client, ClientSecret: secret, Clients: st, Logger: logger,
	})
	if err != nil {
		return err
	}
	opts.Console = con
	return nil
}

// withPersonRoles adds, to principals of the embedded issuer's sign-in
// (their subject is a person of their organization), the person's role as
// the store has it now, which policies read as context.person.role. One
// indexed read per call of such a token; machine clients' calls pay
// nothing.
func withPersonRoles(v auth.Verifier, st store.Store) auth.Verifier {
	return personRoles{next: v, st: st}
}

type personRoles struct {
	next auth.Verifier
	st   store.Store
}

func (v personRoles) Verify(ctx context.Context, token string) (*auth.Principal, error) {
	p, err := v.next.Verify(ctx, token)
	if err != nil || p.GrantID == "" || p.Global() {
		return p, err
	}
	u, err := v.st.GetUser(ctx, p.OrgCode, p.Subject)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return p, nil // the grant check refuses a deleted person's tokens
	case err != nil:
		return nil, fmt.Errorf("%w: the person's role: %v", auth.ErrUnavailable, err)
	}
	withRole := *p // the verified principal may be shared (the token cache)
	withRole.PersonRole = string(u.Role)
	return &withRole, nil
}

// watchPolicy reloads the policy when its file changes and on SIGHUP, and
// tells listening MCP clients when the tools they may call may have
// changed.
func watchPolicy(ctx context.Context, cfg Config, engine *policy.Engine, handler *mcpserver.Server, logger *slog.Logger) {
	if cfg.PolicyFile == "" {
		logger.Info("access policy: the built-in one")
		return
	}
	logger.Info("access policy", "file", cfg.PolicyFile, "policies", len(engine.Current().IDs()))
	engine.OnChange(handler.ToolsChanged)
	go engine.Watch(ctx)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				logger.Info("SIGHUP: reloading the access policy", "file", cfg.PolicyFile)
				engine.Reload()
			}
		}
	}()
}

// approvalJanitor removes approvals a day after they expired (kept that
// long so a person who opens a late link sees what it was), now and then
// every hour, until ctx ends.
func approvalJanitor(ctx context.Context, svc *service.Service, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := svc.DeleteExpiredApprovals(ctx, time.Now().Add(-24*time.Hour)); err != nil && ctx.Err() == nil {
			logger.WarnContext(ctx, "expired approvals not removed", "err", err)
		} else if n > 0 {
			logger.InfoContext(ctx, "expired approvals removed", "approvals", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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
