package console

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
)

// Feature flags, the audit trail, approvals, the policy and the signing
// keys.

type flagsData struct {
	Flags []service.FlagOutput
	Next  string
}

func (c *Console) flags(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	in := service.ListFlagsInput{OrgArg: orgArg(r), Cursor: r.URL.Query().Get("cursor"), Limit: 100}
	out, err := c.opts.Service.ListFlags(r.Context(), s.caller, in)
	if err != nil {
		c.fail(w, r, s, err, Path)
		return
	}
	c.show(w, r, s, "flags", "Feature flags", in.OrgCode, secFlags, flagsData{Flags: out.Flags, Next: out.NextCursor})
}

// flagValue turns what a form holds into the JSON value of a flag of a
// type: text as a JSON string for a string flag, the text itself (a
// number, true or false, any JSON) otherwise; the service checks it.
func flagValue(typ store.FlagType, text string) json.RawMessage {
	if typ == store.FlagString {
		b, _ := json.Marshal(text)
		return b
	}
	return json.RawMessage(strings.TrimSpace(text))
}

func (c *Console) setFlag(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	back := orgBase(r.PathValue("org")) + "/flags"
	in := service.SetFlagInput{OrgArg: orgArg(r), Key: r.PathValue("key"),
		Value: flagValue(store.FlagType(r.PostForm.Get("type")), r.PostForm.Get("value"))}
	if _, err := c.opts.Service.SetFlag(r.Context(), s.caller, in); err != nil {
		c.fail(w, r, s, err, back)
		return
	}
	done(w, r, back, "flag-set")
}

func (c *Console) resetFlag(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	back := orgBase(r.PathValue("org")) + "/flags"
	if _, err := c.opts.Service.ResetFlag(r.Context(), s.caller, service.FlagKeyInput{OrgArg: orgArg(r), Key: r.PathValue("key")}); err != nil {
		c.fail(w, r, s, err, back)
		return
	}
	done(w, r, back, "flag-reset")
}

// flagDefs lists the flag definitions (as the person's own organization
// sees them: definitions are the same for all).
func (c *Console) flagDefs(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	if !s.platform() {
		c.problem(w, r, s, http.StatusForbidden, "Not allowed",
			"Flag definitions are the platform's: only a platform administrator defines and deletes them. "+
				"You can set your organization's values on its Feature flags page.", orgBase(s.home())+"/flags", "Your organization's flags")
		return
	}
	in := service.ListFlagsInput{OrgArg: service.OrgArg{OrgCode: s.home()}, Cursor: r.URL.Query().Get("cursor"), Limit: 100}
	out, err := c.opts.Service.ListFlags(r.Context(), s.caller, in)
	if err != nil {
		c.fail(w, r, s, err, Path)
		return
	}
	c.show(w, r, s, "flagdefs", "Flag definitions", "", secFlagDefs, flagsData{Flags: out.Flags, Next: out.NextCursor})
}

func (c *Console) createFlag(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	f := r.PostForm
	typ := store.FlagType(f.Get("type"))
	in := service.CreateFlagInput{Key: strings.TrimSpace(f.Get("key")), Type: string(typ),
		DefaultValue: flagValue(typ, f.Get("default_value")), Description: f.Get("description")}
	if _, err := c.opts.Service.CreateFlag(r.Context(), s.caller, in); err != nil {
		c.fail(w, r, s, err, "/console/flags")
		return
	}
	done(w, r, "/console/flags", "flag-created")
}

func (c *Console) deleteFlag(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		c.fail(w, r, s, errorf("tick the box to confirm that the flag and every organization's value go for good"), "/console/flags")
		return
	}
	if _, err := c.opts.Service.DeleteFlag(r.Context(), s.caller, service.DeleteFlagInput{Key: r.PathValue("key")}); err != nil {
		c.fail(w, r, s, err, "/console/flags")
		return
	}
	done(w, r, "/console/flags", "flag-deleted")
}

// auditFilter reads the audit page's filters from its query. Times are
// UTC, as datetime-local fields give them (no zone).
type auditFilter struct {
	Since, Until, ClientID, Subject, Action, Decision string
}

func readAuditFilter(q url.Values) (auditFilter, time.Time, time.Time, error) {
	f := auditFilter{Since: q.Get("since"), Until: q.Get("until"), ClientID: strings.TrimSpace(q.Get("client_id")),
		Subject: strings.TrimSpace(q.Get("subject")), Action: strings.TrimSpace(q.Get("action")), Decision: q.Get("decision")}
	parse := func(field, v string) (time.Time, error) {
		if v == "" {
			return time.Time{}, nil
		}
		for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
			if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
				return t, nil
			}
		}
		return time.Time{}, errorf("%s %q is not a time like 2026-05-01T09:30 (UTC)", field, v)
	}
	since, err := parse("from", f.Since)
	if err != nil {
		return f, since, since, err
	}
	until, err := parse("to", f.Until)
	return f, since, until, err
}

func (f auditFilter) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"since": f.Since, "until": f.Until, "client_id": f.ClientID, "subject": f.Subject,
		"action": f.Action, "decision": f.Decision} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

type auditData struct {
	Events    []store.AuditEvent
	Filter    auditFilter
	Next      string
	Query     string
	ExportURL string
}

func (c *Console) audit(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	org := r.PathValue("org")
	back := orgBase(org) + "/audit"
	f, since, until, err := readAuditFilter(r.URL.Query())
	if err != nil {
		c.fail(w, r, s, err, back)
		return
	}
	out, err := c.opts.Service.ListAuditEvents(r.Context(), s.caller, service.ListAuditInput{OrgArg: orgArg(r),
		Cursor: r.URL.Query().Get("cursor"), Limit: 25, Since: since, Until: until, ClientID: f.ClientID,
		Subject: f.Subject, Action: f.Action, Decision: f.Decision})
	if err != nil {
		c.fail(w, r, s, err, back)
		return
	}
	q := f.query()
	export := back + "/export"
	if len(q) > 0 {
		export += "?" + q.Encode()
	}
	c.show(w, r, s, "audit", "Audit trail", org, secAudit, auditData{Events: out.Events, Filter: f,
		Next: nextURL(back, q, out.NextCursor), Query: q.Encode(), ExportURL: export})
}

// exportAudit writes the events the filters select as JSON lines, oldest
// first, as a download.
func (c *Console) exportAudit(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	org := r.PathValue("org")
	back := orgBase(org) + "/audit"
	f, since, until, err := readAuditFilter(r.URL.Query())
	if err != nil {
		c.fail(w, r, s, err, back)
		return
	}
	// Written to a buffer first: a refusal must be a page, not half a
	// file. An organization's trail is bounded by the retention.
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	enc := json.NewEncoder(bw)
	err = c.opts.Service.ExportAuditEvents(r.Context(), s.caller, service.ExportAuditInput{OrgCode: org, Since: since,
		Until: until, ClientID: f.ClientID, Subject: f.Subject, Action: f.Action, Decision: f.Decision},
		func(e store.AuditEvent) error { return enc.Encode(e) })
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		c.fail(w, r, s, err, back)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="audit-%s.jsonl"`, strings.Map(safeFileRune, org)))
	w.Write(buf.Bytes())
}

func safeFileRune(r rune) rune {
	if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' {
		return r
	}
	return '_'
}

func (c *Console) approvals(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	in := service.ListApprovalsInput{OrgArg: orgArg(r), Limit: 100}
	out, err := c.opts.Service.ListApprovals(r.Context(), s.caller, in)
	if err != nil {
		c.fail(w, r, s, err, Path)
		return
	}
	c.show(w, r, s, "approvals", "Approvals", in.OrgCode, secApprovals, out)
}

// approvalOrg is the organization of an approval page: the one in the
// path, or — on the link an agent gives — the person's own.
func approvalOrg(r *http.Request, s *session) string {
	if org := r.PathValue("org"); org != "" {
		return org
	}
	return s.home()
}

// approvalData is what the approval page shows.
type approvalData struct {
	View     service.ApprovalView
	Approval store.Approval
	Args     string
	Action   string
}

func (c *Console) showApproval(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	org := approvalOrg(r, s)
	view, err := c.opts.Service.GetApproval(r.Context(), s.caller, service.ApprovalInput{OrgArg: service.OrgArg{OrgCode: org},
		ApprovalID: r.PathValue("id")})
	if err != nil {
		c.fail(w, r, s, err, orgBase(org)+"/approvals")
		return
	}
	c.renderApproval(w, r, s, http.StatusOK, org, view, "", "")
}

func (c *Console) renderApproval(w http.ResponseWriter, r *http.Request, s *session, status int, org string, view service.ApprovalView, notice, problem string) {
	args := view.Approval.Args
	var pretty bytes.Buffer
	if json.Indent(&pretty, []byte(args), "", "  ") == nil {
		args = pretty.String()
	}
	v := c.page(s, r, "Approval", org, secApprovals, approvalData{View: view, Approval: view.Approval, Args: args, Action: r.URL.Path})
	v.Notice, v.Problem = notice, problem
	c.render(w, status, "approval", s, v)
}

func (c *Console) decideApproval(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	org := approvalOrg(r, s)
	in := service.ApprovalInput{OrgArg: service.OrgArg{OrgCode: org}, ApprovalID: r.PathValue("id")}
	back := orgBase(org) + "/approvals"
	view, err := c.opts.Service.GetApproval(ctx, s.caller, in)
	if err != nil {
		c.fail(w, r, s, err, back)
		return
	}
	var decided store.Approval
	var notice string
	switch r.PostForm.Get("decision") {
	case "approve":
		decided, err = c.opts.Service.ApproveCall(ctx, s.caller, in)
		notice = fmt.Sprintf("Approved. The agent may now repeat its call, once, before %s.", view.Approval.ExpiresAt.UTC().Format("15:04 MST"))
	case "deny":
		decided, err = c.opts.Service.DenyCall(ctx, s.caller, in)
		notice = "Denied. The call will not run."
	default:
		c.fail(w, r, s, errorf("choose Approve or Deny"), r.URL.Path)
		return
	}
	var se *service.Error
	if errors.As(err, &se) && se.Kind == service.KindConflict {
		if decided.ID != "" {
			view.Approval = decided
		}
		c.renderApproval(w, r, s, http.StatusConflict, org, view, "", se.Message)
		return
	}
	if err != nil {
		c.fail(w, r, s, err, back)
		return
	}
	view.Approval = decided
	c.renderApproval(w, r, s, http.StatusOK, org, view, notice, "")
}

type policyData struct {
	Info       *PolicyInfo
	ShowSource bool
	Clients    []service.ClientInfo
	Tools      []string
	ClientID   string
	Tool, Args string
	Result     *service.DryRunOutput
}

func (c *Console) policyPage(w http.ResponseWriter, r *http.Request, s *session, status int, d policyData) {
	in := service.ListClientsInput{OrgArg: orgArg(r), Limit: 100}
	out, err := c.opts.Service.ListClients(r.Context(), s.caller, in)
	if err != nil {
		c.fail(w, r, s, err, Path)
		return
	}
	d.Clients = out.Clients
	if c.opts.Policy != nil {
		info := c.opts.Policy()
		d.Info = &info
	}
	// The text may name other organizations: it is the platform's.
	d.ShowSource = s.platform()
	for _, a := range authz.Tools() {
		d.Tools = append(d.Tools, a.Name)
	}
	v := c.page(s, r, "Policy", in.OrgCode, secPolicy, d)
	c.render(w, status, "policy", s, v)
}

func (c *Console) policy(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	c.policyPage(w, r, s, http.StatusOK, policyData{Args: "{}"})
}

// dryRun asks the decision point how it would decide a call.
func (c *Console) dryRun(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	f := r.PostForm
	d := policyData{ClientID: f.Get("client_id"), Tool: f.Get("tool"), Args: f.Get("arguments")}
	out, err := c.opts.Service.DryRun(r.Context(), s.caller, service.DryRunInput{OrgArg: orgArg(r), ClientID: d.ClientID,
		Tool: d.Tool, Arguments: json.RawMessage(d.Args)})
	if err != nil {
		c.fail(w, r, s, err, orgBase(r.PathValue("org"))+"/policy")
		return
	}
	d.Result = &out
	c.policyPage(w, r, s, http.StatusOK, d)
}

func (c *Console) keys(w http.ResponseWriter, r *http.Request) {
	s, ok := c.signedIn(w, r)
	if !ok {
		return
	}
	out, err := c.opts.Service.ListSigningKeys(r.Context(), s.caller, service.ListSigningKeysInput{})
	if err != nil {
		c.fail(w, r, s, err, Path)
		return
	}
	c.show(w, r, s, "keys", "Signing keys", "", secKeys, out)
}

func (c *Console) rotateKey(w http.ResponseWriter, r *http.Request) {
	s, ok := c.form(w, r)
	if !ok {
		return
	}
	if _, err := c.opts.Service.RotateSigningKey(r.Context(), s.caller, service.RotateSigningKeyInput{}); err != nil {
		c.fail(w, r, s, err, "/console/keys")
		return
	}
	done(w, r, "/console/keys", "key-rotated")
}
