package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/orgscope/orgscope/internal/testdeps"
)

// TestRevokedMachineTokenRefusedEverywhere: revoking a client_credentials
// token at one replica makes that replica refuse it at its next call, and
// every other within about a second (the denylist lives in PostgreSQL and each
// replica's resource server polls it); the client's other tokens keep
// working.
func TestRevokedMachineTokenRefusedEverywhere(t *testing.T) {
	c := startCluster(t, 2, testdeps.RequirePostgres(t))
	acme := c.replicas[0].Clients["org_acme"]
	r0, r1 := c.via(0), c.via(1)
	token := r0.token(t, acme, "read:users")
	other := r0.token(t, acme, "read:users")
	for _, r := range []*testServer{r0, r1} {
		if resp, body := r.callTool(t, token, "whoami", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("before revocation: %d %s", resp.StatusCode, body)
		}
	}

	form := url.Values{"token": {token}}
	req, _ := http.NewRequest(http.MethodPost, r1.URL+"/oauth2/revoke", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(acme.ID, acme.Secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	resp.Body.Close()
	revokedAt := time.Now()

	// The replica that revoked refuses at once; the other within about a
	// second.
	if resp, _ := r1.callTool(t, token, "whoami", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the revoking replica accepted the revoked token at the next call: %d", resp.StatusCode)
	}
	for i, r := range []*testServer{r1, r0} {
		for {
			resp, body := r.callTool(t, token, "whoami", nil)
			if resp.StatusCode == http.StatusUnauthorized {
				if !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) ||
					!strings.Contains(string(body), "revoked") {
					t.Errorf("replica %d refused with %q %s", i, resp.Header.Get("WWW-Authenticate"), body)
				}
				break
			}
			if time.Since(revokedAt) > 5*time.Second {
				t.Fatalf("replica %d still accepts the revoked token after 5 s", i)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("%s replica refused the revoked token %v after the revocation", []string{"the revoking", "the other"}[i], time.Since(revokedAt).Round(10*time.Millisecond))
		if resp, body := r.callTool(t, other, "whoami", nil); resp.StatusCode != http.StatusOK {
			t.Errorf("replica %d refused the client's other token: %d %s", i, resp.StatusCode, body)
		}
	}
}
