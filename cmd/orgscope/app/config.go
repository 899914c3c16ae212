package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authserver"
	"github.com/orgscope/orgscope/internal/buildinfo"
	"github.com/orgscope/orgscope/internal/connlimit"
	"github.com/orgscope/orgscope/mcpserver"
	"github.com/orgscope/orgscope/store/sqlite"
)

// Config is everything Run needs. DefaultConfig returns the command's
// defaults; Run refuses a Config that validate refuses, with the same
// messages the command prints (they name the flags).
type Config struct {
	// Addr is the listen address. Ignored when Listener is set.
	Addr string
	// Listener, when set, is served instead of listening on Addr (tests
	// listen on port 0 first, so they know the URL).
	Listener net.Listener
	// PublicURL is the base URL clients use; empty derives it from the
	// listen address. The MCP resource is PublicURL + "/mcp".
	PublicURL string
	// DBPath is the SQLite database file.
	DBPath string
	// DatabaseURL, when set (postgres://…), selects PostgreSQL instead;
	// DatabaseSchema then names the schema holding OrgScope's tables
	// (created if missing; empty means the URL's search_path).
	DatabaseURL    string
	DatabaseSchema string
	// StoreTimeout bounds every database call: a call that takes longer
	// (a lock held too long, a database that stopped answering) fails, and
	// a request that needs it is answered 503. From MinStoreTimeout to
	// MaxStoreTimeout (DefaultConfig sets DefaultStoreTimeout).
	StoreTimeout time.Duration
	// Demo says when demo tenants are seeded into an empty database; the
	// zero value, DemoAuto, seeds only for a loopback public URL.
	Demo DemoMode
	// TokenTTL is the lifetime of access tokens the embedded issuer signs:
	// positive, and at most MaxTokenTTL unless AllowLongTokenTTL.
	TokenTTL          time.Duration
	AllowLongTokenTTL bool
	// SigningAlgorithm is the algorithm of the signing keys the embedded
	// issuer makes (RS256, ES256 or EdDSA): at first start and at each
	// `keys rotate`; keys made before keep theirs.
	SigningAlgorithm string
	// KeyEncryptionKeyFile names the file holding the key-encryption key
	// that seals the issuer's private keys in the database (AES-256-GCM).
	// Empty stores new keys clear. A database whose keys are sealed is not
	// served without it.
	KeyEncryptionKeyFile string
	// KeyPollInterval is how often the issuer reads its keys from the
	// store, to learn of rotations and retirements; zero means
	// authserver.DefaultKeyPollInterval.
	KeyPollInterval time.Duration
	// RefreshReuseInterval is how long a rotated refresh token may be
	// presented again by its client without revoking its grant; zero means
	// none (DefaultConfig sets authserver's default).
	RefreshReuseInterval time.Duration
	// AuditRetention bounds how long audit events are kept; zero keeps
	// them forever (DefaultConfig sets DefaultAuditRetention).
	AuditRetention time.Duration
	// AllowedOrigins are extra browser origins allowed to call /mcp.
	AllowedOrigins []string
	// IntrospectionClients are the ids of the embedded issuer's
	// confidential clients (resource servers) that /oauth2/introspect
	// tells about any token; every other client learns only about its own
	// tokens. Embedded mode only.
	IntrospectionClients []string
	// RateLimits bounds callers; nil means none (DefaultConfig sets
	// mcpserver.DefaultRateLimits).
	RateLimits *mcpserver.RateLimits
	// MaxConnections bounds the connections held open at once (positive);
	// MaxConnectionsPerAddress those of one client address (zero: no
	// limit). See internal/connlimit.
	MaxConnections           int
	MaxConnectionsPerAddress int
	// TLSCertFile and TLSKeyFile, both or neither, serve HTTPS with that
	// certificate, reloaded when the files change.
	TLSCertFile, TLSKeyFile string
	// PasswordCost is the bcrypt cost of passwords set by the server (demo
	// users) and of its timing-equalising dummy hash; zero means
	// authserver.DefaultPasswordCost. Tests lower it.
	PasswordCost int
	// CIMDAllowPrivate lets Client ID Metadata Documents live on private and
	// loopback addresses (development only).
	CIMDAllowPrivate bool
	// PolicyFile is the access policy (Cedar); empty means the built-in
	// policy. It is reloaded when it changes and on SIGHUP; a file that
	// does not compile is refused at start and ignored on reload.
	PolicyFile string
	// PolicyPollInterval is how often PolicyFile is checked for changes;
	// zero means policy.DefaultPollInterval.
	PolicyPollInterval time.Duration
	// Issuers, when any, switch OrgScope to external-issuer mode: it issues
	// nothing, its PRM points at these issuers, and it accepts their tokens.
	Issuers []auth.Issuer
	// JWKSRefresh and JWKSCooldown tune external issuers' key sets: how
	// long fetched keys are used, and the least time between refetches
	// caused by unknown key ids. Both positive.
	JWKSRefresh, JWKSCooldown time.Duration
	// LogLevel (debug, info, warn, error) and LogFormat (text, json)
	// configure the log written to Stderr.
	LogLevel  string
	LogFormat string
	// Stdout receives the banner and the demo credentials; Stderr the log.
	// Nil discards.
	Stdout, Stderr io.Writer
	// Logger, when set, is used instead of one built from LogLevel/LogFormat.
	Logger *slog.Logger
	// Version is reported to clients.
	Version string
	// Now is the server's clock — of its store, issuer, service and token
	// verification; nil means time.Now. Tests set it to move time on.
	Now func() time.Time
}

// MaxTokenTTL is the longest access-token lifetime accepted without
// AllowLongTokenTTL. An access token cannot be called back: whoever holds a
// leaked one can use it until it expires. Interactive tokens die with their
// grant because the resource server checks the grant on every call, but
// client-credentials tokens are checked only for signature and expiry, so
// their lifetime is the window of a leak.
const MaxTokenTTL = 24 * time.Hour

// DemoMode says when Run seeds demo tenants into an empty database.
type DemoMode int

const (
	// DemoAuto seeds only when the public URL is loopback (127.0.0.1, ::1,
	// localhost): a laptop gets a working demo, a deployment does not get a
	// global admin client whose secret lands in its logs.
	DemoAuto DemoMode = iota
	// DemoOn seeds whatever the public URL, with a warning when it is not
	// loopback.
	DemoOn
	// DemoOff never seeds.
	DemoOff
)

func (m DemoMode) String() string {
	switch m {
	case DemoAuto:
		return "auto"
	case DemoOn:
		return "true"
	case DemoOff:
		return "false"
	}
	return fmt.Sprintf("DemoMode(%d)", int(m))
}

// The store timeout: its default (the backends' own) and the bounds
// --store-timeout accepts. Below the minimum, an ordinary statement on a
// busy database would fail; above the maximum, a database that stopped
// answering would hold requests close to the HTTP server's write timeout
// (60 s), and a request makes several calls.
const (
	DefaultStoreTimeout = sqlite.DefaultQueryTimeout
	MinStoreTimeout     = 100 * time.Millisecond
	MaxStoreTimeout     = 30 * time.Second
)

// DefaultAuditRetention is how long audit events are kept by default:
// thirteen months and a bit, so a yearly review finds last year's events.
const DefaultAuditRetention = 400 * 24 * time.Hour

// DefaultConfig returns the defaults of `orgscope serve`.
func DefaultConfig() Config {
	rl := mcpserver.DefaultRateLimits
	return Config{
		Addr:                     "127.0.0.1:8080",
		DBPath:                   "orgscope.db",
		Demo:                     DemoAuto,
		TokenTTL:                 authserver.DefaultTokenTTL,
		SigningAlgorithm:         authserver.DefaultSigningAlgorithm,
		AuditRetention:           DefaultAuditRetention,
		StoreTimeout:             DefaultStoreTimeout,
		RefreshReuseInterval:     authserver.DefaultRefreshReuseInterval,
		MaxConnections:           connlimit.DefaultTotal,
		MaxConnectionsPerAddress: connlimit.DefaultPerAddress,
		JWKSRefresh:              auth.DefaultKeyRefresh,
		JWKSCooldown:             auth.DefaultRefetchCooldown,
		LogLevel:                 "info",
		LogFormat:                "text",
		Version:                  buildinfo.Read().Version,
		RateLimits:               &rl,
	}
}

// publicURLFor derives the public URL from the address actually listened
// on. A wildcard address becomes 127.0.0.1: a URL must name one host, and
// anyone reaching the server from elsewhere has to say which with
// --public-url.
func publicURLFor(addr net.Addr, tls bool) string {
	scheme := "http://"
	if tls {
		scheme = "https://"
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return scheme + net.JoinHostPort(host, port)
}

// isLoopbackURL reports whether u names this machine only: localhost, or
// a loopback address.
func isLoopbackURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	host := p.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	var level slog.Level
	level.UnmarshalText([]byte(c.LogLevel)) // validate has checked it
	w := c.Stderr
	if w == nil {
		w = io.Discard
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(c.LogFormat, "json") {
		return slog.New(logHandler(slog.NewJSONHandler(w, opts)))
	}
	return slog.New(logHandler(slog.NewTextHandler(w, opts)))
}

// issuerFlags are the serve flags that describe external issuers.
type issuerFlags struct {
	urls                     stringList
	configFile               string
	audience, tenantClaim    string
	scopeClaims              stringList
	allowGlobal, requireType bool
}

// issuers builds the issuer list from --issuer and its shared settings,
// plus any --issuers-config file ({"issuers": [ … auth.Issuer … ]}).
func (f issuerFlags) issuers() ([]auth.Issuer, error) {
	var out []auth.Issuer
	for _, u := range f.urls {
		out = append(out, auth.Issuer{URL: u, Audience: f.audience, TenantClaim: f.tenantClaim,
			ScopeClaims: f.scopeClaims, AllowGlobal: f.allowGlobal, RequireATJWT: f.requireType})
	}
	if f.configFile == "" {
		return out, nil
	}
	ref := flagRef("issuers-config")
	b, err := os.ReadFile(f.configFile)
	if err != nil {
		return nil, usageErrorf("%s: %w", ref, err)
	}
	var file struct {
		Issuers []auth.Issuer `json:"issuers"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		return nil, usageErrorf("%s %s: %w", ref, f.configFile, err)
	}
	if len(file.Issuers) == 0 {
		return nil, usageErrorf("%s %s lists no issuers", ref, f.configFile)
	}
	return append(out, file.Issuers...), nil
}
