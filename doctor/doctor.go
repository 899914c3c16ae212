package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// Status is a check's verdict.
type Status string

const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Check is one finding.
type Check struct {
	// Name says what was checked ("challenge", "prm", "as-metadata", …).
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Detail is what was found; Fix, for a warning or failure, what to do.
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Report is every check of one run.
type Report struct {
	URL    string  `json:"url"`
	Checks []Check `json:"checks"`
}

// Failed reports whether any check failed (warnings do not fail).
func (r *Report) Failed() bool {
	return slices.ContainsFunc(r.Checks, func(c Check) bool { return c.Status == Fail })
}

// Count returns how many checks have status s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == s {
			n++
		}
	}
	return n
}

// Find returns the checks whose name starts with prefix.
func (r *Report) Find(prefix string) []Check {
	var out []Check
	for _, c := range r.Checks {
		if strings.HasPrefix(c.Name, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// WriteText writes the report for a person: one line a check, what to do
// under each warning and failure, and a tally.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "doctor %s\n\n", r.URL)
	for _, c := range r.Checks {
		label := map[Status]string{OK: "ok  ", Warn: "WARN", Fail: "FAIL"}[c.Status]
		fmt.Fprintf(w, "  %s  %-22s %s\n", label, c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(w, "        %-22s → %s\n", "", c.Fix)
		}
	}
	fmt.Fprintf(w, "\n%d failed, %d warnings, %d ok\n", r.Count(Fail), r.Count(Warn), r.Count(OK))
}

// Options configures Run. A nil *Options means every default.
type Options struct {
	// Token, when set, is an access token for the server: Run then lists
	// its tools, as a 2025-11-25 client and as a 2026-07-28 one.
	Token string
	// Origin is the browser origin of the CORS checks; empty means
	// DefaultOrigin.
	Origin string
	// HTTPClient makes every request; nil means a client with a 10 s
	// timeout that does not follow redirects (clients must not be sent
	// elsewhere for metadata without notice).
	HTTPClient *http.Client
	// Now is the local clock the server's Date is compared with; nil means
	// time.Now.
	Now func() time.Time
}

// DefaultOrigin is the MCP Inspector's origin: a browser client people use.
const DefaultOrigin = "http://localhost:6274"

// MaxClockSkew is how far the server's clock may be from ours before Run
// warns: tokens are checked against exp, iat and nbf with a little leeway.
const MaxClockSkew = time.Minute

// doctor is one run.
type doctor struct {
	ctx      context.Context
	opts     Options
	client   *http.Client
	endpoint *url.URL
	report   *Report
	// seen collects every URL met, for the https check.
	seen []string
}

// Run checks the MCP endpoint at mcpURL. It returns an error only when
// mcpURL is not an absolute http(s) URL; everything else is a Check.
func Run(ctx context.Context, mcpURL string, opts *Options) (*Report, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Origin == "" {
		o.Origin = DefaultOrigin
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	u, err := url.Parse(mcpURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("doctor: %q is not the absolute http(s) URL of an MCP endpoint (like https://mcp.example.com/mcp)", mcpURL)
	}
	d := &doctor{ctx: ctx, opts: o, client: client, endpoint: u, report: &Report{URL: mcpURL}}
	d.run()
	return d.report, nil
}

func (d *doctor) add(name string, s Status, detail, fix string) {
	d.report.Checks = append(d.report.Checks, Check{Name: name, Status: s, Detail: detail, Fix: fix})
}

func (d *doctor) run() {
	d.seen = append(d.seen, d.endpoint.String())
	challenge, date, took := d.checkChallenge()
	d.checkClock(date, took)
	prm := d.checkPRMs(challenge)
	if prm != nil {
		for _, as := range prm.AuthorizationServers {
			d.checkAuthServer(as)
		}
	}
	d.checkCORS()
	d.checkHTTPS()
	if d.opts.Token != "" {
		d.checkToolsList()
	}
}

// mcpInitialize is the body of the unauthenticated probe: what a client
// sends first.
const mcpInitialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",` +
	`"capabilities":{},"clientInfo":{"name":"orgscope-doctor","version":"1"}}}`

// checkChallenge posts without a token and reads the 401's challenge. It
// returns the resource_metadata URL ("" when there is none), the Date
// header, and how long the request took.
func (d *doctor) checkChallenge() (resourceMetadata string, date string, took time.Duration) {
	const name = "challenge"
	req, err := http.NewRequestWithContext(d.ctx, http.MethodPost, d.endpoint.String(), strings.NewReader(mcpInitialize))
	if err != nil {
		d.add(name, Fail, err.Error(), "")
		return "", "", 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	start := time.Now()
	resp, err := d.client.Do(req)
	took = time.Since(start)
	if err != nil {
		d.add(name, Fail, "POST without a token: "+err.Error(), "check the URL, DNS, TLS and that the server runs")
		return "", "", took
	}
	drain(resp)
	date = resp.Header.Get("Date")
	if resp.StatusCode != http.StatusUnauthorized {
		fix := "an MCP server protected by OAuth answers a request without a token with 401 and a WWW-Authenticate challenge (MCP authorization, RFC 9728 §5.1)"
		if resp.StatusCode/100 == 3 {
			fix = "the endpoint redirects (to " + resp.Header.Get("Location") + "); give the final URL, without redirects"
		}
		d.add(name, Fail, fmt.Sprintf("POST without a token answered %d, not 401", resp.StatusCode), fix)
		return "", date, took
	}
	headers := resp.Header.Values("WWW-Authenticate")
	if len(headers) == 0 {
		d.add(name, Fail, "401 without a WWW-Authenticate header",
			`send WWW-Authenticate: Bearer resource_metadata="<PRM URL>" with every 401`)
		return "", date, took
	}
	challenges, err := oauthex.ParseWWWAuthenticate(headers)
	if err != nil {
		d.add(name, Fail, fmt.Sprintf("WWW-Authenticate %q does not parse: %v", strings.Join(headers, ", "), err),
			"write the challenge as RFC 9110 §11.6.1 says: scheme, then name=\"value\" pairs separated by commas")
		return "", date, took
	}
	for _, c := range challenges {
		if c.Scheme != "bearer" {
			continue
		}
		rm := c.Params["resource_metadata"]
		if rm == "" {
			d.add(name, Fail, "the Bearer challenge has no resource_metadata",
				`add resource_metadata="<PRM URL>" to the challenge (RFC 9728 §5.1): clients read it to find the authorization server`)
			return "", date, took
		}
		u, err := url.Parse(rm)
		if err != nil || !u.IsAbs() {
			d.add(name, Fail, fmt.Sprintf("resource_metadata %q is not an absolute URL", rm), "make it the absolute URL of the Protected Resource Metadata")
			return "", date, took
		}
		d.seen = append(d.seen, rm)
		detail := fmt.Sprintf("401 with a Bearer challenge, resource_metadata=%q", rm)
		if s := c.Params["scope"]; s != "" {
			detail += fmt.Sprintf(", scope=%q", s)
		}
		d.add(name, OK, detail, "")
		return rm, date, took
	}
	d.add(name, Fail, fmt.Sprintf("no Bearer challenge in WWW-Authenticate %q", strings.Join(headers, ", ")),
		`answer with WWW-Authenticate: Bearer resource_metadata="<PRM URL>"`)
	return "", date, took
}

// checkClock compares the server's Date with the local clock.
func (d *doctor) checkClock(date string, took time.Duration) {
	const name = "clock"
	if date == "" {
		d.add(name, Warn, "the server sent no Date header; its clock could not be compared", "")
		return
	}
	t, err := http.ParseTime(date)
	if err != nil {
		d.add(name, Warn, fmt.Sprintf("Date %q does not parse", date), "")
		return
	}
	skew := d.opts.Now().Sub(t)
	// Date has whole seconds and was stamped during the request.
	margin := took + time.Second
	if skew.Abs() > MaxClockSkew+margin {
		d.add(name, Warn, fmt.Sprintf("the server's clock is %v off ours (Date: %s)", skew.Round(time.Second), date),
			"run NTP on both: tokens carry exp, iat and nbf, and a skewed clock refuses good tokens or accepts expired ones")
		return
	}
	d.add(name, OK, fmt.Sprintf("the server's clock agrees with ours within %v", (skew.Abs()+margin).Round(time.Second)), "")
}

// prmURLs returns the path-inserted and the root PRM URLs of the endpoint
// (RFC 9728 §3.1); for an endpoint at the root they are the same.
func (d *doctor) prmURLs() (pathInserted, root string) {
	base := d.endpoint.Scheme + "://" + d.endpoint.Host + "/.well-known/oauth-protected-resource"
	p := strings.TrimSuffix(d.endpoint.EscapedPath(), "/")
	if p == "" {
		return base, base
	}
	return base + p, base
}

// checkPRMs fetches the PRM from the challenge's URL and both well-known
// URLs, and returns the first that could be used.
func (d *doctor) checkPRMs(fromChallenge string) *oauthex.ProtectedResourceMetadata {
	pathInserted, root := d.prmURLs()
	type candidate struct{ name, url string }
	var candidates []candidate
	if fromChallenge != "" && fromChallenge != pathInserted && fromChallenge != root {
		candidates = append(candidates, candidate{"prm (challenge)", fromChallenge})
	}
	candidates = append(candidates, candidate{"prm (path)", pathInserted})
	if root != pathInserted {
		candidates = append(candidates, candidate{"prm (root)", root})
	}
	var first *oauthex.ProtectedResourceMetadata
	answered := 0
	for i, c := range candidates {
		var prm oauthex.ProtectedResourceMetadata
		status, err := d.getJSON(c.url, &prm)
		if err != nil {
			st, fix := Warn, "serve the Protected Resource Metadata here too: clients try this URL"
			if c.url == fromChallenge {
				st, fix = Fail, "the challenge's resource_metadata must point at the Protected Resource Metadata"
			} else if status == http.StatusNotFound && i > 0 && answered > 0 {
				fix = "clients that ignore the path of the resource look here; serve the same document"
			}
			d.add(c.name, st, fmt.Sprintf("GET %s: %v", c.url, err), fix)
			continue
		}
		answered++
		problems := d.judgePRM(c.name, c.url, &prm)
		if problems == 0 && first == nil {
			first = &prm
		}
	}
	if answered == 0 {
		d.add("prm", Fail, "no Protected Resource Metadata found at "+strings.Join([]string{pathInserted, root}, " or "),
			"serve RFC 9728 metadata at /.well-known/oauth-protected-resource"+strings.TrimSuffix(d.endpoint.EscapedPath(), "/"))
	}
	return first
}

// judgePRM checks one PRM document and returns how many checks failed.
func (d *doctor) judgePRM(name, from string, prm *oauthex.ProtectedResourceMetadata) int {
	want := d.endpoint.String()
	switch {
	case prm.Resource == "":
		d.add(name, Fail, fmt.Sprintf("%s has no resource", from), "set resource to "+want)
		return 1
	case prm.Resource != want:
		fix := "set resource to exactly " + want + " (clients compare it byte for byte with the URL they were given, RFC 9728 §3.3, and stop)"
		if strings.TrimSuffix(prm.Resource, "/") == strings.TrimSuffix(want, "/") {
			fix += "; they differ only in a trailing slash, which still counts"
		}
		d.add(name, Fail, fmt.Sprintf("%s says resource %q, not %q", from, prm.Resource, want), fix)
		return 1
	case len(prm.AuthorizationServers) == 0:
		d.add(name, Fail, fmt.Sprintf("%s lists no authorization_servers", from), "list the issuer(s) of the tokens this server accepts")
		return 1
	}
	d.seen = append(d.seen, prm.AuthorizationServers...)
	d.add(name, OK, fmt.Sprintf("%s: resource %q, authorization_servers %v", from, prm.Resource, prm.AuthorizationServers), "")
	return 0
}

// asMetadataURLs are the URLs MCP clients try for an issuer's metadata, in
// order: RFC 8414 with path insertion, OpenID discovery with path
// insertion, OpenID discovery with the path appended.
func asMetadataURLs(issuer *url.URL) []string {
	base := issuer.Scheme + "://" + issuer.Host
	p := strings.TrimSuffix(issuer.EscapedPath(), "/")
	if p == "" {
		return []string{base + "/.well-known/oauth-authorization-server", base + "/.well-known/openid-configuration"}
	}
	return []string{
		base + "/.well-known/oauth-authorization-server" + p,
		base + "/.well-known/openid-configuration" + p,
		base + p + "/.well-known/openid-configuration",
	}
}

// checkAuthServer fetches an issuer's metadata the way MCP clients do and
// checks what they rely on: the issuer, PKCE, registration and the keys.
func (d *doctor) checkAuthServer(issuer string) {
	name := "as-metadata " + issuer
	u, err := url.Parse(issuer)
	if err != nil || !u.IsAbs() || u.Host == "" {
		d.add(name, Fail, fmt.Sprintf("authorization server %q is not an absolute URL", issuer), "list issuer identifiers (https URLs) in authorization_servers")
		return
	}
	var meta oauthex.AuthServerMeta
	var from string
	var tried []string
	for _, candidate := range asMetadataURLs(u) {
		if _, err := d.getJSON(candidate, &meta); err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", candidate, err))
			continue
		}
		from = candidate
		break
	}
	if from == "" {
		d.add(name, Fail, "no authorization server metadata: "+strings.Join(tried, "; "),
			"serve RFC 8414 metadata at "+asMetadataURLs(u)[0]+" (or OpenID discovery)")
		return
	}
	d.seen = append(d.seen, meta.AuthorizationEndpoint, meta.TokenEndpoint, meta.JWKSURI, meta.RegistrationEndpoint)
	if meta.Issuer != issuer {
		fix := "the metadata's issuer must be exactly the authorization server's identifier as listed in the PRM (RFC 8414 §3.3); clients refuse it otherwise"
		if strings.TrimSuffix(meta.Issuer, "/") == strings.TrimSuffix(issuer, "/") {
			fix += "; they differ in a trailing slash: list the issuer in the PRM exactly as the issuer writes it"
		}
		d.add(name, Fail, fmt.Sprintf("%s says issuer %q, fetched for %q", from, meta.Issuer, issuer), fix)
		return
	}
	d.add(name, OK, fmt.Sprintf("%s: issuer matches", from), "")

	if slices.Contains(meta.CodeChallengeMethodsSupported, "S256") {
		d.add("pkce "+issuer, OK, "code_challenge_methods_supported has S256", "")
	} else {
		d.add("pkce "+issuer, Fail, fmt.Sprintf("code_challenge_methods_supported is %v, without S256", meta.CodeChallengeMethodsSupported),
			"MCP clients refuse an authorization server that does not advertise PKCE S256; list it")
	}
	if meta.TokenEndpoint == "" {
		d.add("token-endpoint "+issuer, Fail, "the metadata has no token_endpoint", "publish the token endpoint")
	}
	if meta.RegistrationEndpoint == "" && !meta.ClientIDMetadataDocumentSupported {
		d.add("registration "+issuer, Warn, "neither registration_endpoint nor client_id_metadata_document_supported",
			"clients cannot register themselves: each needs a client id made for it beforehand")
	}
	d.checkJWKS(issuer, meta.JWKSURI)
}

// checkJWKS loads the issuer's key set.
func (d *doctor) checkJWKS(issuer, jwksURI string) {
	name := "jwks " + issuer
	if jwksURI == "" {
		d.add(name, Warn, "the metadata has no jwks_uri", "resource servers verifying JWT access tokens need the issuer's keys")
		return
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if _, err := d.getJSON(jwksURI, &set); err != nil {
		d.add(name, Fail, fmt.Sprintf("GET %s: %v", jwksURI, err), "serve the key set (RFC 7517) at jwks_uri")
		return
	}
	if len(set.Keys) == 0 {
		d.add(name, Fail, jwksURI+" has no keys", "publish the signing keys' public halves")
		return
	}
	var kids []string
	for _, k := range set.Keys {
		if kid, _ := k["kid"].(string); kid != "" {
			kids = append(kids, kid)
		}
	}
	d.add(name, OK, fmt.Sprintf("%s: %d key(s) %v", jwksURI, len(set.Keys), kids), "")
}

// checkCORS sends a preflight and an unauthenticated POST with an Origin,
// as a browser-based client (the MCP Inspector) would: it must be allowed
// and able to read WWW-Authenticate.
func (d *doctor) checkCORS() {
	const name = "cors"
	origin := d.opts.Origin
	pre, err := http.NewRequestWithContext(d.ctx, http.MethodOptions, d.endpoint.String(), nil)
	if err != nil {
		return
	}
	pre.Header.Set("Origin", origin)
	pre.Header.Set("Access-Control-Request-Method", "POST")
	pre.Header.Set("Access-Control-Request-Headers", "authorization, content-type, mcp-protocol-version")
	resp, err := d.client.Do(pre)
	if err != nil {
		d.add(name+" preflight", Warn, "OPTIONS: "+err.Error(), "")
		return
	}
	drain(resp)
	allowOrigin := resp.Header.Get("Access-Control-Allow-Origin")
	if resp.StatusCode/100 != 2 || (allowOrigin != origin && allowOrigin != "*") {
		d.add(name+" preflight", Warn, fmt.Sprintf("a preflight from %s got %d, Access-Control-Allow-Origin %q", origin, resp.StatusCode, allowOrigin),
			"browser-based clients from that origin cannot connect; allow the origins you want (OrgScope: --allowed-origins), or ignore this if none")
		return
	}
	methods := strings.ToUpper(resp.Header.Get("Access-Control-Allow-Methods"))
	allowed := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
	var missing []string
	if !strings.Contains(methods, "POST") && methods != "*" {
		missing = append(missing, "method POST")
	}
	for _, h := range []string{"authorization", "content-type", "mcp-protocol-version"} {
		if !strings.Contains(allowed, h) && allowed != "*" {
			missing = append(missing, "header "+h)
		}
	}
	if len(missing) > 0 {
		d.add(name+" preflight", Fail, fmt.Sprintf("the preflight from %s does not allow %s", origin, strings.Join(missing, ", ")),
			"allow them in Access-Control-Allow-Methods/-Headers")
	} else {
		d.add(name+" preflight", OK, fmt.Sprintf("a preflight from %s is allowed (POST; Authorization, Content-Type, MCP-Protocol-Version)", origin), "")
	}

	post, _ := http.NewRequestWithContext(d.ctx, http.MethodPost, d.endpoint.String(), strings.NewReader(mcpInitialize))
	post.Header.Set("Origin", origin)
	post.Header.Set("Content-Type", "application/json")
	post.Header.Set("Accept", "application/json, text/event-stream")
	resp, err = d.client.Do(post)
	if err != nil {
		d.add(name+" expose", Warn, "POST with an Origin: "+err.Error(), "")
		return
	}
	drain(resp)
	expose := strings.ToLower(resp.Header.Get("Access-Control-Expose-Headers"))
	if allowOrigin := resp.Header.Get("Access-Control-Allow-Origin"); allowOrigin != origin && allowOrigin != "*" {
		d.add(name+" expose", Fail, fmt.Sprintf("the %d answer to a POST from %s has Access-Control-Allow-Origin %q although the preflight allowed it",
			resp.StatusCode, origin, allowOrigin), "send the CORS headers on every answer, 401 included")
		return
	}
	if !strings.Contains(expose, "www-authenticate") && expose != "*" {
		d.add(name+" expose", Fail, fmt.Sprintf("the %d answer to a POST from %s does not expose WWW-Authenticate (Access-Control-Expose-Headers %q)",
			resp.StatusCode, origin, resp.Header.Get("Access-Control-Expose-Headers")),
			"add WWW-Authenticate to Access-Control-Expose-Headers: browser clients cannot read the challenge, so cannot find the authorization server")
		return
	}
	d.add(name+" expose", OK, fmt.Sprintf("the %d answer to a POST from %s exposes WWW-Authenticate", resp.StatusCode, origin), "")
}

// checkHTTPS fails every URL met that is plain http on a host that is not
// loopback: tokens and codes would cross the network in clear.
func (d *doctor) checkHTTPS() {
	var plain []string
	for _, s := range d.seen {
		if s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil || u.Scheme == "https" || isLoopback(u.Hostname()) {
			continue
		}
		if !slices.Contains(plain, s) {
			plain = append(plain, s)
		}
	}
	if len(plain) > 0 {
		d.add("https", Fail, "plain http on a network host: "+strings.Join(plain, ", "),
			"serve https (or put a TLS proxy in front and publish its https URLs): tokens, codes and secrets cross these")
		return
	}
	d.add("https", OK, "every URL is https, or on loopback", "")
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// errNotJSON and friends describe a metadata fetch that went wrong.
var errNotJSON = errors.New("not JSON")

// getJSON fetches u into v. It returns the status, and an error saying what
// was wrong: no answer, a status other than 200, another content type, or
// a body that does not decode.
func (d *doctor) getJSON(u string, v any) (int, error) {
	req, err := http.NewRequestWithContext(d.ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		drain(resp)
		if loc := resp.Header.Get("Location"); loc != "" {
			return resp.StatusCode, fmt.Errorf("HTTP %d to %s (clients are not expected to follow it)", resp.StatusCode, loc)
		}
		return resp.StatusCode, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	// application/json, or a +json type such as a key set's
	// application/jwk-set+json.
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return resp.StatusCode, fmt.Errorf("%w: Content-Type %q, want application/json", errNotJSON, resp.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		return resp.StatusCode, fmt.Errorf("%w: %v", errNotJSON, err)
	}
	return resp.StatusCode, nil
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
}
