package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/orgscope/orgscope/internal/credential"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
)

// Organizations and people.

type orgsData struct {
	Orgs    []store.Org
	NextURL string
}

// nextURL is the link to the page after this one: path with the query
// that selected this page and the cursor of the next.
func nextURL(path string, q url.Values, cursor string) string {
	if cursor == "" {
		return ""
	}
	next := url.Values{}
	for k, v := range q {
		if k != "cursor" && k != "done" {
			next[k] = v
		}
	}
	next.Set("cursor", cursor)
	return path + "?" + next.Encode()
}

func (c *Console) orgs(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	out, err := c.opts.Service.ListOrgs(r.Context(), s.caller, service.ListOrgsInput{Cursor: r.URL.Query().Get("cursor"), Limit: 50})
	if err != nil {
		c.fail(w, r, s, err, Path)
		return
	}
	c.show(w, r, s, "orgs", "Organizations", "", secOrgs, orgsData{Orgs: out.Organizations,
		NextURL: nextURL("/console/orgs", r.URL.Query(), out.NextCursor)})
}

func (c *Console) createOrg(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	o, err := c.opts.Service.CreateOrg(r.Context(), s.caller, service.CreateOrgInput{
		OrgCode: strings.TrimSpace(r.PostForm.Get("org_code")), Name: r.PostForm.Get("name")})
	if err != nil {
		c.fail(w, r, s, err, "/console/orgs")
		return
	}
	done(w, r, orgBase(o.Code)+"/", "org-created")
}

func (c *Console) org(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	o, err := c.opts.Service.GetOrg(r.Context(), s.caller, service.OrgInput{OrgArg: orgArg(r)})
	if err != nil {
		c.fail(w, r, s, err, Path)
		return
	}
	c.show(w, r, s, "org", o.Name, o.Code, secOrg, o)
}

func (c *Console) renameOrg(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	name := r.PostForm.Get("name")
	c.updateOrg(w, r, s, service.UpdateOrgInput{OrgArg: orgArg(r), Name: &name}, "org-renamed")
}

func (c *Console) setOrgProperty(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	value := r.PostForm.Get("value")
	c.updateOrg(w, r, s, service.UpdateOrgInput{OrgArg: orgArg(r),
		Properties: map[string]*string{strings.TrimSpace(r.PostForm.Get("name")): &value}}, "property-set")
}

func (c *Console) removeOrgProperty(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	c.updateOrg(w, r, s, service.UpdateOrgInput{OrgArg: orgArg(r),
		Properties: map[string]*string{r.PostForm.Get("name"): nil}}, "property-removed")
}

func (c *Console) updateOrg(w http.ResponseWriter, r *http.Request, s *session, in service.UpdateOrgInput, notice string) {
	back := orgBase(in.OrgCode) + "/"
	if _, err := c.opts.Service.UpdateOrg(r.Context(), s.caller, in); err != nil {
		c.fail(w, r, s, err, back)
		return
	}
	done(w, r, back, notice)
}

type peopleData struct {
	Users               []store.User
	NextURL             string
	Email, Name, Status string
}

func (c *Console) people(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	in := service.ListUsersInput{OrgArg: orgArg(r), Cursor: q.Get("cursor"), Limit: 25,
		EmailPrefix: q.Get("email"), NamePrefix: q.Get("name"), Status: q.Get("status")}
	out, err := c.opts.Service.ListUsers(r.Context(), s.caller, in)
	if err != nil {
		c.fail(w, r, s, err, orgBase(in.OrgCode)+"/people")
		return
	}
	c.show(w, r, s, "people", "People", in.OrgCode, secPeople, peopleData{Users: out.Users,
		NextURL: nextURL(orgBase(in.OrgCode)+"/people", q, out.NextCursor),
		Email:   in.EmailPrefix, Name: in.NamePrefix, Status: in.Status})
}

func (c *Console) createPerson(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	f := r.PostForm
	in := service.CreateUserInput{OrgArg: orgArg(r), Email: f.Get("email"), GivenName: f.Get("given_name"),
		FamilyName: f.Get("family_name"), Role: f.Get("role")}
	u, err := c.opts.Service.CreateUser(r.Context(), s.caller, in)
	if err != nil {
		c.fail(w, r, s, err, orgBase(in.OrgCode)+"/people")
		return
	}
	done(w, r, orgBase(in.OrgCode)+"/people/"+u.ID, "person-created")
}

func (c *Console) person(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	in := service.UserIDInput{OrgArg: orgArg(r), UserID: r.PathValue("id")}
	u, err := c.opts.Service.GetUser(r.Context(), s.caller, in)
	if err != nil {
		c.fail(w, r, s, err, orgBase(in.OrgCode)+"/people")
		return
	}
	c.show(w, r, s, "person", u.Email, in.OrgCode, secPeople, u)
}

func (c *Console) setPersonStatus(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	status := r.PostForm.Get("status")
	notice := "person-activated"
	if status == string(store.UserSuspended) {
		notice = "person-suspended"
	}
	c.updatePerson(w, r, s, service.UpdateUserInput{OrgArg: orgArg(r), UserID: r.PathValue("id"), Status: &status}, notice)
}

func (c *Console) setPersonRole(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	role := r.PostForm.Get("role")
	c.updatePerson(w, r, s, service.UpdateUserInput{OrgArg: orgArg(r), UserID: r.PathValue("id"), Role: &role}, "role-changed")
}

func (c *Console) updatePerson(w http.ResponseWriter, r *http.Request, s *session, in service.UpdateUserInput, notice string) {
	back := orgBase(in.OrgCode) + "/people/" + url.PathEscape(in.UserID)
	if _, err := c.opts.Service.UpdateUser(r.Context(), s.caller, in); err != nil {
		c.fail(w, r, s, err, back)
		return
	}
	done(w, r, back, notice)
}

// secretData is a secret shown once: a client's secret, a password.
type secretData struct {
	Heading, Label, Value, Hint string
	Facts                       [][2]string
	Back, BackText              string
}

// resetPassword gives a person a new password, made here and shown once;
// the service stores its slow hash.
func (c *Console) resetPassword(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	org, id := r.PathValue("org"), r.PathValue("id")
	back := orgBase(org) + "/people/" + url.PathEscape(id)
	u, err := c.opts.Service.GetUser(r.Context(), s.caller, service.UserIDInput{OrgArg: orgArg(r), UserID: id})
	if err != nil {
		c.fail(w, r, s, err, back)
		return
	}
	password := credential.NewPassword()
	if _, err := c.opts.Service.SetPassword(r.Context(), s.caller, service.SetPasswordInput{OrgArg: orgArg(r), Email: u.Email, Password: password}); err != nil {
		c.fail(w, r, s, err, back)
		return
	}
	c.show(w, r, s, "secret", "New password", org, secPeople, secretData{
		Heading: "New password for " + u.Email, Label: "Password", Value: password,
		Hint:  "Shown once: give it to " + u.Email + " now, over a channel you trust. It is stored only as a slow hash; their old password no longer works.",
		Facts: [][2]string{{"Person", u.Email}, {"Organization", u.OrgCode}},
		Back:  back, BackText: "Back to " + u.Email,
	})
}
