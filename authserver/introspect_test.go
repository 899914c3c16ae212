package authserver_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/orgscope/orgscope/authserver"
	"github.com/orgscope/orgscope/store"
)

// TestIntrospectionOnlyForTheTokensClient: a token is reported active only
// to the client it was issued to and to the clients named in
// Options.IntrospectionClients; any other client, a machine client of
// another organization or a freshly registered one, gets {"active":
// false} and nothing else — for access and refresh tokens alike.
func TestIntrospectionOnlyForTheTokensClient(t *testing.T) {
	ctx := t.Context()
	var rs store.Client
	var rsSecret string
	f := newFixture(t, func(o *authserver.Options) {
		var err error
		rs, rsSecret, err = createMachineClient(ctx, o.Store.(*countingStore), machineClient{Name: "resource server", Scopes: []string{"read:orgs"}})
		if err != nil {
			t.Fatal(err)
		}
		o.IntrospectionClients = []string{rs.ID}
	})
	if _, err := f.st.CreateOrg(ctx, store.Org{Code: "org_beta", Name: "Beta"}); err != nil {
		t.Fatal(err)
	}
	acme, acmeSecret, err := createMachineClient(ctx, f.st, machineClient{Name: "acme", OrgCode: "org_acme", Scopes: []string{"read:users"}})
	if err != nil {
		t.Fatal(err)
	}
	beta, betaSecret, err := createMachineClient(ctx, f.st, machineClient{Name: "beta", OrgCode: "org_beta", Scopes: []string{"read:users"}})
	if err != nil {
		t.Fatal(err)
	}
	stranger, strangerSecret := f.registerClient(t, true)
	app, appSecret := f.registerClient(t, true)

	_, tok := f.post(authserver.TokenPath, "", url.Values{"grant_type": {"client_credentials"}, "client_id": {acme.ID}, "client_secret": {acmeSecret}})
	machineToken, _ := tok["access_token"].(string)
	code, verifier := f.code(t, app)
	_, tok = f.post(authserver.TokenPath, "", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
		"redirect_uri": {flowRedirect}, "client_id": {app}, "client_secret": {appSecret}})
	userToken, _ := tok["access_token"].(string)
	refreshToken, _ := tok["refresh_token"].(string)
	if machineToken == "" || userToken == "" || refreshToken == "" {
		t.Fatalf("tokens: %v", tok)
	}

	introspect := func(token, id, secret string) map[string]any {
		t.Helper()
		rec, body := f.post(authserver.IntrospectPath, "", url.Values{"token": {token}, "client_id": {id}, "client_secret": {secret}})
		if rec.Code != http.StatusOK {
			t.Fatalf("introspect: %d %v", rec.Code, body)
		}
		return body
	}
	for _, tc := range []struct {
		name, token, id, secret string
		active                  bool
	}{
		{"machine token to its client", machineToken, acme.ID, acmeSecret, true},
		{"machine token to another org's client", machineToken, beta.ID, betaSecret, false},
		{"machine token to a registered client", machineToken, stranger, strangerSecret, false},
		{"machine token to the resource server", machineToken, rs.ID, rsSecret, true},
		{"user token to its client", userToken, app, appSecret, true},
		{"user token to another org's client", userToken, beta.ID, betaSecret, false},
		{"user token to a registered client", userToken, stranger, strangerSecret, false},
		{"user token to the resource server", userToken, rs.ID, rsSecret, true},
		{"refresh token to its client", refreshToken, app, appSecret, true},
		{"refresh token to another org's client", refreshToken, beta.ID, betaSecret, false},
		{"refresh token to a registered client", refreshToken, stranger, strangerSecret, false},
		{"refresh token to the resource server", refreshToken, rs.ID, rsSecret, true},
	} {
		got := introspect(tc.token, tc.id, tc.secret)
		if got["active"] != tc.active {
			t.Errorf("%s: %v", tc.name, got)
		}
		if !tc.active && len(got) != 1 {
			t.Errorf("%s: an inactive answer says more than active=false: %v", tc.name, got)
		}
	}
}
