package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/service"
)

// Machine clients.

type clientsData struct {
	Clients []service.ClientInfo
	Next    string
	Scopes  []string
}

func (c *Console) clients(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	in := service.ListClientsInput{OrgArg: orgArg(r), Cursor: r.URL.Query().Get("cursor"), Limit: 50}
	out, err := c.opts.Service.ListClients(r.Context(), s.caller, in)
	if err != nil {
		c.fail(w, r, s, err, Path)
		return
	}
	c.show(w, r, s, "clients", "Machine clients", in.OrgCode, secClients,
		clientsData{Clients: out.Clients, Next: out.NextCursor, Scopes: auth.AllScopes})
}

// tokenTTL reads a token lifetime in minutes ("" is the default).
func tokenTTL(v string) (int64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	minutes, err := strconv.ParseInt(v, 10, 64)
	if err != nil || minutes <= 0 || minutes > int64(service.MaxClientTokenTTL/time.Minute) {
		return 0, errorf("token lifetime must be a whole number of minutes, 1 to %d", int64(service.MaxClientTokenTTL/time.Minute))
	}
	return minutes * 60, nil
}

func (c *Console) createClient(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	f := r.PostForm
	org := r.PathValue("org")
	back := orgBase(org) + "/clients"
	ttl, err := tokenTTL(f.Get("token_ttl_minutes"))
	if err != nil {
		c.fail(w, r, s, err, back)
		return
	}
	in := service.CreateClientInput{Name: f.Get("name"), OrgCode: org, Scopes: f["scope"], TokenTTLSeconds: ttl,
		JWKSURI: strings.TrimSpace(f.Get("jwks_uri"))}
	if jwks := strings.TrimSpace(f.Get("jwks")); jwks != "" {
		in.JWKS = json.RawMessage(jwks)
	}
	out, err := c.opts.Service.CreateClient(r.Context(), s.caller, in)
	if err != nil {
		c.fail(w, r, s, err, back)
		return
	}
	cl := out.Client
	detail := back + "/" + url.PathEscape(cl.ClientID)
	if out.ClientSecret == "" { // a client with keys has none
		done(w, r, detail, "client-updated")
		return
	}
	c.show(w, r, s, "secret", "Client created", org, secClients, secretData{
		Heading: "Client " + cl.Name + " created", Label: "Client secret", Value: out.ClientSecret,
		Hint: "Shown once: copy it now into your agent's configuration. OrgScope keeps only its hash; " +
			"if it is lost, rotate the secret.",
		Facts: [][2]string{{"Client ID", cl.ClientID}, {"Scopes", strings.Join(cl.Scopes, " ")},
			{"Token endpoint", c.origin + "/oauth2/token"}, {"Resource", c.opts.Resource}},
		Back: detail, BackText: "Go to the client",
	})
}

type clientData struct {
	Client service.ClientInfo
	Scopes []string
	Keys   bool
}

func (c *Console) client(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	in := service.ClientIDInput{OrgArg: orgArg(r), ClientID: r.PathValue("id")}
	cl, err := c.opts.Service.GetClient(r.Context(), s.caller, in)
	if err != nil {
		c.fail(w, r, s, err, orgBase(in.OrgCode)+"/clients")
		return
	}
	c.show(w, r, s, "client", cl.Name, in.OrgCode, secClients,
		clientData{Client: cl, Scopes: auth.AllScopes, Keys: cl.JWKSURI != "" || len(cl.KeyIDs) > 0})
}

// clientPath is the page of the client a form acts on.
func clientPath(r *http.Request) string {
	return orgBase(r.PathValue("org")) + "/clients/" + url.PathEscape(r.PathValue("id"))
}

func clientArg(r *http.Request) service.ClientIDInput {
	return service.ClientIDInput{OrgArg: orgArg(r), ClientID: r.PathValue("id")}
}

// rotateClient gives the client a new secret, shown once; the old ones
// keep working for the grace chosen.
func (c *Console) rotateClient(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	grace, err := strconv.ParseInt(r.PostForm.Get("grace_seconds"), 10, 64)
	if err != nil {
		c.fail(w, r, s, errorf("choose how long the old secret keeps working"), clientPath(r))
		return
	}
	out, err := c.opts.Service.RotateClientSecret(r.Context(), s.caller, service.RotateSecretInput{
		OrgArg: orgArg(r), ClientID: r.PathValue("id"), GraceSeconds: grace})
	if err != nil {
		c.fail(w, r, s, err, clientPath(r))
		return
	}
	old := "The previous secret stopped working now."
	if grace > 0 {
		old = "The previous secret keeps working until " + out.PreviousSecretsExpireAt.UTC().Format("2006-01-02 15:04 UTC") + "."
	}
	c.show(w, r, s, "secret", "Secret rotated", r.PathValue("org"), secClients, secretData{
		Heading: "New secret for " + out.Client.Name, Label: "Client secret", Value: out.ClientSecret,
		Hint:  "Shown once: copy it now into your agent's configuration. " + old,
		Facts: [][2]string{{"Client ID", out.Client.ClientID}},
		Back:  clientPath(r), BackText: "Back to the client",
	})
}

func (c *Console) disableClient(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	if _, err := c.opts.Service.DisableClient(r.Context(), s.caller, clientArg(r)); err != nil {
		c.fail(w, r, s, err, clientPath(r))
		return
	}
	done(w, r, clientPath(r), "client-disabled")
}

func (c *Console) enableClient(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	if _, err := c.opts.Service.EnableClient(r.Context(), s.caller, clientArg(r)); err != nil {
		c.fail(w, r, s, err, clientPath(r))
		return
	}
	done(w, r, clientPath(r), "client-enabled")
}

func (c *Console) deleteClient(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		c.fail(w, r, s, errorf("tick the box to confirm that the client and its tokens go for good"), clientPath(r))
		return
	}
	if _, err := c.opts.Service.DeleteClient(r.Context(), s.caller, clientArg(r)); err != nil {
		c.fail(w, r, s, err, clientPath(r))
		return
	}
	done(w, r, orgBase(r.PathValue("org"))+"/clients", "client-deleted")
}

func (c *Console) updateClient(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	f := r.PostForm
	in := service.UpdateClientInput{OrgArg: orgArg(r), ClientID: r.PathValue("id"), Scopes: f["scope"]}
	if in.Scopes == nil {
		in.Scopes = []string{} // none ticked: the service says a client needs one
	}
	name := f.Get("name")
	in.Name = &name
	if v := strings.TrimSpace(f.Get("token_ttl_minutes")); v != "" {
		ttl, err := tokenTTL(v)
		if err != nil {
			c.fail(w, r, s, err, clientPath(r))
			return
		}
		in.TokenTTLSeconds = &ttl
	}
	if _, err := c.opts.Service.UpdateClient(r.Context(), s.caller, in); err != nil {
		c.fail(w, r, s, err, clientPath(r))
		return
	}
	done(w, r, clientPath(r), "client-updated")
}

// setClientProperty sets an application property, or removes it when the
// remove button was pressed.
func (c *Console) setClientProperty(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	f := r.PostForm
	value := f.Get("value")
	var v *string
	if f.Get("remove") == "" {
		v = &value
	}
	in := service.UpdateClientInput{OrgArg: orgArg(r), ClientID: r.PathValue("id"),
		Properties: map[string]*string{strings.TrimSpace(f.Get("name")): v}}
	if _, err := c.opts.Service.UpdateClient(r.Context(), s.caller, in); err != nil {
		c.fail(w, r, s, err, clientPath(r))
		return
	}
	done(w, r, clientPath(r), "client-updated")
}

// setClientKeys replaces a private_key_jwt client's public keys.
func (c *Console) setClientKeys(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	f := r.PostForm
	in := service.UpdateClientInput{OrgArg: orgArg(r), ClientID: r.PathValue("id")}
	if jwks := strings.TrimSpace(f.Get("jwks")); jwks != "" {
		in.JWKS = json.RawMessage(jwks)
	}
	if uri := strings.TrimSpace(f.Get("jwks_uri")); uri != "" {
		in.JWKSURI = &uri
	}
	if len(in.JWKS) == 0 && in.JWKSURI == nil {
		c.fail(w, r, s, errorf("give the new public keys as a JWKS or a jwks_uri"), clientPath(r))
		return
	}
	if _, err := c.opts.Service.UpdateClient(r.Context(), s.caller, in); err != nil {
		c.fail(w, r, s, err, clientPath(r))
		return
	}
	done(w, r, clientPath(r), "client-keys")
}
