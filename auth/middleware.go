package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	mcpauth "github.com/modelcontextprotocol/go-sdk/auth"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/orgscope/orgscope/internal/problem"
)

// MiddlewareOptions configures Middleware.
type MiddlewareOptions struct {
	// Verifier checks tokens. Required.
	Verifier Verifier
	// ResourceMetadataURL is the Protected Resource Metadata URL named in
	// every challenge (RFC 9728 §5.1). Required.
	ResourceMetadataURL string
	// Scopes returns the scopes the request's operation needs, named in
	// the challenge to a request without a token. Nil means none in
	// particular (DefaultScopes are named).
	Scopes func(r *http.Request) []string
	// DefaultScopes are named in the challenge to a request without a token
	// when its operation needs no particular scope: a minimal set a client
	// can start with and step up from.
	DefaultScopes []string
	// RetryAfter is sent with 503 answers; zero means 5 seconds.
	RetryAfter time.Duration
	// Logger receives one line per refusal, with the reason; nil discards.
	// Tokens are never logged.
	Logger *slog.Logger
}

// maxTokenLength bounds what is handed to a verifier.
const maxTokenLength = 16 << 10

// Middleware authenticates every request and owns its refusals: no token
// → 401 with resource_metadata and scope; a refused token → 401
// error="invalid_token"; verification unavailable → 503 with Retry-After.
// Each refusal carries an application/problem+json body. On success the
// principal is in the request context (PrincipalFromContext) and in the
// go-sdk's TokenInfo (PrincipalFrom(req.Extra.TokenInfo)). Whether the
// principal may do what it asks is not decided here: the caller asks its
// decision point and answers a shortfall with InsufficientScope.
func Middleware(opts MiddlewareOptions) func(http.Handler) http.Handler {
	if opts.Verifier == nil || opts.ResourceMetadataURL == "" {
		panic("auth.Middleware: Verifier and ResourceMetadataURL are required")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	retryAfter := opts.RetryAfter
	if retryAfter <= 0 {
		retryAfter = 5 * time.Second
	}
	scopes := opts.Scopes
	if scopes == nil {
		scopes = func(*http.Request) []string { return nil }
	}

	return func(next http.Handler) http.Handler {
		// The go-sdk can only learn a TokenInfo through its own middleware
		// (its context key is unexported), so it runs behind ours with a
		// verifier that hands over the principal we already checked.
		inner := mcpauth.RequireBearerToken(handOver, &mcpauth.RequireBearerTokenOptions{
			ResourceMetadataURL: opts.ResourceMetadataURL,
			// Expiry (with its skew) was enforced by our verifier a moment
			// ago; the SDK's own check must not contradict it.
			ClockSkew:              5 * time.Minute,
			AllowMissingExpiration: true,
		})(next)

		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			token, err := bearerToken(r)
			if err != nil {
				logger.InfoContext(ctx, "request refused", "status", http.StatusBadRequest, "reason", err.Error())
				challenge(w, http.StatusBadRequest, opts.ResourceMetadataURL, "invalid_request", err.Error(), nil)
				return
			}
			if token == "" {
				needed := scopes(r)
				if len(needed) == 0 {
					needed = opts.DefaultScopes
				}
				challenge(w, http.StatusUnauthorized, opts.ResourceMetadataURL, "",
					"This endpoint needs an OAuth 2.1 access token in the Authorization header (Bearer). "+
						"The resource_metadata URL in WWW-Authenticate says where to get one.", needed)
				return
			}

			p, err := verify(ctx, opts.Verifier, token)
			if err != nil {
				var te *TokenError
				switch {
				case errors.As(err, &te):
					logger.InfoContext(ctx, "token refused", "reason", te.Description, "detail", errDetail(te))
					challenge(w, http.StatusUnauthorized, opts.ResourceMetadataURL, "invalid_token", te.Description, nil)
				case errors.Is(err, ErrInvalidToken):
					logger.InfoContext(ctx, "token refused", "err", err)
					challenge(w, http.StatusUnauthorized, opts.ResourceMetadataURL, "invalid_token", reasonMalformed, nil)
				default:
					// Not the token's fault: a key set or introspection
					// endpoint is down. Never a 500, never a 401.
					logger.WarnContext(ctx, "token verification unavailable", "err", err)
					w.Header().Set("Retry-After", retryAfterSeconds(retryAfter))
					problem.Error(w, http.StatusServiceUnavailable,
						"The access token cannot be verified right now; retry shortly.")
				}
				return
			}

			inner.ServeHTTP(w, r.WithContext(WithPrincipal(ctx, p)))
		})
	}
}

// verify runs the verifier, in a child span when the request is traced: its
// outcome (ok, invalid, unavailable) and, for a principal, who it is.
func verify(ctx context.Context, v Verifier, token string) (*Principal, error) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return v.Verify(ctx, token)
	}
	ctx, span := parent.TracerProvider().Tracer(tracerName).Start(ctx, "verify access token", trace.WithSpanKind(trace.SpanKindInternal))
	defer span.End()
	p, err := v.Verify(ctx, token)
	switch {
	case err == nil:
		span.SetAttributes(attribute.String("orgscope.client_id", p.ClientID), attribute.String("orgscope.org_code", p.OrgCode),
			attribute.String("orgscope.token.issuer", p.Issuer))
	case errors.Is(err, ErrInvalidToken):
		span.SetAttributes(attribute.String("error.type", "invalid_token"))
		span.SetStatus(codes.Error, "invalid_token")
	default:
		span.SetAttributes(attribute.String("error.type", "unavailable"))
		span.SetStatus(codes.Error, "unavailable")
	}
	return p, err
}

// tracerName names the spans this package starts.
const tracerName = "github.com/orgscope/orgscope/auth"

func errDetail(te *TokenError) string {
	if te.Err == nil {
		return ""
	}
	return te.Err.Error()
}

// handOver is the go-sdk TokenVerifier behind Middleware: the token was
// verified already, so it returns the principal from the context.
func handOver(ctx context.Context, _ string, _ *http.Request) (*mcpauth.TokenInfo, error) {
	p := PrincipalFromContext(ctx)
	if p == nil {
		return nil, ErrNoPrincipal
	}
	return p.TokenInfo(), nil
}

// bearerToken extracts the RFC 6750 §2.1 bearer token. It returns "" when
// there is none, and an error for a request that is malformed rather than
// unauthenticated (a token in the query string, a broken header).
func bearerToken(r *http.Request) (string, error) {
	if r.URL.Query().Has("access_token") {
		return "", errors.New("send the access token in the Authorization header, not in the query string")
	}
	h := r.Header.Values("Authorization")
	if len(h) == 0 {
		return "", nil
	}
	if len(h) > 1 {
		return "", errors.New("more than one Authorization header")
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(h[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", nil // another scheme: as good as no token, so challenge
	}
	token = strings.TrimSpace(token)
	if token == "" || len(token) > maxTokenLength || !isB64Token(token) {
		return "", errors.New("the Authorization header does not hold a well-formed bearer token")
	}
	return token, nil
}

// isB64Token checks the RFC 6750 b64token syntax.
func isB64Token(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		case c == '=':
			if strings.Trim(s[i:], "=") != "" {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// InsufficientScope answers 403 with error="insufficient_scope" and a
// scope parameter naming scopes (RFC 6750 §3.1): the client asks its user
// for them and retries.
func InsufficientScope(w http.ResponseWriter, metadataURL string, scopes []string, description string) {
	challenge(w, http.StatusForbidden, metadataURL, "insufficient_scope", description, scopes)
}

// challenge writes a 4xx with an RFC 6750 WWW-Authenticate header and a
// problem+json body carrying the same error code and description.
func challenge(w http.ResponseWriter, status int, metadataURL, code, description string, scopes []string) {
	params := []string{}
	if code != "" {
		params = append(params, param("error", code))
		params = append(params, param("error_description", description))
	}
	if len(scopes) > 0 {
		params = append(params, param("scope", strings.Join(scopes, " ")))
	}
	params = append(params, param("resource_metadata", metadataURL))
	w.Header().Set("WWW-Authenticate", "Bearer "+strings.Join(params, ", "))

	extra := map[string]any{"resource_metadata": metadataURL}
	if code != "" {
		extra["error"] = code
	}
	if len(scopes) > 0 {
		extra["scope"] = strings.Join(scopes, " ")
	}
	problem.Write(w, problem.Details{Status: status, Detail: description, Extra: extra})
}

// param formats an auth-param as a quoted-string (RFC 9110 §5.6.4).
func param(name, value string) string {
	value = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(value)
	return name + `="` + value + `"`
}

func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(d.Round(time.Second)/time.Second)))
}
