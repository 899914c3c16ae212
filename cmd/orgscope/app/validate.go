package app

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// validate refuses a configuration Run could not honour as written. Every
// message names the flag and its environment variable; all problems are
// reported at once.
func (c Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.Listener == nil {
		if err := checkListenAddr(c.Addr); err != nil {
			bad("%s %w", flagRef("addr"), err)
		}
	}
	if c.PublicURL != "" {
		if err := checkBaseURL(c.PublicURL); err != nil {
			bad("%s %w", flagRef("public-url"), err)
		}
	}
	if err := c.checkDatabase(); err != nil {
		errs = append(errs, err)
	}
	if err := c.checkStoreTimeout(); err != nil {
		errs = append(errs, err)
	}
	if c.Demo != DemoAuto && c.Demo != DemoOn && c.Demo != DemoOff {
		bad("%s must be true, false or auto, got %v", flagRef("demo"), c.Demo)
	}

	switch {
	case c.TokenTTL <= 0:
		bad("%s must be positive, got %s", flagRef("token-ttl"), fmtDuration(c.TokenTTL))
	case c.TokenTTL > MaxTokenTTL && !c.AllowLongTokenTTL:
		bad("%s is %s, longer than %s: an access token cannot be recalled, so a leaked one works until it expires; "+
			"give %s to accept that", flagRef("token-ttl"), fmtDuration(c.TokenTTL), fmtDuration(MaxTokenTTL), flagRef("allow-long-token-ttl"))
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"jwks-refresh", c.JWKSRefresh}, {"jwks-cooldown", c.JWKSCooldown}, {"audit-retention", c.AuditRetention}} {
		if d.v <= 0 {
			bad("%s must be positive, got %s", flagRef(d.flag), fmtDuration(d.v))
		}
	}

	if len(c.Issuers) == 0 {
		if err := checkSigningAlgorithm(c.SigningAlgorithm); err != nil {
			errs = append(errs, err)
		}
		if _, err := c.keyEncryptionKey(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.RefreshReuseInterval < 0 || c.RefreshReuseInterval > 10*time.Minute {
		bad("%s must be between 0 and 10m, got %s", flagRef("refresh-reuse-interval"), fmtDuration(c.RefreshReuseInterval))
	}
	if rl := c.RateLimits; rl != nil {
		for _, r := range []struct {
			flag string
			v    float64
		}{{"rate-limit", rl.PerPrincipal}, {"org-rate-limit", rl.PerOrg}, {"signin-rate-limit", rl.PerAddress}} {
			if r.v < 0 || math.IsNaN(r.v) || math.IsInf(r.v, 0) {
				bad("%s must be a number of requests per second, 0 or more (0 disables it), got %v", flagRef(r.flag), r.v)
			}
		}
	}
	if c.MaxConnections < 1 {
		bad("%s must be at least 1, got %d", flagRef("max-connections"), c.MaxConnections)
	}
	if c.MaxConnectionsPerAddress < 0 {
		bad("%s must be 0 (no limit) or more, got %d", flagRef("max-connections-per-address"), c.MaxConnectionsPerAddress)
	}

	for _, o := range c.AllowedOrigins {
		if err := checkOrigin(o); err != nil {
			bad("%s %w", flagRef("allowed-origins"), err)
		}
	}
	for _, is := range c.Issuers {
		if err := checkIssuerURL(is.URL); err != nil {
			bad("%s %w", flagRef("issuer"), err)
		}
	}
	if len(c.IntrospectionClients) > 0 && len(c.Issuers) > 0 {
		bad("%s is for the embedded issuer's introspection endpoint; with %s OrgScope issues nothing, and its issuer introspects",
			flagRef("introspection-clients"), flagRef("issuer"))
	}
	for _, id := range c.IntrospectionClients {
		if strings.IndexFunc(id, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
			bad("%s lists %q, which is not a client id", flagRef("introspection-clients"), id)
		}
	}

	switch {
	case (c.TLSCertFile == "") != (c.TLSKeyFile == ""):
		bad("%s and %s go together: give both or neither", flagRef("tls-cert"), flagRef("tls-key"))
	case c.TLSCertFile != "":
		for _, f := range []struct{ flag, path string }{{"tls-cert", c.TLSCertFile}, {"tls-key", c.TLSKeyFile}} {
			if err := checkReadableFile(f.path); err != nil {
				bad("%s %s: %w", flagRef(f.flag), f.path, err)
			}
		}
	}

	if c.Logger == nil {
		switch strings.ToLower(c.LogLevel) {
		case "debug", "info", "warn", "error":
		default:
			bad("%s must be debug, info, warn or error, got %q", flagRef("log-level"), c.LogLevel)
		}
		switch strings.ToLower(c.LogFormat) {
		case "text", "json":
		default:
			bad("%s must be text or json, got %q", flagRef("log-format"), c.LogFormat)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &usageError{err: errors.Join(errs...), hint: `run "orgscope serve -h" for the flags`}
}

// checkDatabase checks the database flags without opening anything: a
// postgres:// URL, or a SQLite file whose directory exists (SQLite would
// otherwise fail with a message that names neither the path nor why).
func (c Config) checkDatabase() error {
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			// The URL is not repeated: it may hold a password.
			return usageErrorf("%s must be a postgres:// or postgresql:// URL", flagRef("database-url"))
		}
		return nil
	}
	if c.DBPath == "" {
		return usageErrorf("%s must name the SQLite database file (or give %s)", flagRef("db"), flagRef("database-url"))
	}
	if strings.HasPrefix(c.DBPath, "file:") {
		return nil // a SQLite URI; SQLite reads its options
	}
	// "--db /nope/x.db (ORGSCOPE_DB): directory /nope does not exist"
	ref := fmt.Sprintf("--db %s (%s)", c.DBPath, envName("db"))
	dir := filepath.Dir(c.DBPath)
	switch fi, err := os.Stat(dir); {
	case errors.Is(err, os.ErrNotExist):
		return usageErrorf("%s: directory %s does not exist", ref, dir)
	case err != nil:
		return usageErrorf("%s: %w", ref, err)
	case !fi.IsDir():
		return usageErrorf("%s: %s is not a directory", ref, dir)
	}
	if fi, err := os.Stat(c.DBPath); err == nil && fi.IsDir() {
		return usageErrorf("%s is a directory; name the database file in it", ref)
	}
	return nil
}

// checkStoreTimeout checks --store-timeout against its bounds.
func (c Config) checkStoreTimeout() error {
	if c.StoreTimeout < MinStoreTimeout || c.StoreTimeout > MaxStoreTimeout {
		return usageErrorf("%s must be from %s to %s, got %s", flagRef("store-timeout"),
			fmtDuration(MinStoreTimeout), fmtDuration(MaxStoreTimeout), fmtDuration(c.StoreTimeout))
	}
	return nil
}

// checkListenAddr accepts host:port with a numeric port (0 picks a free
// one) and an optional host.
func checkListenAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port (like 127.0.0.1:8080 or :8080), got %q", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("must have a port from 0 to 65535, got %q", addr)
	}
	if strings.ContainsAny(host, "/ ") {
		return fmt.Errorf("must be host:port, got %q", addr)
	}
	return nil
}

// checkBaseURL accepts an absolute http(s) URL with a host and nothing
// after it: the public URL is a base that paths are appended to, and the
// resource URI (its + "/mcp") must be exactly what tokens name.
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || !u.IsAbs() || u.Opaque != "":
		return fmt.Errorf("must be an absolute http:// or https:// URL, got %q", s)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("must be an http:// or https:// URL, got %q", s)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("must name a host, got %q", s)
	case u.User != nil:
		return fmt.Errorf("must not contain a user name or password, got %q", u.Redacted())
	case u.Path != "" && u.Path != "/":
		return fmt.Errorf("must not have a path (OrgScope serves /mcp and its other endpoints at the root), got %q", s)
	case u.RawQuery != "" || u.ForceQuery:
		return fmt.Errorf("must not have a query, got %q", s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return fmt.Errorf("must not have a fragment, got %q", s)
	}
	if _, port, err := net.SplitHostPort(u.Host); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("has an invalid port, got %q", s)
		}
	}
	return nil
}

// checkOrigin accepts "*" or a browser origin: scheme://host[:port].
func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	if err := checkBaseURL(o); err != nil {
		return fmt.Errorf("lists %q, which is not an origin (scheme://host[:port], or * for any)", o)
	}
	return nil
}

// checkIssuerURL accepts an absolute http(s) URL with a host; unlike the
// public URL it may have a path (Keycloak realms, Okta authorization
// servers, Entra tenants).
func checkIssuerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("must be an absolute http(s) URL without query or fragment, got %q", s)
	}
	return nil
}

// checkReadableFile: path exists, is a regular file and can be opened.
func checkReadableFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errors.New("does not exist")
		}
		return err
	}
	if fi.IsDir() {
		return errors.New("is a directory")
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return f.Close()
}
