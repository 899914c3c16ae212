package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authserver"
	"github.com/orgscope/orgscope/mcpserver"
)

// Config is everything Run needs. The zero value of each field is
// documented; DefaultConfig returns the command's defaults.
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
	// a request that needs it is answered 503. Zero means the backends'
	// default (5 s).
	StoreTimeout time.Duration
	// Demo seeds demo tenants into an empty database.
	Demo bool
	// TokenTTL is the lifetime of access tokens the embedded issuer signs.
	TokenTTL time.Duration
	// AllowedOrigins are extra browser origins allowed to call /mcp.
	AllowedOrigins []string
	// RateLimits bounds callers; nil means none (DefaultConfig sets
	// mcpserver.DefaultRateLimits).
	RateLimits *mcpserver.RateLimits
	// PasswordCost is the bcrypt cost of passwords set by the server (demo
	// users) and of its timing-equalising dummy hash; zero means
	// authserver.DefaultPasswordCost. Tests lower it.
	PasswordCost int
	// CIMDAllowPrivate lets Client ID Metadata Documents live on private and
	// loopback addresses (development only).
	CIMDAllowPrivate bool
	// Issuers, when any, switch OrgScope to external-issuer mode: it issues
	// nothing, its PRM points at these issuers, and it accepts their tokens.
	Issuers []auth.Issuer
	// JWKSRefresh and JWKSCooldown tune external issuers' key sets: how
	// long fetched keys are used, and the least time between refetches
	// caused by unknown key ids. Zero means auth's defaults.
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
}

// DefaultConfig returns the defaults of `orgscope serve`.
func DefaultConfig() Config {
	return Config{
		Addr:      "127.0.0.1:8080",
		DBPath:    "orgscope.db",
		Demo:      true,
		TokenTTL:  authserver.DefaultTokenTTL,
		LogLevel:  "info",
		LogFormat: "text",
		Version:   version,
		RateLimits: func() *mcpserver.RateLimits {
			rl := mcpserver.DefaultRateLimits
			return &rl
		}(),
	}
}

// version is set at build time with -ldflags "-X …app.version=v1.2.3".
var version = "dev"

// publicURLFor derives the public URL from the address actually listened
// on. A wildcard address becomes 127.0.0.1: a URL must name one host, and
// anyone reaching the server from elsewhere has to say which with
// --public-url.
func publicURLFor(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func (c Config) logger() (*slog.Logger, error) {
	if c.Logger != nil {
		return c.Logger, nil
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", c.LogLevel)
	}
	w := c.Stderr
	if w == nil {
		w = io.Discard
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(c.LogFormat) {
	case "text", "":
		return slog.New(logHandler(slog.NewTextHandler(w, opts))), nil
	case "json":
		return slog.New(logHandler(slog.NewJSONHandler(w, opts))), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", c.LogFormat)
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
	b, err := os.ReadFile(f.configFile)
	if err != nil {
		return nil, fmt.Errorf("--issuers-config: %w", err)
	}
	var file struct {
		Issuers []auth.Issuer `json:"issuers"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		return nil, fmt.Errorf("--issuers-config %s: %w", f.configFile, err)
	}
	if len(file.Issuers) == 0 {
		return nil, fmt.Errorf("--issuers-config %s lists no issuers", f.configFile)
	}
	return append(out, file.Issuers...), nil
}
