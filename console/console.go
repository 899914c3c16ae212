package console

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/internal/credential"
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
)

// ClientName is the name of the console's OAuth client, shown on the
// issuer's sign-in and consent pages.
const ClientName = "OrgScope approvals"

// signInScope is what the console's token asks for: the least a member
// may grant. The console needs no scope at all — the service checks the
// person's role in the store — but a token must carry one.
const signInScope = "read:orgs"

// flowTTL bounds a sign-in started by the console.
const flowTTL = 10 * time.Minute

//go:embed web
var web embed.FS

var pages = template.Must(template.ParseFS(web, "web/layout.html", "web/approval.html"))

var (
	messagePage = template.Must(template.ParseFS(web, "web/layout.html", "web/message.html"))
	indexPage   = template.Must(template.ParseFS(web, "web/layout.html", "web/index.html"))
)

// ApprovalURL is the address of approval id's page.
func ApprovalURL(publicURL, id string) string {
	return strings.TrimSuffix(publicURL, "/") + ApprovalsPath + id
}

// Client returns the console's OAuth client of the embedded issuer and its
// secret, derived from seed: replicas given the same seed (the issuer's
// signing key, which they share) derive the same client, so a sign-in may
// start on one and finish on another. The id changes with the secret and
// the public URL, so a new seed or address registers a new client, and the
// issuer's janitor removes the old one once it is unused.
func Client(publicURL string, seed []byte) (store.Client, string) {
	publicURL = strings.TrimSuffix(publicURL, "/")
	mac := hmac.New(sha256.New, seed)
	mac.Write([]byte("orgscope console client secret\x00" + publicURL))
	secret := hex.EncodeToString(mac.Sum(nil))
	sum := sha256.Sum256([]byte(secret))
	return store.Client{
		ID:                      "orgscope-console-" + hex.EncodeToString(sum[:8]),
		Name:                    ClientName,
		Kind:                    store.ClientRegistered,
		Secrets:                 []store.ClientSecret{{Hash: credential.HashSecret(secret)}},
		RedirectURIs:            []string{publicURL + CallbackPath},
		GrantTypes:              []string{"authorization_code"},
		TokenEndpointAuthMethod: "client_secret_basic",
	}, secret
}

// ClientStore is what the console needs of the store: its client.
type ClientStore interface {
	GetClient(ctx context.Context, id string) (store.Client, error)
	CreateClient(ctx context.Context, c store.Client) (store.Client, error)
}

// EnsureClient registers c unless it exists.
func EnsureClient(ctx context.Context, cs ClientStore, c store.Client) error {
	_, err := cs.GetClient(ctx, c.ID)
	if errors.Is(err, store.ErrNotFound) {
		_, err = cs.CreateClient(ctx, c)
		if errors.Is(err, store.ErrConflict) { // another replica was first
			err = nil
		}
	}
	return err
}

// Options configures New. Every field but Logger is required.
type Options struct {
	// PublicURL is the server's public base URL; Resource the MCP resource
	// URI, which the console's tokens are for.
	PublicURL, Resource string
	// Service looks up and decides approvals.
	Service *service.Service
	// Verifier checks the console's access tokens: the resource server's.
	Verifier auth.Verifier
	// Issuer is the embedded issuer's handler; the console exchanges codes
	// with it in process, not over the network.
	Issuer http.Handler
	// Client and ClientSecret are the console's OAuth client (Client);
	// Clients registers it again when the issuer's janitor removed it.
	Client       store.Client
	ClientSecret string
	Clients      ClientStore
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
		opts.Client.ID == "" || opts.ClientSecret == "" || opts.Resource == "" {
		return nil, errors.New("console: Options needs Service, Verifier, Issuer, Clients, Client, ClientSecret and Resource")
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
		ClientID:     opts.Client.ID,
		ClientSecret: opts.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   c.origin + "/oauth2/authorize",
			TokenURL:  c.origin + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		RedirectURL: c.origin + CallbackPath,
		Scopes:      []string{signInScope},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /console/{$}", c.index)
	mux.HandleFunc("GET /console/style.css", c.stylesheet)
	mux.HandleFunc("GET "+LoginPath, c.login)
	mux.HandleFunc("GET "+CallbackPath, c.callback)
	mux.HandleFunc("GET "+ApprovalsPath+"{id}", c.showApproval)
	mux.HandleFunc("POST "+ApprovalsPath+"{id}", c.decideApproval)
	mux.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		c.message(w, http.StatusNotFound, "Not found", "There is no such page.")
	})
	c.mux = mux
	return c, nil
}

// ServeHTTP implements http.Handler: every answer is uncacheable, cannot be
// framed, loads nothing but the console's stylesheet, and posts forms only
// to the console.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin") // the URLs name approvals; other sites learn none, and forms keep their Origin
	h.Set("Cache-Control", "no-store")
	c.mux.ServeHTTP(w, r)
}

func (c *Console) index(w http.ResponseWriter, r *http.Request) {
	c.render(w, http.StatusOK, indexPage, map[string]any{"Title": "Console"})
}

func (c *Console) stylesheet(w http.ResponseWriter, r *http.Request) {
	css, _ := web.ReadFile("web/style.css")
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(css)
}

// cookie names: __Host- prefixed over https (only this host may set them,
// and only securely, for the whole site).
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

func (c *Console) setCookie(w http.ResponseWriter, base, value string, maxAge int, sameSite http.SameSite) {
	http.SetCookie(w, &http.Cookie{Name: c.cookieName(base), Value: value, Path: c.cookiePath(), MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure, SameSite: sameSite})
}

func (c *Console) cookie(r *http.Request, base string) string {
	ck, err := r.Cookie(c.cookieName(base))
	if err != nil {
		return ""
	}
	return ck.Value
}

const (
	sessionCookie = "orgscope-console"
	flowCookie    = "orgscope-console-flow"
	csrfCookie    = "orgscope-console-csrf"
)

// session returns the signed-in person: the console's own access token,
// verified as the resource server verifies any (signature, audience,
// expiry, and that its grant still stands), issued to the console's client
// for a person.
func (c *Console) session(r *http.Request) (*auth.Principal, bool) {
	token := c.cookie(r, sessionCookie)
	if token == "" {
		return nil, false
	}
	p, err := c.opts.Verifier.Verify(r.Context(), token)
	if err != nil || p.ClientID != c.opts.Client.ID || p.GrantID == "" {
		return nil, false
	}
	return p, true
}

func (c *Console) caller(ctx context.Context, p *auth.Principal) service.Caller {
	caller := service.Caller{Principal: p, Via: service.ViaConsole}
	if rec := request.From(ctx); rec != nil {
		caller.RequestID, caller.TraceID = rec.ID, rec.TraceID
	}
	return caller
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
	if !consolePath(returnTo) {
		returnTo = Path
	}
	if err := EnsureClient(r.Context(), c.opts.Clients, c.opts.Client); err != nil {
		c.log.WarnContext(r.Context(), "console client not registered", "err", err)
		c.message(w, http.StatusServiceUnavailable, "Try again shortly", "The sign-in service cannot be reached right now.")
		return
	}
	f := flow{State: rand.Text(), Verifier: oauth2.GenerateVerifier(), Return: returnTo}
	b, _ := json.Marshal(f)
	c.setCookie(w, flowCookie, base64.RawURLEncoding.EncodeToString(b), int(flowTTL/time.Second), http.SameSiteLaxMode)
	http.Redirect(w, r, c.oauth.AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier),
		oauth2.SetAuthURLParam("resource", c.opts.Resource)), http.StatusSeeOther)
}

// consolePath reports whether p is a path of the console (not another
// site, not another part of this one).
func consolePath(p string) bool {
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == "" && strings.HasPrefix(p, Path) && !strings.Contains(p, "..") &&
		!strings.HasPrefix(p, "//")
}

// callback finishes a sign-in: the state must match the browser's flow,
// the code is exchanged (in process) for an access token, and the token
// becomes the session.
func (c *Console) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	raw, err := base64.RawURLEncoding.DecodeString(c.cookie(r, flowCookie))
	var f flow
	if err != nil || json.Unmarshal(raw, &f) != nil || f.State == "" {
		c.message(w, http.StatusBadRequest, "Sign-in not finished", "This sign-in was not started here, or took too long. Open the approval link again.")
		return
	}
	c.setCookie(w, flowCookie, "", -1, http.SameSiteLaxMode)
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		c.message(w, http.StatusBadRequest, "Sign-in not finished", "This sign-in does not match the one started in this browser. Open the approval link again.")
		return
	}
	if e := q.Get("error"); e != "" {
		c.message(w, http.StatusForbidden, "Not signed in", "The sign-in was not completed ("+e+"). Open the approval link again to retry.")
		return
	}
	exchangeCtx := context.WithValue(ctx, oauth2.HTTPClient, &http.Client{
		Transport: inProcess{handler: c.opts.Issuer, remoteAddr: r.RemoteAddr}, Timeout: 10 * time.Second,
	})
	tok, err := c.oauth.Exchange(exchangeCtx, q.Get("code"), oauth2.VerifierOption(f.Verifier),
		oauth2.SetAuthURLParam("resource", c.opts.Resource))
	if err != nil {
		c.log.InfoContext(ctx, "console sign-in refused at the token endpoint", "err", err)
		c.message(w, http.StatusBadRequest, "Sign-in not finished", "The sign-in could not be completed. Open the approval link again.")
		return
	}
	p, err := c.opts.Verifier.Verify(ctx, tok.AccessToken)
	if err != nil || p.ClientID != c.opts.Client.ID || p.GrantID == "" {
		c.log.WarnContext(ctx, "console token not accepted", "err", err)
		c.message(w, http.StatusBadGateway, "Sign-in not finished", "The sign-in service gave a token this console does not accept.")
		return
	}
	maxAge := int(time.Until(p.Expiry) / time.Second)
	if p.Expiry.IsZero() || maxAge > 24*3600 {
		maxAge = 3600
	}
	c.setCookie(w, sessionCookie, tok.AccessToken, maxAge, http.SameSiteLaxMode)
	http.Redirect(w, r, f.Return, http.StatusSeeOther)
}

// csrfToken returns the browser's CSRF token, giving it one first. The
// cookie is SameSite=Strict: a form posted from another site lacks it.
func (c *Console) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if t := c.cookie(r, csrfCookie); len(t) >= 32 {
		return t
	}
	t := rand.Text()
	c.setCookie(w, csrfCookie, t, 0, http.SameSiteStrictMode)
	return t
}

// approvalPage is what the approval template shows.
type approvalPage struct {
	Title           string
	View            service.ApprovalView
	Approval        store.Approval
	Args            string
	CSRF, Person    string
	Notice, Problem string
}

func (c *Console) showApproval(w http.ResponseWriter, r *http.Request) {
	p, ok := c.session(r)
	if !ok {
		c.startSignIn(w, r, r.URL.Path)
		return
	}
	view, err := c.opts.Service.GetApproval(r.Context(), c.caller(r.Context(), p), service.ApprovalInput{ApprovalID: r.PathValue("id")})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.renderApproval(w, http.StatusOK, view, c.csrfToken(w, r), p, "", "")
}

func (c *Console) renderApproval(w http.ResponseWriter, status int, view service.ApprovalView, csrf string, p *auth.Principal, notice, problem string) {
	args := view.Approval.Args
	var pretty bytes.Buffer
	if json.Indent(&pretty, []byte(args), "", "  ") == nil {
		args = pretty.String()
	}
	c.render(w, status, pages, approvalPage{Title: "Approval", View: view, Approval: view.Approval, Args: args,
		CSRF: csrf, Person: p.Subject, Notice: notice, Problem: problem})
}

// maxFormBytes bounds a decision's form.
const maxFormBytes = 4 << 10

func (c *Console) decideApproval(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !c.sameOrigin(r) {
		c.message(w, http.StatusForbidden, "Refused", "This form was sent from another site.")
		return
	}
	p, ok := c.session(r)
	if !ok {
		c.message(w, http.StatusUnauthorized, "Signed out", "Your sign-in has ended. Open the approval link again to sign in; nothing was decided.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		c.message(w, http.StatusBadRequest, "Bad request", "The form could not be read; nothing was decided.")
		return
	}
	cookie, sent := c.cookie(r, csrfCookie), r.PostForm.Get("csrf")
	if cookie == "" || subtle.ConstantTimeCompare([]byte(cookie), []byte(sent)) != 1 {
		c.message(w, http.StatusForbidden, "Refused", "This form did not come from this page in this browser; nothing was decided. Open the approval link again.")
		return
	}
	caller := c.caller(ctx, p)
	in := service.ApprovalInput{ApprovalID: r.PathValue("id")}
	view, err := c.opts.Service.GetApproval(ctx, caller, in)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var decided store.Approval
	var notice string
	switch r.PostForm.Get("decision") {
	case "approve":
		decided, err = c.opts.Service.ApproveCall(ctx, caller, in)
		notice = fmt.Sprintf("Approved. The agent may now repeat its call, once, before %s.", view.Approval.ExpiresAt.UTC().Format("15:04 MST"))
	case "deny":
		decided, err = c.opts.Service.DenyCall(ctx, caller, in)
		notice = "Denied. The call will not run."
	default:
		c.message(w, http.StatusBadRequest, "Bad request", "Choose Approve or Deny; nothing was decided.")
		return
	}
	var se *service.Error
	if errors.As(err, &se) && se.Kind == service.KindConflict {
		if decided.ID != "" {
			view.Approval = decided
		}
		c.renderApproval(w, http.StatusConflict, view, cookie, p, "", se.Message)
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	view.Approval = decided
	c.renderApproval(w, http.StatusOK, view, cookie, p, notice, "")
}

// sameOrigin refuses a form posted from another origin: the Origin header
// when the browser sends one, Sec-Fetch-Site otherwise.
func (c *Console) sameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" {
		return o == c.origin
	}
	site := r.Header.Get("Sec-Fetch-Site")
	return site == "" || site == "same-origin"
}

// fail answers a service error with a page that says what it means.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	var se *service.Error
	if !errors.As(err, &se) {
		c.log.ErrorContext(r.Context(), "console", "err", err)
		c.message(w, http.StatusInternalServerError, "Something went wrong", "Nothing was decided; try again.")
		return
	}
	switch se.Kind {
	case service.KindNotFound:
		c.message(w, http.StatusNotFound, "Not found", "There is no such approval in your organization.")
	case service.KindDenied:
		c.message(w, http.StatusForbidden, "Not allowed", se.Message)
	case service.KindInvalid:
		c.message(w, http.StatusBadRequest, "Bad request", se.Message)
	case service.KindUnavailable:
		w.Header().Set("Retry-After", "5")
		c.message(w, http.StatusServiceUnavailable, "Try again shortly", se.Message)
	default:
		c.message(w, http.StatusInternalServerError, "Something went wrong", se.Message)
	}
}

func (c *Console) message(w http.ResponseWriter, status int, title, msg string) {
	c.render(w, status, messagePage, map[string]any{"Title": title, "Message": msg})
}

func (c *Console) render(w http.ResponseWriter, status int, t *template.Template, data any) {
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", data); err != nil {
		c.log.Error("console template", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}
