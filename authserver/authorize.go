package authserver

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/internal/credential"
	"github.com/orgscope/orgscope/store"
)

// Paths of the interactive flow.
const (
	AuthorizePath = "/oauth2/authorize"
	LoginPath     = "/oauth2/login"
	ConsentPath   = "/oauth2/consent"
)

// Lifetimes of the interactive flow's single-use credentials.
const (
	authRequestTTL = 10 * time.Minute
	authCodeTTL    = 60 * time.Second
)

// pkceChallenge is an S256 code challenge: 43 base64url characters.
var pkceChallenge = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// handleAuthorize starts an authorization (RFC 6749 §4.1.1 with PKCE and
// RFC 8707 resource). Every error found here, before anyone has signed
// in, is shown on OrgScope's own page and never sent to the redirect URI:
// every client that can reach this endpoint registered itself (RFC 7591 or
// a metadata document), so its redirect URIs are anyone's choice, and
// redirecting to them before a person has seen who the client is would
// make OrgScope an open redirector (RFC 9700 §4.11.2). Errors after
// sign-in, when the person has seen the client and its redirect host, go
// back to the client.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, HEAD, POST")
		s.renderError(w, http.StatusMethodNotAllowed, "Wrong method", "The authorization endpoint accepts GET (or a form POST).")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.renderError(w, http.StatusBadRequest, "Bad request", "The authorization request could not be read.")
		return
	}
	q := r.Form
	ctx := r.Context()

	client, err := s.interactiveClient(ctx, q.Get("client_id"))
	if err != nil {
		s.log.InfoContext(ctx, "authorize refused", "reason", "client", "client_id", q.Get("client_id"), "err", err)
		if errors.Is(err, store.ErrUnavailable) || errors.Is(err, errCIMDBusy) {
			s.renderError(w, http.StatusServiceUnavailable, "Try again shortly", "The sign-in service cannot look up this application right now.")
			return
		}
		s.renderError(w, http.StatusBadRequest, "Unknown application", "This application is not known to OrgScope: "+err.Error()+".")
		return
	}
	redirectURI, ok := matchRedirect(client.RedirectURIs, q.Get("redirect_uri"))
	if !ok {
		s.log.InfoContext(ctx, "authorize refused", "reason", "redirect_uri", "client_id", client.ID)
		s.renderError(w, http.StatusBadRequest, "Unknown return address",
			"The redirect_uri of this request is not registered for the application, so OrgScope will not send you there.")
		return
	}
	if code, description := s.checkAuthorizeRequest(ctx, client, q); code != "" {
		s.log.InfoContext(ctx, "authorize refused", "error", code, "client_id", client.ID, "description", description)
		s.renderError(w, http.StatusBadRequest, "Request refused",
			"OrgScope cannot accept this request from "+client.Name+": "+description+" (error "+code+"). "+
				"The application may need an update.")
		return
	}
	scopes := auth.AllScopes // capped by the user's role at consent
	if q.Has("scope") {
		scopes = auth.Narrow(auth.AllScopes, auth.ParseScopes(q.Get("scope")))
	}

	handle, csrf := credential.RandomToken(32), s.browserBinding(w, r)
	if r.Method == http.MethodHead {
		// The same answer as GET, without keeping a request nobody can
		// continue.
		s.renderLogin(w, http.StatusOK, client, handle, csrf, loginForm{})
		return
	}
	handleHash, addr := hashToken(handle), clientAddress(r)
	if ok, wait := s.pending.take(addr, handleHash, s.opts.Now()); !ok {
		s.log.InfoContext(ctx, "authorize refused", "reason", "pending sign-ins", "address", addr, "client_id", client.ID)
		s.renderTooMany(w, wait, "Too many sign-ins were started from your network address and not finished. "+
			"Finish one, or wait a little and try again.")
		return
	}
	err = s.opts.Store.CreateAuthRequest(ctx, store.AuthRequest{
		HandleHash:          handleHash,
		ClientID:            client.ID,
		RedirectURI:         redirectURI,
		State:               q.Get("state"),
		Scopes:              scopes,
		Resource:            s.resourceOf(ctx),
		CodeChallenge:       q.Get("code_challenge"),
		CodeChallengeMethod: "S256",
		CSRFHash:            hashToken(csrf),
		ExpiresAt:           s.opts.Now().Add(authRequestTTL),
	})
	if err != nil {
		s.pending.release(handleHash)
		s.log.ErrorContext(ctx, "store auth request", "err", err)
		s.renderError(w, http.StatusServiceUnavailable, "Try again shortly", "The sign-in service cannot store the request right now.")
		return
	}
	s.renderLogin(w, http.StatusOK, client, handle, csrf, loginForm{})
}

// checkAuthorizeRequest returns the RFC 6749 §4.1.2.1 error code and a
// description for an authorization request the client and redirect URI of
// which are known, or "" when it is acceptable. Descriptions never repeat
// what the request said.
func (s *Server) checkAuthorizeRequest(ctx context.Context, client *interactiveClient, q url.Values) (code, description string) {
	for name, values := range q {
		if len(values) > 1 && name != "resource" {
			return "invalid_request", "a parameter other than resource is repeated"
		}
	}
	switch {
	case len(q.Get("state")) > 2048:
		return "invalid_request", "state is longer than 2048 characters"
	case q.Get("response_type") != "code":
		return "unsupported_response_type", "only response_type=code is supported"
	case !hasGrant(client, "authorization_code"):
		return "unauthorized_client", "this client did not register the authorization_code grant"
	case q.Get("code_challenge") == "":
		return "invalid_request", "PKCE is required: send code_challenge and code_challenge_method=S256"
	case q.Get("code_challenge_method") != "S256":
		return "invalid_request", "the only code_challenge_method supported is S256"
	case !pkceChallenge.MatchString(q.Get("code_challenge")):
		return "invalid_request", "code_challenge must be the base64url SHA-256 of the code verifier (43 characters)"
	}
	for _, res := range q["resource"] {
		if !auth.ResourceMatches([]string{res}, s.resourceOf(ctx)) {
			return "invalid_target", "this server issues tokens only for " + s.resourceOf(ctx)
		}
	}
	if q.Has("scope") && len(auth.Narrow(auth.AllScopes, auth.ParseScopes(q.Get("scope")))) == 0 {
		return "invalid_scope", "none of the requested scopes is known; see scopes_supported in the metadata"
	}
	return "", ""
}

type loginForm struct {
	email, org, problem string
	askOrg              bool
}

func (s *Server) renderLogin(w http.ResponseWriter, status int, client *interactiveClient, handle, csrf string, f loginForm) {
	s.render(w, status, pages.login, map[string]any{
		"Title": "Sign in", "Client": client, "Action": LoginPath, "Request": handle, "CSRF": csrf,
		"Email": f.email, "Org": f.org, "Error": f.problem, "AskOrg": f.askOrg,
	})
}

// pendingRequest loads the request a login or consent form belongs to and
// checks the form's CSRF token against both the request and the browser's
// cookie. On failure it has already answered.
func (s *Server) pendingRequest(w http.ResponseWriter, r *http.Request) (store.AuthRequest, string, string, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		s.renderError(w, http.StatusMethodNotAllowed, "Wrong method", "This page only receives the form OrgScope showed you.")
		return store.AuthRequest{}, "", "", false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if r.ParseForm() != nil {
		s.renderError(w, http.StatusBadRequest, "Bad request", "This page expects the form it showed you.")
		return store.AuthRequest{}, "", "", false
	}
	handle, csrf := r.PostForm.Get("request"), r.PostForm.Get("csrf")
	cookie, _ := r.Cookie(s.bindingCookieName())
	if csrf == "" || cookie == nil || subtle.ConstantTimeCompare([]byte(csrf), []byte(cookie.Value)) != 1 {
		s.log.InfoContext(r.Context(), "form refused", "reason", "csrf")
		s.renderError(w, http.StatusForbidden, "Request refused",
			"The form's security token is missing or does not match this browser. Start again from your application.")
		return store.AuthRequest{}, "", "", false
	}
	req, err := s.opts.Store.GetAuthRequest(r.Context(), hashToken(handle))
	if err != nil || !s.opts.Now().Before(req.ExpiresAt) ||
		subtle.ConstantTimeCompare([]byte(hashToken(csrf)), []byte(req.CSRFHash)) != 1 {
		if errors.Is(err, store.ErrUnavailable) {
			s.renderError(w, http.StatusServiceUnavailable, "Try again shortly", "The sign-in service cannot reach its database right now.")
			return store.AuthRequest{}, "", "", false
		}
		s.renderError(w, http.StatusBadRequest, "Sign-in expired",
			"This sign-in request has expired or was already used. Start again from your application.")
		return store.AuthRequest{}, "", "", false
	}
	return req, handle, csrf, true
}

// handleLogin checks the user's password and shows the consent page.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	req, handle, csrf, ok := s.pendingRequest(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	client, err := s.interactiveClient(ctx, req.ClientID)
	if err != nil {
		s.renderError(w, http.StatusBadRequest, "Unknown application", "The application of this sign-in is no longer known.")
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	org := strings.TrimSpace(r.PostForm.Get("org"))
	form := loginForm{email: email, org: org}

	account := accountKey(email)
	if ok, wait, failures := s.signIns.admit(account, s.opts.Now()); !ok {
		secs := retryAfterSeconds(wait)
		s.log.WarnContext(ctx, "sign-in throttled", "account", accountRef(account), "address", clientAddress(r),
			"failures", failures, "retry_after_s", secs)
		form.problem = fmt.Sprintf(problemThrottled, secs)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		s.renderLogin(w, http.StatusTooManyRequests, client, handle, csrf, form)
		return
	}
	user, problem, err := s.checkPassword(ctx, email, r.PostForm.Get("password"), org)
	if err != nil {
		s.log.ErrorContext(ctx, "sign-in", "err", err)
		s.renderError(w, http.StatusServiceUnavailable, "Try again shortly", "The sign-in service cannot reach its database right now.")
		return
	}
	if problem != problemCredentials {
		// The password was right (or nothing was checked): the account's
		// count starts again.
		s.signIns.succeeded(account)
	}
	if problem != "" {
		s.log.InfoContext(ctx, "sign-in refused", "client_id", client.ID, "reason", problem)
		form.problem, form.askOrg = problem, problem == problemSeveralOrgs
		s.renderLogin(w, http.StatusUnauthorized, client, handle, csrf, form)
		return
	}
	if err := s.opts.Store.SetAuthRequestUser(ctx, req.HandleHash, user.OrgCode, user.ID); err != nil {
		s.log.ErrorContext(ctx, "record sign-in", "err", err)
		s.renderError(w, http.StatusServiceUnavailable, "Try again shortly", "The sign-in service cannot store the request right now.")
		return
	}
	s.log.InfoContext(ctx, "signed in", "client_id", client.ID, "org_code", user.OrgCode, "user_id", user.ID)
	s.renderConsent(w, r, client, req, user, handle, csrf)
}

// Sign-in problems shown to the user. A wrong password and an unknown
// email get the same words.
const (
	problemCredentials = "The email or password is incorrect."
	problemSeveralOrgs = "This email belongs to more than one organization: enter the organization code too."
	problemSuspended   = "This account is suspended. Ask an administrator of your organization."
	problemThrottled   = "Too many unsuccessful sign-ins for this email. Wait %d seconds, then try again."
)

// checkPassword finds the user an email and password name; problem is
// the message to show when there is none.
func (s *Server) checkPassword(ctx context.Context, email, password, org string) (store.User, string, error) {
	creds, err := s.opts.Store.UserCredentials(ctx, email)
	if err != nil {
		return store.User{}, "", err
	}
	var matched []store.User
	compared := false
	for _, c := range creds {
		if org != "" && c.User.OrgCode != org || c.PasswordHash == "" {
			continue
		}
		compared = true
		if bcrypt.CompareHashAndPassword([]byte(c.PasswordHash), []byte(password)) == nil {
			matched = append(matched, c.User)
		}
	}
	if !compared {
		// An unknown email costs as much as a wrong password.
		bcrypt.CompareHashAndPassword(s.dummyPasswordHash(), []byte(password))
	}
	switch {
	case len(matched) == 0:
		return store.User{}, problemCredentials, nil
	case len(matched) > 1:
		return store.User{}, problemSeveralOrgs, nil
	case matched[0].Status != store.UserActive:
		return store.User{}, problemSuspended, nil
	}
	return matched[0], "", nil
}

func (s *Server) renderConsent(w http.ResponseWriter, r *http.Request, client *interactiveClient, req store.AuthRequest, user store.User, handle, csrf string) {
	orgName := user.OrgCode
	if org, err := s.opts.Store.GetOrg(r.Context(), user.OrgCode); err == nil {
		orgName = org.Name
	}
	granted := auth.Narrow(authz.RoleScopes(string(user.Role)), req.Scopes)
	var withheld []string
	for _, sc := range req.Scopes {
		if !auth.Grants(granted, sc) {
			withheld = append(withheld, sc)
		}
	}
	redirectHost := req.RedirectURI
	if u, err := url.Parse(req.RedirectURI); err == nil && u.Host != "" {
		redirectHost = u.Host
	}
	s.render(w, http.StatusOK, pages.consent, map[string]any{
		"Title": "Allow access", "Client": client, "User": user, "OrgName": orgName,
		"RedirectHost": redirectHost, "Granted": scopeViews(granted), "Withheld": scopeViews(withheld),
		"Action": ConsentPath, "Request": handle, "CSRF": csrf,
	}, formTarget(req.RedirectURI))
}

// handleConsent records the user's decision, once, and sends the browser
// back to the client with a code or an error.
func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request) {
	req, _, _, ok := s.pendingRequest(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	// Single use: whatever happens next, this request cannot be replayed.
	s.pending.release(req.HandleHash)
	req, err := s.opts.Store.ConsumeAuthRequest(ctx, req.HandleHash)
	if err != nil {
		s.renderError(w, http.StatusBadRequest, "Sign-in expired", "This sign-in request was already used. Start again from your application.")
		return
	}
	if req.UserID == "" {
		s.renderError(w, http.StatusBadRequest, "Not signed in", "Sign in before you approve. Start again from your application.")
		return
	}
	back := func(v url.Values) { s.redirectWith(w, r, req.RedirectURI, v, req.State) }
	if r.PostForm.Get("decision") != "approve" {
		s.log.InfoContext(ctx, "consent denied", "client_id", req.ClientID, "user_id", req.UserID)
		back(url.Values{"error": {"access_denied"}, "error_description": {"the user denied the request"}})
		return
	}
	user, err := s.opts.Store.GetUser(ctx, req.OrgCode, req.UserID)
	if err != nil || user.Status != store.UserActive {
		back(url.Values{"error": {"access_denied"}, "error_description": {"the account is no longer active"}})
		return
	}
	// A role that does not allow some requested scopes narrows the grant;
	// it does not refuse it.
	scopes := auth.Narrow(authz.RoleScopes(string(user.Role)), req.Scopes)
	if len(scopes) == 0 {
		back(url.Values{"error": {"invalid_scope"}, "error_description": {"the user's role allows none of the requested scopes"}})
		return
	}
	code := credential.RandomToken(32)
	err = s.opts.Store.CreateAuthCode(ctx, store.AuthCode{
		CodeHash:      hashToken(code),
		ClientID:      req.ClientID,
		OrgCode:       user.OrgCode,
		UserID:        user.ID,
		RedirectURI:   req.RedirectURI,
		Resource:      req.Resource,
		Scopes:        scopes,
		CodeChallenge: req.CodeChallenge,
		ExpiresAt:     s.opts.Now().Add(authCodeTTL),
	})
	if err != nil {
		s.log.ErrorContext(ctx, "store auth code", "err", err)
		back(url.Values{"error": {"temporarily_unavailable"}, "error_description": {"the code could not be stored"}})
		return
	}
	s.log.InfoContext(ctx, "consent given", "client_id", req.ClientID, "org_code", user.OrgCode, "user_id", user.ID,
		"scope", strings.Join(scopes, " "))
	back(url.Values{"code": {code}})
}

// redirectWith sends the browser to a verified redirect URI with the
// response parameters, state and RFC 9207 iss added to its query.
func (s *Server) redirectWith(w http.ResponseWriter, r *http.Request, redirectURI string, params url.Values, state string) {
	u, err := url.Parse(redirectURI)
	if err != nil {
		s.renderError(w, http.StatusBadRequest, "Unknown return address", "The return address cannot be used.")
		return
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	if d := q.Get("error_description"); d != "" {
		q.Set("error_description", oauthText(d))
	}
	if state != "" {
		q.Set("state", state)
	}
	q.Set("iss", s.issuerOf(r.Context()))
	u.RawQuery = q.Encode()
	pageHeaders(w, formTarget(redirectURI))
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// bindingCookieName is __Host- prefixed when the issuer is served over
// https (the prefix requires Secure).
func (s *Server) bindingCookieName() string {
	if strings.HasPrefix(s.opts.Issuer, "https://") {
		return "__Host-orgscope_csrf"
	}
	return "orgscope_csrf"
}

// browserBinding returns the browser's CSRF token, setting the cookie
// that carries it if the browser has none. Forms echo the token; a form
// posted from another browser, or by another site, lacks it.
func (s *Server) browserBinding(w http.ResponseWriter, r *http.Request) string {
	name := s.bindingCookieName()
	if c, err := r.Cookie(name); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	token := credential.RandomToken(32)
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    token,
		Path:     "/",
		HttpOnly: true,
		Secure:   strings.HasPrefix(s.opts.Issuer, "https://"),
		SameSite: http.SameSiteLaxMode,
		MaxAge:   int(authRequestTTL / time.Second),
	})
	return token
}
