package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/internal/request"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
)

// Paths of the console.
const (
	Path          = "/console/"
	ApprovalsPath = "/console/approvals/"
	LoginPath     = "/console/login"
	CallbackPath  = "/console/callback"
	SignOutPath   = "/console/signout"
)

// signInScope is what the console's token asks for: the least a member
// may grant. The token only proves who signed in — the console's session
// replaces it at once, and the person's authority comes from the store —
// but a token must carry a scope.
const signInScope = "read:orgs"

// flowTTL bounds a sign-in started by the console.
const flowTTL = 10 * time.Minute

// ApprovalURL is the address of approval id's page.
func ApprovalURL(publicURL, id string) string {
	return strings.TrimSuffix(publicURL, "/") + ApprovalsPath + id
}

// PolicyInfo describes the access policy in force, for the policy page.
type PolicyInfo struct {
	Name, Version      string
	LoadedAt           time.Time
	Policies           []string
	Source             []byte
	Reloads, Failures  uint64
	BuiltIn, Watchable bool
}

// Options configures New. Every field but Policy and Logger is required.
type Options struct {
	// PublicURL is the server's public base URL; Resource the MCP resource
	// URI, which the sign-in's token is for.
	PublicURL, Resource string
	// Service performs every operation, for the signed-in person.
	Service *service.Service
	// Verifier checks the token of a sign-in: the embedded issuer's
	// verifier, without the MCP endpoint's refusal of the console's tokens.
	Verifier auth.Verifier
	// Issuer is the embedded issuer's handler; the console exchanges codes
	// (and revokes the token it got) with it in process, not over the
	// network.
	Issuer http.Handler
	// Client is the console's OAuth client (Client); Clients registers it
	// again when the issuer's janitor removed it.
	Client  store.Client
	Clients ClientStore
	// Policy describes the policy in force; nil shows no policy details.
	Policy func() PolicyInfo
	// Logger receives failures; nil discards.
	Logger *slog.Logger
}

// Console serves /console/.
type Console struct {
	opts   Options
	log    *slog.Logger
	oauth  *oauth2.Config
	secure bool
	origin string
	mux    *http.ServeMux
}

// New returns the console handler.
func New(opts Options) (*Console, error) {
	if opts.Service == nil || opts.Verifier == nil || opts.Issuer == nil || opts.Clients == nil ||
		opts.Client.ID == "" || opts.Resource == "" {
		return nil, errors.New("console: Options needs Service, Verifier, Issuer, Client, Clients and Resource")
	}
	u, err := url.Parse(strings.TrimSuffix(opts.PublicURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("console: public URL %q must be an absolute http(s) URL", opts.PublicURL)
	}
	c := &Console{opts: opts, log: opts.Logger, secure: u.Scheme == "https", origin: u.Scheme + "://" + u.Host}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.oauth = &oauth2.Config{
		ClientID: opts.Client.ID,
		Endpoint: oauth2.Endpoint{
			AuthURL:   c.origin + "/oauth2/authorize",
			TokenURL:  c.origin + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInParams, // a public client sends its id alone
		},
		RedirectURL: c.origin + CallbackPath,
		Scopes:      []string{signInScope},
	}
	c.mux = c.routes()
	return c, nil
}

// ServeHTTP implements http.Handler: every answer is uncacheable, cannot be
// framed, loads nothing but the console's own stylesheet and script, and
// posts forms only to the console.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	c.mux.ServeHTTP(w, r)
}

func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin") // URLs name records; other sites learn none, and forms keep their Origin
	h.Set("Cache-Control", "no-store")
}

// Cookies: __Host- prefixed over https (only this host may set them, only
// securely, for the whole site); HttpOnly; SameSite=Lax for the session,
// which a person following a link from elsewhere (an agent's approval
// link) must bring along, Lax for the sign-in in flight.
const (
	sessionCookie = "orgscope-console"
	flowCookie    = "orgscope-console-flow"
)

func (c *Console) cookieName(base string) string {
	if c.secure {
		return "__Host-" + base
	}
	return base
}

func (c *Console) cookiePath() string {
	if c.secure {
		return "/" // __Host- cookies must be for the whole site
	}
	return Path
}

func (c *Console) setCookie(w http.ResponseWriter, base, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: c.cookieName(base), Value: value, Path: c.cookiePath(), MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode})
}

func (c *Console) cookie(r *http.Request, base string) string {
	ck, err := r.Cookie(c.cookieName(base))
	if err != nil {
		return ""
	}
	return ck.Value
}

// session is a signed-in person's request: the caller the service acts
// for, the person, and the form token of their session.
type session struct {
	caller service.Caller
	person service.ConsolePerson
	token  string
	csrf   string
}

// platform reports whether the person is a platform administrator.
func (s *session) platform() bool { return s.caller.Principal.Global() }

// home is the organization the person belongs to.
func (s *session) home() string { return s.person.User.OrgCode }

// csrfToken is the token a session's forms carry: derived from the
// session's secret, which only this browser holds (in an HttpOnly
// cookie), so another site can neither read nor guess it, and it dies
// with the session.
func csrfToken(sessionToken string) string {
	mac := hmac.New(sha256.New, []byte(sessionToken))
	mac.Write([]byte("orgscope console form"))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// signedIn returns the session of the request. Without one it has
// answered: a page asked for with GET starts a sign-in that comes back to
// it; anything else is told the session ended and that nothing changed.
func (c *Console) signedIn(w http.ResponseWriter, r *http.Request) (*session, bool) {
	token := c.cookie(r, sessionCookie)
	var rid, trace string
	if rec := request.From(r.Context()); rec != nil {
		rid, trace = rec.ID, rec.TraceID
	}
	caller, person, err := c.opts.Service.ConsoleCaller(r.Context(), token, rid, trace)
	if err == nil {
		return &session{caller: caller, person: person, token: token, csrf: csrfToken(token)}, true
	}
	var se *service.Error
	errors.As(err, &se)
	switch {
	case se != nil && se.Kind == service.KindDenied:
		c.setCookie(w, sessionCookie, "", -1)
		c.message(w, http.StatusForbidden, "Not allowed", se.Message+".")
	case se != nil && se.Kind == service.KindUnavailable:
		w.Header().Set("Retry-After", "5")
		c.message(w, http.StatusServiceUnavailable, "Try again shortly", "The database cannot be reached right now; nothing was changed.")
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		if token != "" {
			c.setCookie(w, sessionCookie, "", -1)
		}
		c.startSignIn(w, r, r.URL.RequestURI())
	default:
		why := "You are not signed in"
		if token != "" && se != nil {
			why = strings.ToUpper(se.Message[:1]) + se.Message[1:]
		}
		c.messageLink(w, http.StatusUnauthorized, "Signed out", why+"; nothing was changed. Sign in again and repeat it.",
			LoginPath, "Sign in")
	}
	return nil, false
}

// form checks a form post: from this origin, by a signed-in person, with
// their session's form token. Otherwise it has answered, and nothing is
// changed.
func (c *Console) form(w http.ResponseWriter, r *http.Request) (*session, bool) {
	if !c.sameOrigin(r) {
		c.messageLink(w, http.StatusForbidden, "Refused", "This form was sent from another site; nothing was changed. "+
			"To make this change, open the console and send the form from its page.", Path, "Go to the console")
		return nil, false
	}
	s, ok := c.signedIn(w, r)
	if !ok {
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		c.message(w, http.StatusBadRequest, "Bad request", "The form could not be read (it may be too large); nothing was changed. "+
			"Go back, shorten what you entered and send it again.")
		return nil, false
	}
	if sent := r.PostForm.Get("csrf"); subtle.ConstantTimeCompare([]byte(sent), []byte(s.csrf)) != 1 {
		c.message(w, http.StatusForbidden, "Refused", "This form did not come from a page of your session in this browser; "+
			"nothing was changed. Reload the page and try again.")
		return nil, false
	}
	return s, true
}

// maxFormBytes bounds a form (a JWKS is the largest thing one holds).
const maxFormBytes = 64 << 10

// sameOrigin refuses a form posted from another origin: the Origin header
// when the browser sends one, Sec-Fetch-Site otherwise.
func (c *Console) sameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" {
		return o == c.origin
	}
	site := r.Header.Get("Sec-Fetch-Site")
	return site == "" || site == "same-origin"
}

// flow is a sign-in in progress, kept in a cookie of the browser that
// started it: the state that must come back, the PKCE verifier, and the
// page to return to.
type flow struct {
	State    string `json:"s"`
	Verifier string `json:"v"`
	Return   string `json:"r"`
}

// login starts a sign-in at the embedded issuer.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	c.startSignIn(w, r, r.URL.Query().Get("return"))
}

func (c *Console) startSignIn(w http.ResponseWriter, r *http.Request, returnTo string) {
	if !consolePath(returnTo) || returnTo == LoginPath || strings.HasPrefix(returnTo, CallbackPath) {
		returnTo = Path
	}
	if err := EnsureClient(r.Context(), c.opts.Clients, c.opts.Client); err != nil {
		c.log.WarnContext(r.Context(), "console client not registered", "err", err)
		c.message(w, http.StatusServiceUnavailable, "Try again shortly", "The sign-in service cannot be reached right now.")
		return
	}
	f := flow{State: rand.Text(), Verifier: oauth2.GenerateVerifier(), Return: returnTo}
	b, _ := json.Marshal(f)
	c.setCookie(w, flowCookie, base64.RawURLEncoding.EncodeToString(b), int(flowTTL/time.Second))
	http.Redirect(w, r, c.oauth.AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier),
		oauth2.SetAuthURLParam("resource", c.opts.Resource)), http.StatusSeeOther)
}

// consolePath reports whether p is a path of the console (not another
// site, not another part of this one).
func consolePath(p string) bool {
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == "" && strings.HasPrefix(p, Path) && !strings.Contains(p, "..") &&
		!strings.HasPrefix(p, "//") && !strings.ContainsAny(p, "\\\r\n")
}

// callback finishes a sign-in: the state must match the browser's flow,
// the code is exchanged (in process) for an access token, the token is
// verified and at once revoked — it only proves who signed in — and the
// service opens a session for the person if they may use the console.
func (c *Console) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	raw, err := base64.RawURLEncoding.DecodeString(c.cookie(r, flowCookie))
	var f flow
	if err != nil || json.Unmarshal(raw, &f) != nil || f.State == "" {
		c.messageLink(w, http.StatusBadRequest, "Sign-in not finished",
			"This sign-in was not started here, or took too long.", LoginPath, "Sign in again")
		return
	}
	c.setCookie(w, flowCookie, "", -1)
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		c.messageLink(w, http.StatusBadRequest, "Sign-in not finished",
			"This sign-in does not match the one started in this browser.", LoginPath, "Sign in again")
		return
	}
	if e := q.Get("error"); e != "" {
		c.messageLink(w, http.StatusForbidden, "Not signed in", "The sign-in was not completed ("+e+").", LoginPath, "Sign in again")
		return
	}
	client := &http.Client{Transport: inProcess{handler: c.opts.Issuer, remoteAddr: r.RemoteAddr}, Timeout: 10 * time.Second}
	tok, err := c.oauth.Exchange(context.WithValue(ctx, oauth2.HTTPClient, client), q.Get("code"),
		oauth2.VerifierOption(f.Verifier), oauth2.SetAuthURLParam("resource", c.opts.Resource))
	if err != nil {
		c.log.InfoContext(ctx, "console sign-in refused at the token endpoint", "err", err)
		c.messageLink(w, http.StatusBadRequest, "Sign-in not finished", "The sign-in could not be completed.", LoginPath, "Sign in again")
		return
	}
	p, err := c.opts.Verifier.Verify(ctx, tok.AccessToken)
	c.revoke(ctx, client, tok.AccessToken)
	if err != nil || p.ClientID != c.opts.Client.ID || p.GrantID == "" {
		c.log.WarnContext(ctx, "console token not accepted", "err", err)
		c.message(w, http.StatusBadGateway, "Sign-in not finished", "The sign-in service gave a token this console does not accept.")
		return
	}
	caller := service.Caller{Principal: p, Via: service.ViaConsole}
	if rec := request.From(ctx); rec != nil {
		caller.RequestID, caller.TraceID = rec.ID, rec.TraceID
	}
	sess, err := c.opts.Service.StartConsoleSession(ctx, caller)
	if err != nil {
		c.fail(w, r, nil, err, "")
		return
	}
	c.setCookie(w, sessionCookie, sess.Token, int(time.Until(sess.Person.ExpiresAt)/time.Second))
	http.Redirect(w, r, f.Return, http.StatusSeeOther)
}

// revoke revokes the sign-in's token (and so its grant) at the issuer, in
// process: from here on it works nowhere, whatever becomes of it.
func (c *Console) revoke(ctx context.Context, client *http.Client, token string) {
	form := url.Values{"token": {token}, "client_id": {c.opts.Client.ID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.origin+"/oauth2/revoke", strings.NewReader(form.Encode()))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		c.log.WarnContext(ctx, "the console's sign-in token was not revoked; it expires on its own", "err", err)
	}
	if resp != nil {
		resp.Body.Close()
	}
}

// signOut ends the session.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	if err := c.opts.Service.EndConsoleSession(r.Context(), s.caller, s.person, s.token); err != nil {
		c.fail(w, r, s, err, Path)
		return
	}
	c.setCookie(w, sessionCookie, "", -1)
	c.render(w, http.StatusOK, "message", nil, view{Title: "Signed out",
		Notice: "You are signed out. Your session is ended on the server too.", Link: LoginPath, LinkText: "Sign in again"})
}

// fail answers a service error with a page that says what it means and
// what to do, and a link back to where the person came from.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, err error, back string) {
	var se *service.Error
	if !errors.As(err, &se) {
		c.log.ErrorContext(r.Context(), "console", "err", err)
		c.problem(w, r, s, http.StatusInternalServerError, "Something went wrong", "Nothing was changed; try again.", back, "Back")
		return
	}
	msg := strings.ToUpper(se.Message[:1]) + se.Message[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	switch {
	case se.Kind == service.KindNotFound || se.Reason == authz.ReasonTenant:
		// Another organization's record is not found, exactly like one
		// that does not exist.
		c.problem(w, r, s, http.StatusNotFound, "Not found", msg, back, "Back")
	case se.Kind == service.KindDenied:
		c.problem(w, r, s, http.StatusForbidden, "Not allowed", msg+" Nothing was changed.", back, "Back")
	case se.Kind == service.KindInvalid:
		c.problem(w, r, s, http.StatusBadRequest, "Please correct this", msg+" Nothing was changed.", back, "Back to the form")
	case se.Kind == service.KindConflict:
		c.problem(w, r, s, http.StatusConflict, "Already there", msg+" Nothing was changed.", back, "Back")
	case se.Kind == service.KindUnavailable:
		w.Header().Set("Retry-After", "5")
		c.problem(w, r, s, http.StatusServiceUnavailable, "Try again shortly", msg, back, "Back")
	default:
		c.problem(w, r, s, http.StatusInternalServerError, "Something went wrong", msg, back, "Back")
	}
}

// problem answers with a message page; for a signed-in person it keeps
// the header and navigation (of their own organization: never of the one
// a refused URL named).
func (c *Console) problem(w http.ResponseWriter, r *http.Request, s *session, status int, title, msg, link, linkText string) {
	if s == nil {
		c.messageLink(w, status, title, msg, link, linkText)
		return
	}
	org := ""
	if !s.platform() {
		org = s.home()
	}
	v := c.page(s, r, title, org, "", nil)
	v.Notice, v.Problem, v.Link, v.LinkText = "", msg, link, linkText
	c.render(w, status, "message", s, v)
}

func (c *Console) message(w http.ResponseWriter, status int, title, msg string) {
	c.messageLink(w, status, title, msg, "", "")
}

func (c *Console) messageLink(w http.ResponseWriter, status int, title, msg, link, linkText string) {
	c.render(w, status, "message", nil, view{Title: title, Problem: msg, Link: link, LinkText: linkText})
}
