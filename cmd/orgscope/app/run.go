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
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authserver"
	"github.com/orgscope/orgscope/console"
	"github.com/orgscope/orgscope/mcpserver"
	"github.com/orgscope/orgscope/policy"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
	"github.com/orgscope/orgscope/store/postgres"
	"github.com/orgscope/orgscope/store/sqlite"
	"github.com/orgscope/orgscope/telemetry"
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

	metrics := telemetry.NewMetrics()
	tracer, stopTracing, err := telemetry.SetupTracing(ctx, telemetry.TracingOptions{ServiceName: "orgscope", Version: cfg.Version})
	if err != nil {
		return err
	}
	defer func() {
		// Flush the spans still buffered, briefly: a collector that is
		// gone must not hold up the exit.
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := stopTracing(flushCtx); err != nil {
			logger.Warn("flushing traces", "err", err)
		}
	}()

	st, err := openStore(ctx, cfg, metrics)
	if err != nil {
		return err
	}
	defer st.Close()
	if pool, ok := st.(interface{ PoolStats() (inUse, idle, max int) }); ok {
		metrics.StorePool(pool.PoolStats)
	}

	ln := cfg.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
		}
	}
	defer ln.Close()
	useTLS := cfg.TLSCertFile != ""
	publicURL := strings.TrimSuffix(cfg.PublicURL, "/")
	var aliases []string
	if publicURL == "" {
		publicURL = publicURLFor(ln.Addr(), useTLS)
		// Nobody said what the server is called: on loopback, every
		// loopback name of its port is the same server.
		aliases = loopbackAliases(publicURL)
	}
	resource := mcpserver.Resource(publicURL)
	warnings(cfg, publicURL, useTLS, logger)

	engine, err := policy.New(policy.Options{File: cfg.PolicyFile, PollInterval: cfg.PolicyPollInterval, Logger: logger})
	if err != nil {
		return fmt.Errorf("%s refused:\n%w", flagRef("policy"), err)
	}
	metrics.PolicyReloads(func() (ok, refused uint64) {
		st := engine.Stats()
		return st.Reloads, st.Failures
	})
	// What this process revokes or cuts off reaches its own resource
	// server at once; the other replicas read it from the store.
	local := &localRevocations{}
	svcOpts := service.Options{Store: st, PasswordCost: cfg.PasswordCost, Logger: logger, Now: cfg.Now, Authorizer: engine,
		LongestTokenTTL: max(cfg.TokenTTL, service.DefaultLongestTokenTTL), CutOff: local.cutOff}
	if len(cfg.Issuers) == 0 {
		// People sign in to the embedded issuer, so the console can show
		// them the calls that need their approval; a platform administrator
		// may rotate the issuer's keys there, as the operator's settings
		// say (the default overlap).
		svcOpts.ApprovalURL = func(id string) string { return console.ApprovalURL(publicURL, id) }
		if svcOpts.SigningKeys, err = keyManager(cfg, 0); err != nil {
			return err
		}
	}
	svc := service.New(svcOpts)
	defer svc.Close()
	// What runs in the background (janitors, key and policy watchers) is
	// stopped and waited for before the service and the store close, on
	// every way out: a janitor must not sweep a closed database, or log
	// after Run has returned.
	ctx, stop := context.WithCancel(ctx)
	var background sync.WaitGroup
	defer func() {
		stop()
		background.Wait()
	}()
	background.Go(func() { auditJanitor(ctx, svc, cfg.AuditRetention, auditSweepInterval, cfg.Now, logger) })
	background.Go(func() { approvalJanitor(ctx, svc, logger) })

	opts := mcpserver.Options{
		PublicURL:      publicURL,
		Aliases:        aliases,
		Service:        svc,
		Store:          st,
		AllowedOrigins: cfg.AllowedOrigins,
		RateLimits:     sharedRateLimits(cfg, st),
		Version:        cfg.Version,
		Logger:         logger,
		Metrics:        metrics,
		TracerProvider: tracer,
	}
	if tracer != nil {
		logger.Info("tracing: spans are exported over OTLP as the OTEL_* variables configure")
	}
	if len(cfg.Issuers) > 0 {
		err = externalMode(ctx, cfg, resource, logger, &opts)
	} else {
		err = embeddedMode(ctx, &background, cfg, st, publicURL, resource, logger, &opts, local, engine)
	}
	if err != nil {
		return err
	}
	handler, err := mcpserver.New(opts)
	if err != nil {
		return err
	}
	watchPolicy(ctx, &background, cfg, engine, handler, logger)

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
func embeddedMode(ctx context.Context, background *sync.WaitGroup, cfg Config, st store.Store, publicURL, resource string, logger *slog.Logger,
	opts *mcpserver.Options, local *localRevocations, engine *policy.Engine) error {
	// The issuer tells this process's denylist of what it revokes, so that
	// this replica refuses it at once; the others learn it from the store.
	kek, err := cfg.keyEncryptionKey()
	if err != nil {
		return err
	}
	issuer, err := authserver.New(ctx, authserver.Options{
		Revoked:                      local.revoked,
		Issued:                       opts.Metrics.TokenIssued,
		Now:                          cfg.Now,
		Issuer:                       publicURL,
		Resource:                     resource,
		Aliases:                      opts.Aliases,
		Store:                        st,
		TokenTTL:                     cfg.TokenTTL,
		Keys:                         authserver.KeyOptions{Algorithm: cfg.SigningAlgorithm, EncryptionKey: kek},
		KeyPollInterval:              cfg.KeyPollInterval,
		RefreshReuseInterval:         cmp.Or(cfg.RefreshReuseInterval, -1), // zero: none
		PasswordCost:                 cfg.PasswordCost,
		MetadataDocumentAllowPrivate: cfg.CIMDAllowPrivate,
		RateLimit:                    issuerRateLimit(cfg.RateLimits),
		AllowedOrigins:               cfg.AllowedOrigins,
		IntrospectionClients:         cfg.IntrospectionClients,
		Logger:                       logger,
	})
	if err != nil {
		return explainKeyError(err, cfg)
	}
	keyWarnings(cfg, kek != nil, issuer, logger)
	// The resource server trusts exactly the keys the issuer publishes at
	// each call, each pinned to its algorithm; they follow the store. One
	// verifier per name the issuer answers as (its tokens for a name are
	// for that name's resource), chosen by the token's iss.
	keys := &auth.LiveKeySet{Keys: issuer.PublishedKeys}
	byIssuer := map[string]auth.Verifier{}
	for _, iss := range append([]string{publicURL}, opts.Aliases...) {
		v, err := auth.NewJWTVerifier(auth.JWTOptions{
			Issuer:   iss,
			Audience: mcpserver.Resource(iss),
			KeySet:   keys,
			// Every token it issues carries these.
			RequireClaims: []string{"jti", "sub", "client_id"},
			Now:           cfg.Now,
		})
		if err != nil {
			return err
		}
		byIssuer[iss] = v
	}
	jwtVerifier := auth.NewIssuerRouter(byIssuer)
	background.Go(func() { issuer.Janitor(ctx, 10*time.Minute) })
	background.Go(func() { issuer.WatchKeys(ctx) })
	// After the cache, a retired key's tokens are refused at the next call.
	cached := auth.NewCachingVerifier(jwtVerifier, &auth.CacheOptions{Now: cfg.Now, Observe: opts.Metrics.VerificationCache})
	denylist := auth.NewDenylistVerifier(ctx, keys.Guard(cached), revocationFeed(st), &auth.DenylistOptions{Logger: logger, Now: cfg.Now})
	local.denylist.Store(denylist)
	verifier := withPersonRoles(embeddedVerifier(denylist, issuer), st)
	opts.AuthorizationServers = []string{publicURL}
	opts.AuthServer = issuer.Handler()
	opts.AuthServerMetadata = issuer.Metadata()
	client := console.Client(publicURL)
	// The console's own sign-in tokens are for the console: /mcp refuses
	// them (they are revoked at once anyway).
	opts.Verifier = consoleTokensRefused{next: verifier, clientID: client.ID}
	return adminConsole(ctx, st, publicURL, resource, logger, opts, verifier, client, engine, cfg.PolicyFile == "")
}

// adminConsole sets up the web console: a public client of the embedded
// issuer (PKCE, one exact redirect URI), which every replica registers
// alike and which nothing in a key rotation changes.
func adminConsole(ctx context.Context, st store.Store, publicURL, resource string, logger *slog.Logger, opts *mcpserver.Options,
	verifier auth.Verifier, client store.Client, engine *policy.Engine, builtin bool) error {
	if err := console.EnsureClient(ctx, st, client); err != nil {
		return fmt.Errorf("console: register its client: %w", err)
	}
	con, err := console.New(console.Options{
		PublicURL: publicURL, Resource: resource, Service: opts.Service, Verifier: verifier,
		Issuer: opts.AuthServer, Client: client, Clients: st, Logger: logger,
		Policy: func() console.PolicyInfo {
			in := engine.Info()
			return console.PolicyInfo{Name: in.Name, Version: in.Version, LoadedAt: in.LoadedAt, Policies: in.Policies,
				Source: in.Source, Reloads: in.Reloads, Failures: in.Failures, BuiltIn: builtin}
		},
	})
	if err != nil {
		return err
	}
	opts.Console = con
	return nil
}

// consoleTokensRefused refuses at /mcp the tokens issued to the console's
// client: a console sign-in's token proves who signed in, to the console,
// and is no agent's.
type consoleTokensRefused struct {
	next     auth.Verifier
	clientID string
}

func (v consoleTokensRefused) Verify(ctx context.Context, token string) (*auth.Principal, error) {
	p, err := v.next.Verify(ctx, token)
	if err == nil && p.ClientID == v.clientID {
		return nil, &auth.TokenError{Description: "the access token was issued to the console's sign-in, and works only there",
			Err: errors.New("console client")}
	}
	return p, err
}

// loopbackAliases returns the other loopback names of a loopback base URL's
// port: http://127.0.0.1:8080 is also http://localhost:8080 and
// http://[::1]:8080. Other URLs have none.
func loopbackAliases(base string) []string {
	u, err := url.Parse(base)
	if err != nil || !isLoopbackURL(base) {
		return nil
	}
	var out []string
	for _, h := range []string{"127.0.0.1", "localhost", "[::1]"} {
		if alias := u.Scheme + "://" + h + ":" + u.Port(); alias != base {
			out = append(out, alias)
		}
	}
	return out
}

// keyWarnings tells the operator what the signing keys' state means for
// the flags given: an algorithm that takes effect at the next rotation,
// keys still stored unencrypted.
func keyWarnings(cfg Config, encrypting bool, issuer *authserver.Server, logger *slog.Logger) {
	if alg, configured := issuer.SigningAlgorithm(); !configured {
		logger.Info("the signing algorithm given takes effect at the next key rotation (orgscope keys rotate)",
			"signing_algorithm", cfg.SigningAlgorithm, "signing_now_with", alg)
	}
	if n := issuer.UnencryptedKeys(); n > 0 && encrypting {
		logger.Warn("signing keys made before a key-encryption key was given are stored unencrypted; "+
			"orgscope keys rotate replaces them with encrypted ones", "unencrypted_keys", n)
	}
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
func watchPolicy(ctx context.Context, background *sync.WaitGroup, cfg Config, engine *policy.Engine, handler *mcpserver.Server, logger *slog.Logger) {
	if cfg.PolicyFile == "" {
		logger.Info("access policy: the built-in one")
		return
	}
	logger.Info("access policy", "file", cfg.PolicyFile, "policies", len(engine.Current().IDs()))
	engine.OnChange(handler.ToolsChanged)
	background.Go(func() { engine.Watch(ctx) })
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	background.Go(func() {
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
	})
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
		OnKeyFetch: opts.Metrics.KeyFetch, OnCache: opts.Metrics.VerificationCache,
	})
	if err != nil {
		return err
	}
	opts.Verifier = v
	for _, is := range cfg.Issuers {
		opts.AuthorizationServers = append(opts.AuthorizationServers, is.URL)
	}
	opts.Console = console.Off("People sign in with an external issuer here, and the console signs people in only " +
		"through OrgScope's embedded issuer; there is no setting to turn it on with an external issuer. Use the command " +
		"line instead (orgscope clients …, orgscope audit export …), or run OrgScope with its embedded issuer.")
	return nil
}

// embeddedVerifier is the resource server's view of the embedded issuer:
// its tokens, verified once and cached, and — for tokens of the interactive
// flow and those delegated from them — their grant, person and acting
// clients read on every call, so that revoking the grant (code replay,
// refresh reuse, revocation), the person's suspension or deletion, or an
// agent's disabling takes effect at once, and the decision point gets the
// person's role and the agents' allowed scopes as bounds.
func embeddedVerifier(denylist *auth.Denylist, issuer *authserver.Server) auth.Verifier {
	return auth.NewRevocationVerifier(denylist, func(ctx context.Context, p *auth.Principal) (auth.Standing, error) {
		return issuer.Standing(ctx, p.GrantID, p.OrgCode, p.Subject, p.ActorChain)
	})
}

// localRevocations hands what this process revokes (a token at
// /oauth2/revoke) or cuts off (a client disabled or deleted through a
// tool) to its resource server's denylist, once there is one, ahead of the
// denylist's next poll of the store.
type localRevocations struct {
	denylist atomic.Pointer[auth.Denylist]
}

func (l *localRevocations) add(r auth.Revocations) {
	if d := l.denylist.Load(); d != nil {
		d.Add(r)
	}
}

func (l *localRevocations) revoked(t store.RevokedToken) {
	l.add(auth.Revocations{Tokens: []auth.RevokedToken{{TokenID: t.TokenID, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt}}})
}

func (l *localRevocations) cutOff(c store.ClientCutoff) {
	l.add(auth.Revocations{Cutoffs: []auth.ClientCutoff{{ClientID: c.ClientID, Cutoff: c.Cutoff, ExpiresAt: c.ExpiresAt, ChangedAt: c.ChangedAt}}})
}

// revocationFeed reads the store's denylist and client cutoffs for the
// resource server.
func revocationFeed(st store.Store) auth.RevocationFeed {
	return func(ctx context.Context, since time.Time) (auth.Revocations, error) {
		var out auth.Revocations
		tokens, err := st.RevokedTokensSince(ctx, since)
		if err != nil {
			return out, err
		}
		cutoffs, err := st.ClientCutoffsSince(ctx, since)
		if err != nil {
			return out, err
		}
		for _, t := range tokens {
			out.Tokens = append(out.Tokens, auth.RevokedToken{TokenID: t.TokenID, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt})
		}
		for _, c := range cutoffs {
			out.Cutoffs = append(out.Cutoffs, auth.ClientCutoff{ClientID: c.ClientID, Cutoff: c.Cutoff, ExpiresAt: c.ExpiresAt, ChangedAt: c.ChangedAt})
		}
		return out, nil
	}
}

// auditSweepInterval is how often the audit janitor sweeps.
const auditSweepInterval = time.Hour

// auditJanitor removes audit events older than retention on the clock now
// (nil: time.Now), now and then every interval, until ctx ends. Every
// replica may run one.
func auditJanitor(ctx context.Context, svc *service.Service, retention, interval time.Duration, now func() time.Time, logger *slog.Logger) {
	if retention <= 0 {
		return
	}
	if now == nil {
		now = time.Now
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := svc.DeleteAuditEventsBefore(ctx, now().Add(-retention))
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
// m, when set, observes every store call.
func openStore(ctx context.Context, cfg Config, m *telemetry.Metrics) (store.Store, error) {
	if err := cfg.checkDatabase(); err != nil {
		return nil, err
	}
	if err := cfg.checkStoreTimeout(); err != nil {
		return nil, err
	}
	var observe func(op, outcome string, d time.Duration)
	if m != nil {
		observe = m.StoreCall
	}
	if cfg.DatabaseURL != "" {
		st, err := postgres.Open(ctx, cfg.DatabaseURL, &postgres.Options{Schema: cfg.DatabaseSchema, QueryTimeout: cfg.StoreTimeout, Now: cfg.Now, Observe: observe})
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL database: %w", err)
		}
		return st, nil
	}
	st, err := sqlite.Open(ctx, cfg.DBPath, &sqlite.Options{QueryTimeout: cfg.StoreTimeout, Now: cfg.Now, Observe: observe})
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", cfg.DBPath, err)
	}
	return st, nil
}
