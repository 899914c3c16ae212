package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// A Verifier turns a bearer token into a Principal. It returns an error
// wrapping ErrInvalidToken (usually a *TokenError) for a token it refuses,
// and one wrapping ErrUnavailable when it cannot decide right now.
type Verifier interface {
	Verify(ctx context.Context, token string) (*Principal, error)
}

// DefaultAlgorithms is the allow-list of JWS algorithms a JWTVerifier
// accepts when none are configured: asymmetric ones only.
var DefaultAlgorithms = []string{
	oidc.RS256, oidc.RS384, oidc.RS512,
	oidc.PS256, oidc.PS384, oidc.PS512,
	oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.EdDSA,
}

// DefaultClockSkew is how far past exp, and how far before nbf and iat, a
// token is still accepted when JWTOptions.ClockSkew is zero.
const DefaultClockSkew = 30 * time.Second

// JWTOptions configures a JWTVerifier.
type JWTOptions struct {
	// Issuer is the exact iss the tokens must carry. Required.
	Issuer string
	// Audience is what aud must contain. Required: there is no way to skip
	// the check. It is an absolute URI: this server's canonical resource
	// URI, or another http(s) URI, compared under ResourceMatches; or a URI
	// of another scheme (Entra ID's api://APP_ID, a urn:), compared byte for
	// byte. With PlainAudience it may also be a plain string.
	Audience string
	// PlainAudience accepts an Audience that is not a URI — a client id,
	// which some issuers put in aud (Entra ID v2 tokens carry the app's
	// client id) — compared byte for byte. External issuers set it.
	PlainAudience bool
	// KeySet verifies signatures and chooses the key, which pins the
	// algorithm: a LiveKeySet for the embedded issuer (its keys rotate), a
	// RemoteKeySet for an external one, a StaticKeySet for fixed keys.
	// Required.
	KeySet oidc.KeySet
	// Algorithms restricts the accepted JWS algorithms. Nil means
	// DefaultAlgorithms. Symmetric algorithms and "none" are refused even if
	// listed.
	Algorithms []string
	// ClockSkew tolerates clocks that disagree: tokens are accepted until
	// exp+ClockSkew, from nbf-ClockSkew, and with an iat no later than
	// now+ClockSkew. Zero means DefaultClockSkew; negative means none.
	ClockSkew time.Duration
	// AllowAnyType accepts tokens whose JOSE typ is not "at+jwt" (some
	// issuers send "JWT"). False, the default, enforces RFC 9068 §4, which
	// also keeps ID tokens from being used as access tokens.
	AllowAnyType bool
	// RequireClaims names claims every token must carry as non-empty
	// strings. The embedded issuer always sets jti, sub and client_id, so a
	// token of it without one is not its token; nil requires none (Kinde's
	// M2M tokens have no sub).
	RequireClaims []string
	// Claims maps the issuer's claim shapes; the zero value reads OrgScope's.
	Claims ClaimMapping
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// JWTVerifier verifies JWT access tokens with go-oidc and adds what go-oidc
// leaves out for access tokens: the typ check, the RFC 8707 audience rule,
// numeric dates that are JSON numbers, one clock skew for exp, nbf and iat
// (go-oidc allows nbf five minutes early and ignores iat), required claims,
// and the mapping of claims to a Principal.
type JWTVerifier struct {
	opts     JWTOptions
	verifier *oidc.IDTokenVerifier
}

// NewJWTVerifier checks opts and returns a verifier.
func NewJWTVerifier(opts JWTOptions) (*JWTVerifier, error) {
	if opts.Issuer == "" || opts.Audience == "" || opts.KeySet == nil {
		return nil, errors.New("auth: JWTOptions needs Issuer, Audience and KeySet")
	}
	if err := checkAudience(opts.Audience, opts.PlainAudience); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	for _, c := range opts.RequireClaims {
		if c == "" {
			return nil, errors.New("auth: RequireClaims names an empty claim")
		}
	}
	algs, err := allowedAlgorithms(opts.Algorithms)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	opts.Algorithms = algs
	switch {
	case opts.ClockSkew == 0:
		opts.ClockSkew = DefaultClockSkew
	case opts.ClockSkew < 0:
		opts.ClockSkew = 0
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	skew, now := opts.ClockSkew, opts.Now
	v := oidc.NewVerifier(opts.Issuer, opts.KeySet, &oidc.Config{
		// The audience is checked by ResourceMatches, which normalises
		// what go-oidc's exact ClientID comparison does not.
		SkipClientIDCheck:    true,
		SupportedSigningAlgs: opts.Algorithms,
		// go-oidc has no skew option for exp (it declined one); shifting
		// its clock back by the skew is the documented way to get one.
		Now: func() time.Time { return now().Add(-skew) },
	})
	return &JWTVerifier{opts: opts, verifier: v}, nil
}

// allowedAlgorithms checks a configured allow-list: nil means
// DefaultAlgorithms; anything outside it (HMAC, none) is an error.
func allowedAlgorithms(configured []string) ([]string, error) {
	if configured == nil {
		return DefaultAlgorithms, nil
	}
	for _, a := range configured {
		if !slices.Contains(DefaultAlgorithms, a) {
			return nil, fmt.Errorf("algorithm %q is not allowed (only asymmetric algorithms are)", a)
		}
	}
	return configured, nil
}

// joseHeader is the part of the protected header read before go-oidc runs.
type joseHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
	Kid string `json:"kid"`
}

// Verify implements Verifier.
func (v *JWTVerifier) Verify(ctx context.Context, token string) (*Principal, error) {
	// go-oidc does not look at typ, so read the protected header here. It is
	// covered by the signature checked below, so refusing on it early is safe.
	hdr, err := parseHeader(token)
	if err != nil {
		return nil, invalid(reasonMalformed, err)
	}
	if !slices.Contains(v.opts.Algorithms, hdr.Alg) {
		return nil, invalid(reasonAlgorithm, fmt.Errorf("alg %q", hdr.Alg))
	}
	if !v.opts.AllowAnyType && !isAccessTokenType(hdr.Typ) {
		return nil, invalid(reasonType, fmt.Errorf("typ %q", hdr.Typ))
	}

	idt, err := v.verifier.Verify(ctx, token)
	if err != nil {
		return nil, classify(err)
	}
	if !ResourceMatches(idt.Audience, v.opts.Audience) {
		return nil, invalid(reasonAudience, fmt.Errorf("aud %q, want %q", idt.Audience, v.opts.Audience))
	}
	var claims map[string]json.RawMessage
	if err := idt.Claims(&claims); err != nil {
		return nil, invalid(reasonMalformed, err)
	}
	if err := checkTimes(claims, v.opts.Now(), v.opts.ClockSkew); err != nil {
		return nil, err
	}
	for _, c := range v.opts.RequireClaims {
		if stringClaim(claims, c) == "" {
			return nil, invalid(reasonMissingClaim+c, nil)
		}
	}
	p, err := v.opts.Claims.Principal(claims)
	if err != nil {
		return nil, err
	}
	p.KeyID = hdr.Kid
	return p, nil
}

// checkTimes holds the numeric dates to RFC 7519 §2 — JSON numbers, not
// strings that look like them — and applies the clock skew to nbf and iat
// (go-oidc checked exp with it already, and nbf with its own five minutes).
// A token issued in the future means a wrong clock or a forged iat; either
// way it is refused.
func checkTimes(claims map[string]json.RawMessage, now time.Time, skew time.Duration) error {
	latest := float64(now.Add(skew).UnixNano()) / 1e9
	for _, name := range []string{"exp", "nbf", "iat"} {
		raw, ok := claims[name]
		if !ok {
			continue
		}
		var secs float64 // a JSON string or null does not decode into it
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) || json.Unmarshal(raw, &secs) != nil {
			return invalid(reasonNumericDate, fmt.Errorf("%s is %.20s", name, raw))
		}
		switch {
		case name == "nbf" && secs > latest:
			return invalid(reasonNotYetValid, fmt.Errorf("nbf %v is after now+skew %v", secs, latest))
		case name == "iat" && secs > latest:
			return invalid(reasonIssuedInFuture, fmt.Errorf("iat %v is after now+skew %v", secs, latest))
		}
	}
	return nil
}

// isAccessTokenType accepts "at+jwt" and its media-type form, compared
// case-insensitively (RFC 9068 §2.1, RFC 7515 §4.1.9).
func isAccessTokenType(typ string) bool {
	typ = strings.ToLower(typ)
	return typ == "at+jwt" || typ == "application/at+jwt"
}

func parseHeader(token string) (joseHeader, error) {
	var h joseHeader
	seg, _, ok := strings.Cut(token, ".")
	if !ok || strings.Count(token, ".") != 2 {
		return h, errors.New("not a compact JWS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return h, fmt.Errorf("header: %w", err)
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return h, fmt.Errorf("header: %w", err)
	}
	return h, nil
}

// classify maps a go-oidc error to a refusal. go-oidc wraps with %v, so
// apart from TokenExpiredError only the message tells the cases apart; the
// message is kept as the logged detail either way.
func classify(err error) error {
	if errors.Is(err, ErrUnavailable) {
		return err
	}
	var expired *oidc.TokenExpiredError
	if errors.As(err, &expired) {
		return invalid(reasonExpired, err)
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, ErrUnavailable.Error()):
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	case strings.Contains(msg, "issued by a different provider"):
		return invalid(reasonIssuer, err)
	case strings.Contains(msg, "nbf"):
		return invalid(reasonNotYetValid, err)
	case strings.Contains(msg, errKeyAlgorithm.Error()):
		return invalid(reasonAlgorithm, err)
	case strings.Contains(msg, "signature"):
		return invalid(reasonSignature, err)
	}
	return invalid(reasonMalformed, err)
}
