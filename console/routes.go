package console

import (
	"net/http"

	"github.com/orgscope/orgscope/service"
)

// routes lays out the console. An organization's pages are under
// /console/o/{org}/; the platform's under /console/. Every handler asks
// the service, as the signed-in person, for what it shows and does: the
// service decides (an organization's administrator naming another
// organization is told it does not exist), and the console maps its
// answer to a page.
func (c *Console) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /console/{$}", c.home)
	mux.HandleFunc("GET /console/style.css", c.static("style.css", "text/css; charset=utf-8"))
	mux.HandleFunc("GET /console/console.js", c.static("console.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET "+LoginPath, c.login)
	mux.HandleFunc("GET "+CallbackPath, c.callback)
	mux.HandleFunc("POST "+SignOutPath, c.signOut)
	// The link an agent gives a person: an approval of their organization.
	mux.HandleFunc("GET "+ApprovalsPath+"{id}", c.showApproval)
	mux.HandleFunc("POST "+ApprovalsPath+"{id}", c.decideApproval)

	// The platform's pages (the service refuses them to an organization's
	// administrator: they need a global principal).
	mux.HandleFunc("GET /console/orgs", c.orgs)
	mux.HandleFunc("POST /console/orgs", c.createOrg)
	mux.HandleFunc("GET /console/flags", c.flagDefs)
	mux.HandleFunc("POST /console/flags", c.createFlag)
	mux.HandleFunc("POST /console/flags/{key}/delete", c.deleteFlag)
	mux.HandleFunc("GET /console/keys", c.keys)
	mux.HandleFunc("POST /console/keys/rotate", c.rotateKey)

	const o = "/console/o/{org}"
	mux.HandleFunc("GET "+o+"/{$}", c.org)
	mux.HandleFunc("POST "+o+"/rename", c.renameOrg)
	mux.HandleFunc("POST "+o+"/properties", c.setOrgProperty)
	mux.HandleFunc("POST "+o+"/properties/remove", c.removeOrgProperty)
	mux.HandleFunc("GET "+o+"/people", c.people)
	mux.HandleFunc("POST "+o+"/people", c.createPerson)
	mux.HandleFunc("GET "+o+"/people/{id}", c.person)
	mux.HandleFunc("POST "+o+"/people/{id}/status", c.setPersonStatus)
	mux.HandleFunc("POST "+o+"/people/{id}/role", c.setPersonRole)
	mux.HandleFunc("POST "+o+"/people/{id}/password", c.resetPassword)
	mux.HandleFunc("GET "+o+"/clients", c.clients)
	mux.HandleFunc("POST "+o+"/clients", c.createClient)
	mux.HandleFunc("GET "+o+"/clients/{id}", c.client)
	mux.HandleFunc("POST "+o+"/clients/{id}/rotate", c.rotateClient)
	mux.HandleFunc("POST "+o+"/clients/{id}/disable", c.disableClient)
	mux.HandleFunc("POST "+o+"/clients/{id}/enable", c.enableClient)
	mux.HandleFunc("POST "+o+"/clients/{id}/delete", c.deleteClient)
	mux.HandleFunc("POST "+o+"/clients/{id}/update", c.updateClient)
	mux.HandleFunc("POST "+o+"/clients/{id}/properties", c.setClientProperty)
	mux.HandleFunc("POST "+o+"/clients/{id}/keys", c.setClientKeys)
	mux.HandleFunc("GET "+o+"/flags", c.flags)
	mux.HandleFunc("POST "+o+"/flags/{key}", c.setFlag)
	mux.HandleFunc("POST "+o+"/flags/{key}/reset", c.resetFlag)
	mux.HandleFunc("GET "+o+"/delegations", c.delegations)
	mux.HandleFunc("POST "+o+"/delegations/{grant}/revoke", c.revokeDelegation)
	mux.HandleFunc("GET "+o+"/audit", c.audit)
	mux.HandleFunc("GET "+o+"/audit/export", c.exportAudit)
	mux.HandleFunc("GET "+o+"/approvals", c.approvals)
	mux.HandleFunc("GET "+o+"/approvals/{id}", c.showApproval)
	mux.HandleFunc("POST "+o+"/approvals/{id}", c.decideApproval)
	mux.HandleFunc("GET "+o+"/policy", c.policy)
	mux.HandleFunc("POST "+o+"/policy", c.dryRun)

	mux.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		c.messageLink(w, http.StatusNotFound, "Not found", "There is no such page in the console.", Path, "Go to the console")
	})
	return mux
}

// home sends a platform administrator to the organizations, and an
// organization's administrator to theirs.
func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	if s.platform() {
		http.Redirect(w, r, "/console/orgs", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, orgBase(s.home())+"/", http.StatusSeeOther)
}

// orgArg names the organization of the page.
func orgArg(r *http.Request) service.OrgArg { return service.OrgArg{OrgCode: r.PathValue("org")} }
