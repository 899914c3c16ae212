package app

import (
	"context"
	"errors"
	"math"

	"github.com/orgscope/orgscope/auth"
)

const serveAbout = `
Runs the MCP server. With no --issuer it is also the OAuth authorization
server (embedded mode); with --issuer it trusts that issuer's tokens.

--demo: not given, demo tenants and their credentials are seeded into an
empty database only when the public URL is loopback (127.0.0.1, ::1,
localhost); --demo=true seeds whatever the URL (with a warning), and
--demo=false never. Values that cannot be honoured are refused at start
(exit code 2).`

// serve parses the serve flags (and their environment variables) into a
// Config, refuses what it cannot honour, and runs the server.
func (c cli) serve(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	cmd := newCommand("serve", "orgscope [serve] [flags]")
	cmd.about = serveAbout
	fs := cmd.fs
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address, host:port (port 0: any free port)")
	fs.StringVar(&cfg.PublicURL, "public-url", "", "public base URL clients use, http(s)://host[:port] with no path (default: derived from --addr); the MCP resource is <public-url>/mcp")
	storeFlags(fs, &cfg)
	fs.Var(&demoFlag{mode: &cfg.Demo}, "demo", "seed demo tenants into an empty database and print their credentials once: true, false, or auto (seed only for a loopback public URL)")
	fs.DurationVar(&cfg.TokenTTL, "token-ttl", cfg.TokenTTL, "lifetime of access tokens the embedded issuer signs (at most 24h without --allow-long-token-ttl)")
	fs.BoolVar(&cfg.AllowLongTokenTTL, "allow-long-token-ttl", false, "accept a --token-ttl over 24h (a leaked token stays usable that long)")
	signingKeyFlags(fs, &cfg)
	fs.DurationVar(&cfg.RefreshReuseInterval, "refresh-reuse-interval", cfg.RefreshReuseInterval, "how long a rotated refresh token may be presented again by its client (sessions sharing a keyring) before reuse revokes its grant; 0 for none")
	fs.DurationVar(&cfg.AuditRetention, "audit-retention", cfg.AuditRetention, "how long audit events are kept before they are removed")
	fs.Float64Var(&cfg.RateLimits.PerPrincipal, "rate-limit", cfg.RateLimits.PerPrincipal, "MCP calls per second per access token's principal (bursts of twice that); 0 disables")
	fs.Float64Var(&cfg.RateLimits.PerOrg, "org-rate-limit", cfg.RateLimits.PerOrg, "MCP calls per second per organization, shared by all its clients (bursts of twice that); 0 disables")
	fs.Float64Var(&cfg.RateLimits.PerAddress, "signin-rate-limit", cfg.RateLimits.PerAddress, "requests per second per client address to the issuer's /oauth2/ endpoints: token, sign-in, consent, registration, authorization (bursts of four times that); 0 disables")
	fs.IntVar(&cfg.MaxConnections, "max-connections", cfg.MaxConnections, "connections held open at once; beyond it new ones wait until one closes")
	fs.IntVar(&cfg.MaxConnectionsPerAddress, "max-connections-per-address", cfg.MaxConnectionsPerAddress, "connections one client address may hold open at once, beyond which they are closed at once; 0: no limit (behind a proxy, limit there)")
	fs.StringVar(&cfg.TLSCertFile, "tls-cert", "", "serve HTTPS with this PEM certificate (chain) file, reloaded when it changes; needs --tls-key")
	fs.StringVar(&cfg.TLSKeyFile, "tls-key", "", "the PEM private key of --tls-cert")
	fs.StringVar(&cfg.PolicyFile, "policy", "", "access policy file (Cedar; see orgscope policy -h), reloaded when it changes and on SIGHUP (default: the built-in policy)")
	fs.Var((*stringList)(&cfg.AllowedOrigins), "allowed-origins", "comma-separated browser origins allowed to call /mcp (* for any)")
	fs.Var((*stringList)(&cfg.IntrospectionClients), "introspection-clients", "comma-separated ids of confidential clients (resource servers) to which /oauth2/introspect describes any token; others learn only about their own tokens")
	var iss issuerFlags
	fs.Var(&iss.urls, "issuer", "trust this external issuer instead of the embedded one (repeatable, or comma-separated)")
	fs.StringVar(&iss.configFile, "issuers-config", "", "JSON file describing external issuers, for several or differently shaped ones")
	fs.StringVar(&iss.audience, "audience", "", "audience --issuer tokens must carry (default: the MCP resource URI)")
	fs.StringVar(&iss.tenantClaim, "tenant-claim", "org_code", "claim of --issuer tokens naming the organization (org_id, tid, o.id, …)")
	fs.Var(&iss.scopeClaims, "scope-claims", "claims of --issuer tokens carrying scopes (default: scope,scp,permissions)")
	fs.BoolVar(&iss.allowGlobal, "allow-global", false, "accept --issuer tokens without the tenant claim as global (administration) tokens")
	fs.BoolVar(&iss.requireType, "require-at-jwt", false, "refuse --issuer JWTs whose typ is not at+jwt")
	fs.DurationVar(&cfg.JWKSRefresh, "jwks-refresh", auth.DefaultKeyRefresh, "how long an external issuer's fetched keys are used before they are fetched again")
	fs.DurationVar(&cfg.JWKSCooldown, "jwks-cooldown", auth.DefaultRefetchCooldown, "least time between key fetches caused by tokens with an unknown key id")
	fs.BoolVar(&cfg.CIMDAllowPrivate, "cimd-allow-private", false, "development only: fetch client metadata documents and clients' jwks_uris from private and loopback addresses")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "text or json")
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	if iss.tenantClaim == "" {
		return &usageError{err: usageErrorf("%s must name a claim", flagRef("tenant-claim")), hint: cmd.hint()}
	}
	issuers, err := iss.issuers()
	if ue, ok := errors.AsType[*usageError](err); ok {
		ue.hint = cmd.hint()
	}
	if err != nil {
		return err
	}
	cfg.Issuers = issuers
	cfg.RateLimits.PrincipalBurst = burst(cfg.RateLimits.PerPrincipal, 2)
	cfg.RateLimits.OrgBurst = burst(cfg.RateLimits.PerOrg, 2)
	cfg.RateLimits.AddressBurst = burst(cfg.RateLimits.PerAddress, 4)
	cfg.Stdout, cfg.Stderr = c.stdout, c.stderr
	if err := cfg.validate(); err != nil {
		return err
	}
	return Run(ctx, cfg)
}

// burst is factor seconds' worth of rate, and at least one request: a
// token bucket that holds less than one refuses everything.
func burst(rate, factor float64) int {
	if rate <= 0 || math.IsNaN(rate) || math.IsInf(rate, 0) {
		return 0
	}
	return max(1, int(math.Ceil(rate*factor)))
}
