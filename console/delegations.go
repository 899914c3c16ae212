package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/orgscope/orgscope/service"
)

// Delegations and grants: who acts for whom. A grant is a person's
// consent to the client they signed in with; agents act for the person
// through it with tokens they got by token exchange. Revoking the grant
// ends the sign-in and every token delegated from it, at the next call.

// delegationsFilter is what the delegations page is filtered by, as its
// query holds it.
type delegationsFilter struct {
	Email          string
	IncludeRevoked bool
	Cursor         string
}

func readDelegationsFilter(q url.Values) delegationsFilter {
	v := q.Get("include_revoked")
	return delegationsFilter{Email: strings.TrimSpace(q.Get("email")), IncludeRevoked: v == "on" || v == "true" || v == "1",
		Cursor: q.Get("cursor")}
}

// query is the filter as a query, without the cursor.
func (f delegationsFilter) query() url.Values {
	q := url.Values{}
	if f.Email != "" {
		q.Set("email", f.Email)
	}
	if f.IncludeRevoked {
		q.Set("include_revoked", "on")
	}
	return q
}

// page is the filter as a query, with the cursor: the page of the list a
// revocation returns to.
func (f delegationsFilter) page() string {
	q := f.query()
	if f.Cursor != "" {
		q.Set("cursor", f.Cursor)
	}
	return q.Encode()
}

// path is the delegations page of org that the filter shows.
func (f delegationsFilter) path(org string) string {
	p := orgBase(org) + "/delegations"
	if q := f.page(); q != "" {
		p += "?" + q
	}
	return p
}

type delegationsData struct {
	Grants  []service.GrantInfo
	Filter  delegationsFilter
	NextURL string
	// Back is the query of this page, which a revocation returns to.
	Back string
}

func (c *Console) delegations(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	org := r.PathValue("org")
	f := readDelegationsFilter(r.URL.Query())
	in := service.ListDelegationsInput{OrgArg: orgArg(r), Email: f.Email, IncludeRevoked: f.IncludeRevoked,
		Cursor: f.Cursor, Limit: 20}
	out, err := c.opts.Service.ListDelegations(r.Context(), s.caller, in)
	if err != nil {
		c.fail(w, r, s, err, orgBase(org)+"/delegations")
		return
	}
	c.show(w, r, s, "delegations", "Delegations and grants", org, secDelegations, delegationsData{
		Grants: out.Grants, Filter: f, NextURL: nextURL(orgBase(org)+"/delegations", f.query(), out.NextCursor),
		Back: f.page()})
}

// revokeDelegation revokes a grant, and so every token delegated from it.
// The form says which page of the list it came from (its filters and
// cursor, nothing else), to go back to it.
func (c *Console) revokeDelegation(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	org := r.PathValue("org")
	back := orgBase(org) + "/delegations"
	if ret, err := url.ParseQuery(r.PostForm.Get("back")); err == nil {
		back = readDelegationsFilter(ret).path(org)
	}
	out, err := c.opts.Service.RevokeDelegation(r.Context(), s.caller, service.RevokeDelegationInput{OrgArg: orgArg(r),
		GrantID: r.PathValue("grant")})
	if err != nil {
		c.fail(w, r, s, err, back)
		return
	}
	notice := "grant-revoked"
	if out.AlreadyRevoked {
		notice = "grant-already-revoked"
	}
	done(w, r, back, notice)
}
