package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/orgscope/orgscope/authz"
	"github.com/orgscope/orgscope/store"
)

// Isolation property test: invariant 1 of DESIGN.md ("no tool returns or
// changes a record of an org other than an org-scoped principal's, whatever
// its arguments"), checked after every one of thousands of random calls.
//
// ORGSCOPE_ISOLATION_SEED picks the run (default isolationSeed; a failure
// prints the seed to rerun it) and ORGSCOPE_ISOLATION_CALLS its length
// (default isolationCalls).
const (
	isolationSeed  = 20261122
	isolationCalls = 3000
)

func isoEnvInt(t *testing.T, name string, def int64) int64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// isoPrincipal is one generated access token and what the test knows of it.
type isoPrincipal struct {
	name   string
	org    string // "" for global
	scopes []string
	held   map[string]bool
	token  string
}

func (p *isoPrincipal) String() string {
	if p.org == "" {
		return fmt.Sprintf("%s (global %v)", p.name, p.scopes)
	}
	return fmt.Sprintf("%s (%s %v)", p.name, p.org, p.scopes)
}

// isoState is the whole tenant state, read straight from the database with
// one query per table (SELECT *, so a column added later is compared too):
// every org's record, users, flag overrides and machine clients (with their
// secrets and cutoffs; global clients under ""), the number and newest ID
// of every org's audit events (the log is append-only), and the flag
// definitions. Reading through the store API instead would cost one query
// per org and listing, which under -race is most of the test's time.
type isoState struct {
	orgs      map[string]string
	users     map[string]map[string]string // org → user id → row
	emails    map[string]map[string]bool   // org → lower-cased emails
	overrides map[string]map[string]string // org → flag key → row
	clients   map[string]map[string]string // org ("" for global) → client id → its rows
	grants    map[string]map[string]string // org → grant id → its row and its delegations'
	audit     map[string]string            // org ("" for none) → count and newest id
	auditN    map[string]int               // org ("" for none) → count
	defs      map[string]string            // flag key → row
	flagTypes map[string]string            // flag key → type
}

type isoSnapshotter struct {
	conn    *sql.Conn // one connection, so that data_version means something
	stmts   map[string]*sql.Stmt
	version int64
	taken   int
}

var isoQueries = map[string]string{
	"orgs":      `SELECT * FROM orgs ORDER BY code`,
	"users":     `SELECT * FROM users ORDER BY org_code, id`,
	"overrides": `SELECT * FROM flag_overrides ORDER BY org_code, key`,
	"defs":      `SELECT * FROM flag_definitions ORDER BY key`,
	"audit":     `SELECT org_code, count(*), max(id) FROM audit_events GROUP BY org_code`,
	"clients":   `SELECT * FROM clients ORDER BY id`,
	"secrets": `SELECT s.*, coalesce(c.org_code, '') AS client_org FROM client_secrets s JOIN clients c ON c.id = s.client_id
		ORDER BY s.client_id, s.hash`,
	"cutoffs": `SELECT k.*, coalesce(c.org_code, '') AS client_org FROM client_cutoffs k JOIN clients c ON c.id = k.client_id
		ORDER BY k.client_id`,
	"grants":      `SELECT * FROM grants ORDER BY id`,
	"delegations": `SELECT * FROM delegations ORDER BY token_id`,
}

func newIsoSnapshotter(t *testing.T, path string) *isoSnapshotter {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=query_only(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s := &isoSnapshotter{conn: conn, stmts: map[string]*sql.Stmt{}}
	for name, q := range isoQueries {
		if s.stmts[name], err = conn.PrepareContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return s
}

// dataVersion is SQLite's PRAGMA data_version: it changes on this
// connection when, and only when, another connection has committed a
// change to the database file.
func (s *isoSnapshotter) dataVersion(t *testing.T) int64 {
	t.Helper()
	var v int64
	if err := s.conn.QueryRowContext(t.Context(), "PRAGMA data_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// next returns the state after a call: prev itself when nothing was
// committed since it was taken (most calls are refusals and reads), a
// fresh snapshot otherwise.
func (s *isoSnapshotter) next(t *testing.T, prev *isoState) *isoState {
	t.Helper()
	if v := s.dataVersion(t); prev != nil && v == s.version {
		return prev
	}
	return s.take(t)
}

// rows runs one of the snapshot queries and calls fn with each row, by
// column name, and its rendering.
func (s *isoSnapshotter) rows(t *testing.T, name string, fn func(col map[string]string, row string)) {
	t.Helper()
	rows, err := s.stmts[name].Query()
	if err != nil {
		t.Fatalf("snapshot %s: %v", name, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var b []byte
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		col := make(map[string]string, len(cols))
		b = b[:0]
		for i, c := range cols {
			col[c] = vals[i].String
			b = append(b, c...)
			if vals[i].Valid {
				b = strconv.AppendQuote(append(b, '='), vals[i].String)
			} else {
				b = append(b, "=NULL"...)
			}
			b = append(b, ' ')
		}
		fn(col, string(b))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

func (s *isoSnapshotter) take(t *testing.T) *isoState {
	t.Helper()
	s.version = s.dataVersion(t)
	s.taken++
	sn := &isoState{orgs: map[string]string{}, users: map[string]map[string]string{}, emails: map[string]map[string]bool{},
		overrides: map[string]map[string]string{}, clients: map[string]map[string]string{}, grants: map[string]map[string]string{},
		audit: map[string]string{}, defs: map[string]string{}, flagTypes: map[string]string{}}
	s.rows(t, "orgs", func(c map[string]string, row string) { sn.orgs[c["code"]] = row })
	s.rows(t, "users", func(c map[string]string, row string) {
		org := c["org_code"]
		if sn.users[org] == nil {
			sn.users[org], sn.emails[org] = map[string]string{}, map[string]bool{}
		}
		sn.users[org][c["id"]] = row
		sn.emails[org][strings.ToLower(c["email"])] = true
	})
	s.rows(t, "overrides", func(c map[string]string, row string) {
		org := c["org_code"]
		if sn.overrides[org] == nil {
			sn.overrides[org] = map[string]string{}
		}
		sn.overrides[org][c["key"]] = row
	})
	s.rows(t, "defs", func(c map[string]string, row string) { sn.defs[c["key"]], sn.flagTypes[c["key"]] = row, c["type"] })
	client := func(org, id, row string) {
		if sn.clients[org] == nil {
			sn.clients[org] = map[string]string{}
		}
		sn.clients[org][id] += row + "\n"
	}
	s.rows(t, "clients", func(c map[string]string, row string) { client(c["org_code"], c["id"], row) })
	s.rows(t, "secrets", func(c map[string]string, row string) { client(c["client_org"], c["client_id"], "  secret "+row) })
	s.rows(t, "cutoffs", func(c map[string]string, row string) { client(c["client_org"], c["client_id"], "  cutoff "+row) })
	grant := func(org, id, row string) {
		if sn.grants[org] == nil {
			sn.grants[org] = map[string]string{}
		}
		sn.grants[org][id] += row + "\n"
	}
	s.rows(t, "grants", func(c map[string]string, row string) { grant(c["org_code"], c["id"], row) })
	s.rows(t, "delegations", func(c map[string]string, row string) { grant(c["org_code"], c["grant_id"], "  delegation "+row) })
	sn.auditN = map[string]int{}
	s.rows(t, "audit", func(c map[string]string, row string) {
		sn.audit[c["org_code"]] = row
		sn.auditN[c["org_code"]], _ = strconv.Atoi(c["count(*)"])
	})
	return sn
}

// auditTotal is the number of audit events in every org.
func (sn *isoState) auditTotal() int {
	n := 0
	for _, c := range sn.auditN {
		n += c
	}
	return n
}

// dataState renders one org without its audit events.
func (sn *isoState) dataState(org string) string {
	st := sn.orgState(org)
	return st[:strings.LastIndex(st, "audit ")]
}

// orgState renders everything of one org, leaving out its overrides of
// the flag keys in skip.
func (sn *isoState) orgState(org string, skip ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "org %s\n", sn.orgs[org])
	for _, id := range slices.Sorted(maps.Keys(sn.users[org])) {
		fmt.Fprintf(&b, "user %s\n", sn.users[org][id])
	}
	for _, k := range slices.Sorted(maps.Keys(sn.overrides[org])) {
		if !slices.Contains(skip, k) {
			fmt.Fprintf(&b, "override %s\n", sn.overrides[org][k])
		}
	}
	for _, id := range slices.Sorted(maps.Keys(sn.clients[org])) {
		fmt.Fprintf(&b, "client %s", sn.clients[org][id])
	}
	for _, id := range slices.Sorted(maps.Keys(sn.grants[org])) {
		fmt.Fprintf(&b, "grant %s", sn.grants[org][id])
	}
	fmt.Fprintf(&b, "audit %s\n", sn.audit[org])
	return b.String()
}

// isoAllOrgs returns every org code either snapshot knows, including "" (the
// audit events of no org) and orgs that only have audit events.
func isoAllOrgs(a, b *isoState) []string {
	set := map[string]bool{"": true}
	for _, sn := range []*isoState{a, b} {
		for _, m := range []map[string]string{sn.orgs, sn.audit} {
			for k := range m {
				set[k] = true
			}
		}
		for k := range sn.users {
			set[k] = true
		}
		for k := range sn.overrides {
			set[k] = true
		}
		for k := range sn.clients {
			set[k] = true
		}
		for k := range sn.grants {
			set[k] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// isoChangedOrgs lists the orgs whose state differs, ignoring overrides of skip.
func isoChangedOrgs(before, after *isoState, skip ...string) []string {
	var out []string
	for _, org := range isoAllOrgs(before, after) {
		if before.orgState(org, skip...) != after.orgState(org, skip...) {
			out = append(out, org)
		}
	}
	return out
}

func isoDefsState(sn *isoState) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(sn.defs)) {
		fmt.Fprintf(&b, "%s\n", sn.defs[k])
	}
	return b.String()
}

// isoWorld is what the generator knows: the records of every org, ever, so
// that it can aim calls at other orgs' records and recognise them in
// answers.
type isoWorld struct {
	orgs      []string            // existing orgs
	everOrgs  map[string]bool     // every org that ever existed
	userOrg   map[string]string   // every user id ever seen → its org
	orgUsers  map[string][]string // org → its current user ids
	deleted   []string            // ids of users that were deleted
	emailOrgs map[string]map[string]bool
	flags     []string          // defined flag keys
	flagTypes map[string]string // and their types
	cursors   []string          // next_cursor values seen in answers
	clientOrg map[string]string // every machine client ever seen → its org ("" global)
	clientIDs []string          // and their ids, sorted
	grantOrg  map[string]string // every grant ever seen → its org
	grantIDs  []string          // and their ids, sorted
}

func (w *isoWorld) learn(sn *isoState) {
	w.orgs = slices.Sorted(maps.Keys(sn.orgs))
	for _, o := range w.orgs {
		w.everOrgs[o] = true
	}
	current := map[string]bool{}
	w.orgUsers = map[string][]string{}
	for org, users := range sn.users {
		for id := range users {
			w.userOrg[id] = org
			current[id] = true
			w.orgUsers[org] = append(w.orgUsers[org], id)
		}
		slices.Sort(w.orgUsers[org])
	}
	w.deleted = w.deleted[:0]
	for _, id := range slices.Sorted(maps.Keys(w.userOrg)) {
		if !current[id] {
			w.deleted = append(w.deleted, id)
		}
	}
	for org, emails := range sn.emails {
		for e := range emails {
			if w.emailOrgs[e] == nil {
				w.emailOrgs[e] = map[string]bool{}
			}
			w.emailOrgs[e][org] = true
		}
	}
	w.flags, w.flagTypes = slices.Sorted(maps.Keys(sn.defs)), sn.flagTypes
	for org, clients := range sn.clients {
		for id := range clients {
			if _, known := w.clientOrg[id]; !known {
				w.clientOrg[id] = org
				w.clientIDs = append(w.clientIDs, id)
			}
		}
	}
	slices.Sort(w.clientIDs)
	for org, grants := range sn.grants {
		for id := range grants {
			if _, known := w.grantOrg[id]; !known {
				w.grantOrg[id] = org
				w.grantIDs = append(w.grantIDs, id)
			}
		}
	}
	slices.Sort(w.grantIDs)
}

// isoGen makes random arguments, aimed as often at other orgs' records,
// records that do not exist and malformed values as at the principal's own.
type isoGen struct {
	r   *rand.Rand
	w   *isoWorld
	seq int
}

func (g *isoGen) pick(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return xs[g.r.IntN(len(xs))]
}

func (g *isoGen) chance(p float64) bool { return g.r.Float64() < p }

func (g *isoGen) otherOrg(own string) string {
	var others []string
	for _, o := range g.w.orgs {
		if o != own {
			others = append(others, o)
		}
	}
	return g.pick(others)
}

var isoMalformedOrgCodes = []string{"", "acme", "ORG_ACME", "org_", "org_a-b", "org_" + strings.Repeat("x", 70), "org_i01 ", "org_i01'--", "*"}

// orgCode returns an org_code argument for a principal of org own (""
// for global), or "" to leave it out.
func (g *isoGen) orgCode(own string) (string, bool) {
	switch x := g.r.Float64(); {
	case x < 0.30 && own != "":
		return "", false
	case x < 0.45 && own != "":
		return own, true
	case x < 0.75:
		return g.otherOrg(own), true
	case x < 0.87:
		return fmt.Sprintf("org_nope_%d", g.r.IntN(5)), true
	case x < 0.95:
		return g.pick(isoMalformedOrgCodes), true
	}
	return "", false
}

// userID returns a user_id argument: of the org the call acts on, of
// another org, deleted, never existing, or malformed.
func (g *isoGen) userID(org string) any {
	switch x := g.r.Float64(); {
	case x < 0.45:
		if id := g.pick(g.w.orgUsers[org]); id != "" {
			return id
		}
		fallthrough
	case x < 0.75:
		var others []string
		for o, ids := range g.w.orgUsers {
			if o != org {
				others = append(others, ids...)
			}
		}
		slices.Sort(others)
		return g.pick(others)
	case x < 0.82:
		if id := g.pick(g.w.deleted); id != "" {
			return id
		}
		fallthrough
	case x < 0.90:
		return fmt.Sprintf("usr_%032x", g.r.Uint64())
	case x < 0.97:
		return g.pick([]string{"", "usr_", "usr_XYZ", "usr_0123456789ABCDEF0123456789ABCDEF", "' OR 1=1 --", "usr_0123456789abcdef0123456789abcdef0"})
	}
	return 42
}

// email returns an email argument: new, taken in the org, taken in another
// org (in any case), or malformed.
func (g *isoGen) email(org string) any {
	switch x := g.r.Float64(); {
	case x < 0.35:
		g.seq++
		return fmt.Sprintf("new%d.%d@example.com", g.seq, g.r.IntN(1000))
	case x < 0.80:
		all := slices.Sorted(maps.Keys(g.w.emailOrgs))
		e := g.pick(all)
		if g.chance(0.3) {
			e = strings.ToUpper(e)
		}
		return e
	case x < 0.97:
		return g.pick([]string{"", "not-an-email", "a@", "Ann <ann@example.com>", "a b@example.com", strings.Repeat("x", 260) + "@x.io"})
	}
	return true
}

// clientID returns a client_id argument: of the org the call acts on, of
// another org, global, never existing, or malformed.
func (g *isoGen) clientID(org string) any {
	return g.ownedID(org, g.w.clientIDs, g.w.clientOrg, "%016x%016x",
		[]string{"", "not an id", "' OR 1=1 --", strings.Repeat("c", 130)}, 9)
}

// grantID returns a grant_id argument: of the org the call acts on, of
// another org, never existing, or malformed.
func (g *isoGen) grantID(org string) any {
	return g.ownedID(org, g.w.grantIDs, g.w.grantOrg, "grt_%016x%016x",
		[]string{"", "grt_", "GRT_0123456789abcdef0123456789abcdef", "' OR 1=1 --"}, 11)
}

// ownedID returns an id argument: one of ids (each of the org owner
// names) of the org the call acts on or of another, a well-formed one that
// never existed (fresh, formatted with two random numbers), one of
// malformed, or notString, a value of another type.
func (g *isoGen) ownedID(org string, ids []string, owner map[string]string, fresh string, malformed []string, notString int) any {
	var own, others []string
	for _, id := range ids {
		if owner[id] == org {
			own = append(own, id)
		} else {
			others = append(others, id)
		}
	}
	switch x := g.r.Float64(); {
	case x < 0.45 && len(own) > 0:
		return g.pick(own)
	case x < 0.8:
		return g.pick(others)
	case x < 0.9:
		return fmt.Sprintf(fresh, g.r.Uint64(), g.r.Uint64())
	case x < 0.97:
		return g.pick(malformed)
	}
	return notString
}

// scopes returns a random scope list: mostly some of the principal's own,
// else any, now and then with one no token has.
func (g *isoGen) scopes(p *isoPrincipal) any {
	from := matrixScopes
	if len(p.scopes) > 0 && g.chance(0.7) {
		from = p.scopes
	}
	var out []string
	for _, s := range from {
		if g.chance(0.4) {
			out = append(out, s)
		}
	}
	switch {
	case g.chance(0.05):
		return append(out, "admin")
	case g.chance(0.05):
		return "read:users"
	}
	return out
}

func (g *isoGen) flagKey() any {
	switch x := g.r.Float64(); {
	case x < 0.65:
		if k := g.pick(g.w.flags); k != "" {
			return k
		}
		fallthrough
	case x < 0.85:
		return fmt.Sprintf("nope_%d", g.r.IntN(4))
	case x < 0.97:
		return g.pick([]string{"", "Dark_Mode", "1flag", "dark-mode", strings.Repeat("k", 70)})
	}
	return 7
}

func (g *isoGen) jsonValue() any {
	switch g.r.IntN(9) {
	case 0:
		return g.chance(0.5)
	case 1:
		return g.r.IntN(2000) - 1000
	case 2:
		return 1.5
	case 3:
		return fmt.Sprintf("v%d", g.r.IntN(100))
	case 4:
		return map[string]any{"steps": g.r.IntN(9), "video": g.chance(0.5)}
	case 5:
		return []any{1, "two", nil}
	case 6:
		return nil
	case 7:
		return "org_i01" // a string that looks like another org's code
	}
	return strings.Repeat("x", 9000)
}

// valueOf returns a value of the flag type typ (any value for json).
func (g *isoGen) valueOf(typ string) any {
	switch typ {
	case "boolean":
		return g.chance(0.5)
	case "integer":
		return g.r.IntN(100)
	case "string":
		return g.pick([]string{"dark", "light", "org_i02"})
	}
	return g.jsonValue()
}

func (g *isoGen) limit(args map[string]any) {
	switch x := g.r.Float64(); {
	case x < 0.5:
	case x < 0.9:
		args["limit"] = 1 + g.r.IntN(4)
	default:
		args["limit"] = g.pick([]string{"-1", "0", "101", "ten"})
		if n, err := strconv.Atoi(args["limit"].(string)); err == nil {
			args["limit"] = n
		}
	}
	if g.chance(0.35) {
		if c := g.pick(g.w.cursors); c != "" && g.chance(0.85) {
			args["cursor"] = c
		} else {
			args["cursor"] = g.pick([]string{"garbage", "eyJ2IjoxLCJsIjoidXNlcnMiLCJvIjoib3JnX2kwMSIsImsiOiJ1c3JfIn0", ""})
		}
	}
}

// args returns random arguments for tool called by p (nil for none).
func (g *isoGen) args(p *isoPrincipal, tool string) map[string]any {
	a := map[string]any{}
	if tool == "whoami" {
		if g.chance(0.1) {
			a["org_code"] = g.otherOrg("")
			return a
		}
		return nil
	}
	tenant := !slices.Contains([]string{"list_organizations", "create_organization", "create_feature_flag", "delete_feature_flag"}, tool)
	if tool == "create_client" && p.org == "" && g.chance(0.3) {
		tenant = false // a global client instead
		a["global"] = true
	}
	target := p.org
	if tenant {
		if code, ok := g.orgCode(p.org); ok {
			a["org_code"] = code
			if p.org == "" {
				target = code
			}
		}
	}
	if target == "" {
		target = g.pick(g.w.orgs)
	}
	switch tool {
	case "list_users":
		g.limit(a)
		if g.chance(0.2) {
			a["email_prefix"] = g.pick([]string{"new", "u", "N", "%", "_"})
		}
		if g.chance(0.2) {
			a["name_prefix"] = g.pick([]string{"Given", "F", "x"})
		}
		if g.chance(0.2) {
			a["status"] = g.pick([]string{"active", "suspended", "gone"})
		}
	case "get_user", "delete_user":
		a["user_id"] = g.userID(target)
	case "create_user":
		a["email"] = g.email(target)
		if g.chance(0.3) {
			a["role"] = g.pick([]string{"admin", "member", "owner"})
		}
		if g.chance(0.3) {
			a["given_name"] = g.pick([]string{"Ann", " Bo ", "", strings.Repeat("n", 120)})
		}
	case "update_user":
		a["user_id"] = g.userID(target)
		for _, f := range []struct {
			name   string
			values []any
		}{
			{"email", []any{g.email(target)}},
			{"given_name", []any{"Changed", "", "Other", nil}},
			{"family_name", []any{"Name", "Lee", strings.Repeat("f", 101)}},
			{"status", []any{"active", "suspended", "suspended", "gone"}},
			{"role", []any{"admin", "member", "member", "root"}},
		} {
			if g.chance(0.25) {
				a[f.name] = f.values[g.r.IntN(len(f.values))]
			}
		}
	case "get_organization":
	case "update_organization":
		if g.chance(0.6) {
			a["name"] = g.pick([]string{"Renamed", "  ", "", "Org " + strconv.Itoa(g.r.IntN(9))})
		}
		if g.chance(0.5) {
			props := map[string]any{}
			for range 1 + g.r.IntN(3) {
				k := g.pick([]string{"plan", "region", "tier", "Bad-Key", "notes"})
				switch g.r.IntN(3) {
				case 0:
					props[k] = nil
				case 1:
					props[k] = "value" + strconv.Itoa(g.r.IntN(9))
				default:
					props[k] = strings.Repeat("p", 1100)
				}
			}
			a["properties"] = props
		}
	case "list_organizations", "list_feature_flags", "list_audit_events":
		g.limit(a)
	case "create_organization":
		switch x := g.r.Float64(); {
		case x < 0.5:
			g.seq++
			a["org_code"] = fmt.Sprintf("org_new_%d", g.seq)
		case x < 0.8:
			a["org_code"] = g.pick(g.w.orgs)
		default:
			a["org_code"] = g.pick(isoMalformedOrgCodes)
		}
		a["name"] = g.pick([]string{"New Org", "Other Org", "New Org", "  ", ""})
		if g.chance(0.3) {
			a["properties"] = map[string]any{"plan": "free"}
		}
	case "get_feature_flag", "reset_feature_flag":
		a["key"] = g.flagKey()
	case "set_feature_flag":
		a["key"] = g.flagKey()
		switch k, _ := a["key"].(string); {
		case g.chance(0.6):
			a["value"] = g.valueOf(g.w.flagTypes[k])
		case g.chance(0.95):
			a["value"] = g.jsonValue()
		}
	case "create_feature_flag":
		if g.chance(0.5) {
			g.seq++
			a["key"] = fmt.Sprintf("made_%d", g.seq)
		} else {
			a["key"] = g.flagKey()
		}
		a["type"] = g.pick([]string{"boolean", "string", "integer", "json", "float"})
		if g.chance(0.6) {
			a["default_value"] = g.valueOf(a["type"].(string))
		} else {
			a["default_value"] = g.jsonValue()
		}
	case "delete_feature_flag":
		a["key"] = g.flagKey()
	case "list_clients":
		g.limit(a)
		if g.chance(0.15) {
			a["global"] = true
		}
	case "create_client":
		g.seq++
		a["name"] = g.pick([]string{fmt.Sprintf("agent %d", g.seq), "  ", "org_i03 agent"})
		a["scopes"] = g.scopes(p)
		if g.chance(0.3) {
			a["token_ttl_seconds"] = g.pick([]string{"60", "900", "30", "90000"})
			a["token_ttl_seconds"], _ = strconv.Atoi(a["token_ttl_seconds"].(string))
		}
		if g.chance(0.2) {
			a["properties"] = map[string]any{"tier": g.pick([]string{"gold", "org_i05"})}
		}
		if g.chance(0.1) {
			a["delegate"] = true
		}
		if g.chance(0.05) && p.org != "" {
			a["global"] = true
		}
	case "rotate_client_secret":
		a["client_id"] = g.clientID(target)
		if g.chance(0.5) {
			a["grace_seconds"] = g.pick([]string{"0", "3600", "-5"})
			a["grace_seconds"], _ = strconv.Atoi(a["grace_seconds"].(string))
		}
	case "disable_client":
		a["client_id"] = g.clientID(target)
	case "list_delegations":
		g.limit(a)
		if g.chance(0.3) {
			a["user_id"] = g.userID(target)
		}
		if g.chance(0.15) {
			a["email"] = g.email(target)
		}
		if g.chance(0.2) {
			a["include_revoked"] = true
		}
	case "revoke_delegation":
		a["grant_id"] = g.grantID(target)
	}
	return a
}

var (
	isoUserIDRE  = regexp.MustCompile(`usr_[0-9a-f]{32}`)
	isoOrgCodeRE = regexp.MustCompile(`org_[a-z0-9_]+`)
	isoEmailRE   = regexp.MustCompile(`[^\s"'<>@]+@[^\s"'<>@]+\.[a-z]+`)
	isoClientRE  = regexp.MustCompile(`\b[0-9a-f]{32}\b`)
)

// TestTenantIsolationProperty generates orgs, users, flags, overrides and
// audit events, and org-scoped principals (some bound to an org that does
// not exist) and global ones with random sets of scopes; then makes random
// calls of every tool through the HTTP stack, aimed as often at other orgs'
// records as at the caller's. After each call it checks:
//
//	(a) nothing outside the org the call may act on changed — for an
//	    org-scoped principal its own org; for a global one the org it named
//	    (create_organization: the new org; delete_feature_flag: any org's
//	    override of the deleted flag) — and flag definitions changed only
//	    by a global principal;
//	(b) the answer holds no user id, org code or email of another org that
//	    the arguments did not name themselves;
//	(c) a call refused for scope (403) and any other refusal (a tool
//	    error) changed nothing at all;
//	(d) the HTTP layer refused exactly the calls whose scope the principal
//	    lacks, computed from toolScopes, with the tool's scope in the
//	    challenge.
func TestTenantIsolationProperty(t *testing.T) {
	seed := isoEnvInt(t, "ORGSCOPE_ISOLATION_SEED", isolationSeed)
	calls := int(isoEnvInt(t, "ORGSCOPE_ISOLATION_CALLS", isolationCalls))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("isolation property failed with seed %d: rerun with ORGSCOPE_ISOLATION_SEED=%d ORGSCOPE_ISOLATION_CALLS=%d",
				seed, seed, calls)
		}
	})
	r := rand.New(rand.NewPCG(uint64(seed), 0x15014710))
	f := newInproc(t, "")
	ctx := t.Context()

	// The catalog and this test's table must agree, so that every tool is called.
	var catalog, table []string
	for _, s := range authz.Tools() {
		catalog = append(catalog, s.Name)
	}
	for _, ts := range toolScopes {
		table = append(table, ts.name)
	}
	if !slices.Equal(catalog, table) {
		t.Fatalf("the catalog lists %v; this test knows %v", catalog, table)
	}

	// The world: ten orgs with 2–4 users each (some emails shared between
	// orgs), six flags, random overrides, and audit events in every org.
	const nOrgs = 10
	var orgCodes []string
	for i := range nOrgs {
		code := fmt.Sprintf("org_i%02d", i)
		orgCodes = append(orgCodes, code)
		if _, err := f.store.CreateOrg(ctx, store.Org{Code: code, Name: fmt.Sprintf("Org %d", i),
			Properties: map[string]string{"plan": []string{"free", "team", "enterprise"}[i%3]}}); err != nil {
			t.Fatal(err)
		}
		for j := range 2 + r.IntN(3) {
			email := fmt.Sprintf("user%d@i%02d.example", j, i)
			if j == 0 {
				email = "shared@example.com"
			}
			_, err := f.store.CreateUser(ctx, store.User{ID: store.NewID(store.UserIDPrefix), OrgCode: code, Email: email,
				GivenName: "Given", FamilyName: fmt.Sprintf("F%d", j), Status: store.UserActive, Role: store.RoleMember})
			if err != nil {
				t.Fatal(err)
			}
		}
		for k := range 2 {
			if err := f.store.AppendAuditEvent(ctx, store.AuditEvent{OrgCode: code, Subject: "seed", ClientID: "seed",
				Action: "seeded", Target: fmt.Sprintf("%s-%d", code, k), Decision: store.DecisionAllow, Outcome: store.OutcomeOK}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, def := range []store.FlagDefinition{
		{Key: "dark_mode", Type: store.FlagBoolean, DefaultValue: json.RawMessage(`false`)},
		{Key: "beta_ui", Type: store.FlagBoolean, DefaultValue: json.RawMessage(`true`)},
		{Key: "max_seats", Type: store.FlagInteger, DefaultValue: json.RawMessage(`10`)},
		{Key: "theme", Type: store.FlagString, DefaultValue: json.RawMessage(`"classic"`)},
		{Key: "region", Type: store.FlagString, DefaultValue: json.RawMessage(`"eu"`)},
		{Key: "onboarding", Type: store.FlagJSON, DefaultValue: json.RawMessage(`{"steps":3}`)},
	} {
		if _, err := f.store.CreateFlag(ctx, def); err != nil {
			t.Fatal(err)
		}
	}
	for _, code := range orgCodes {
		for _, ov := range []struct{ key, value string }{{"dark_mode", `true`}, {"max_seats", `25`}, {"theme", `"dark"`}} {
			if r.IntN(2) == 0 {
				if _, err := f.store.SetFlagOverride(ctx, code, ov.key, json.RawMessage(ov.value)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}

	// Machine clients: two in every org, and two global ones.
	for _, org := range append(slices.Clone(orgCodes), "") {
		for range 2 {
			_, err := f.store.CreateClient(ctx, store.Client{ID: fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64()), Name: "seeded agent",
				Kind: store.ClientMachine, OrgCode: org, Secrets: []store.ClientSecret{{Hash: fmt.Sprintf("%064x", r.Uint64())}},
				Scopes: []string{"read:users"}, GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "client_secret_basic"})
			if err != nil {
				t.Fatal(err)
			}
		}
	}

	// Grants: about half the people signed in with an app; an agent of
	// their org acts for some of them (a live delegated token).
	for _, org := range orgCodes {
		users, _, err := f.store.ListUsers(ctx, org, store.UserFilter{}, store.Page{Limit: store.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		agents, _, err := f.store.ListClients(ctx, store.ClientFilter{OrgCode: org}, store.Page{Limit: 1})
		if err != nil || len(agents) == 0 {
			t.Fatalf("agents of %s: %v", org, err)
		}
		for _, u := range users {
			if r.IntN(2) == 0 {
				continue
			}
			g := store.Grant{ID: store.NewID(store.GrantIDPrefix), ClientID: "https://app.example/client.json", OrgCode: org,
				UserID: u.ID, Scopes: []string{"read:users"}, Resource: inprocURL + "/mcp"}
			if err := f.store.CreateGrant(ctx, g); err != nil {
				t.Fatal(err)
			}
			if r.IntN(2) == 0 {
				now := time.Now()
				if err := f.store.CreateDelegation(ctx, store.Delegation{TokenID: fmt.Sprintf("jti-%x", r.Uint64()), GrantID: g.ID,
					OrgCode: org, UserID: u.ID, ClientID: agents[0].ID, ActorChain: []string{agents[0].ID}, SubjectTokenID: "jti-seed",
					Scopes: []string{"read:users"}, Purpose: "seeded", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}

	// Principals: org-scoped ones in every org (two bound to an org that
	// does not exist) and global ones, each scope held with probability 0.6.
	var principals []*isoPrincipal
	newPrincipal := func(org string) {
		p := &isoPrincipal{name: fmt.Sprintf("p%02d", len(principals)), org: org, held: map[string]bool{}}
		for _, s := range append(slices.Clone(matrixScopes), "read:grants", "write:grants") {
			if r.Float64() < 0.6 {
				p.scopes = append(p.scopes, s)
				p.held[s] = true
			}
		}
		p.token = f.token(t, org, strings.Join(p.scopes, " "), p.name)
		principals = append(principals, p)
	}
	for i := range 3 * nOrgs {
		newPrincipal(orgCodes[i%nOrgs])
	}
	newPrincipal("org_ghost")
	newPrincipal("org_nope_1")
	for range 10 {
		newPrincipal("")
	}
	byName := map[string]*isoPrincipal{}
	for _, p := range principals {
		byName[p.name] = p
	}

	snap := newIsoSnapshotter(t, f.dbPath)
	w := &isoWorld{everOrgs: map[string]bool{}, userOrg: map[string]string{}, emailOrgs: map[string]map[string]bool{},
		clientOrg: map[string]string{}, grantOrg: map[string]string{}}
	before := snap.take(t)
	w.learn(before)
	g := &isoGen{r: r, w: w}

	var (
		nAllowed, nForbidden, nToolErrors, nCrossOrg, nGlobalOnly int
		errorKinds                                                = map[string]int{}
		perTool                                                   = map[string][3]int{}
		violations                                                int
	)
	start := time.Now()
	for i := range calls {
		p := principals[r.IntN(len(principals))]
		ts := toolScopes[r.IntN(len(toolScopes))]
		args := g.args(p, ts.name)
		argJSON, _ := json.Marshal(args)
		// Count the calls of org-scoped principals that name another
		// org's org_code or user_id.
		named, _ := args["org_code"].(string)
		id, _ := args["user_id"].(string)
		if p.org != "" && ((named != "" && named != p.org && w.everOrgs[named]) || (w.userOrg[id] != "" && w.userOrg[id] != p.org)) {
			nCrossOrg++
		}

		rec := f.callTool(p.token, ts.name, args)
		after := snap.next(t, before)
		w.learn(after)

		fail := func(format string, a ...any) {
			violations++
			t.Errorf("call %d: %s calls %s %s → HTTP %d %s\n  %s", i, p, ts.name, argJSON, rec.Code,
				isoTruncate(rec.Body.String(), 600), fmt.Sprintf(format, a...))
		}
		// Every call is one decision, and the audit trail records exactly
		// one event for it.
		if d := after.auditTotal() - before.auditTotal(); d != 1 {
			fail("the call added %d audit events, want 1", d)
		}
		// A refusal changes nothing but the trail, and records the refusal
		// where the principal may see it: in its own org, or for a global
		// principal in the org it named or in none.
		unchanged := func(why string) {
			if isoDefsState(before) != isoDefsState(after) {
				fail("%s, yet flag definitions changed", why)
			}
			recordedIn := []string{p.org}
			if p.org == "" {
				named, _ := args["org_code"].(string)
				recordedIn = []string{named, ""}
			}
			for _, org := range isoChangedOrgs(before, after) {
				if before.dataState(org) != after.dataState(org) || !slices.Contains(recordedIn, org) {
					fail("%s, yet org %q changed:\nbefore:\n%safter:\n%s", why, org, before.orgState(org), after.orgState(org))
				}
			}
		}

		permitted := scopeGrants(p.held, ts.scope)
		counts := perTool[ts.name]
		switch {
		case rec.Code == http.StatusForbidden:
			nForbidden++
			counts[1]++
			if permitted {
				fail("refused with 403 though the token grants %q", ts.scope)
			}
			ch, err := oauthex.ParseWWWAuthenticate(rec.Header().Values("WWW-Authenticate"))
			if err != nil || len(ch) != 1 || ch[0].Params["error"] != "insufficient_scope" ||
				!sameScopes(ch[0].Params["scope"], append(heldScopes(p.held), ts.scope)) ||
				ch[0].Params["resource_metadata"] != inprocMetadataURL {
				fail("403 challenge %v (%v), want insufficient_scope for %q", rec.Header().Values("WWW-Authenticate"), err, ts.scope)
			}
			unchanged("a 403")
		case rec.Code != http.StatusOK:
			fail("HTTP %d, want 200 or 403", rec.Code)
		default:
			if !permitted {
				fail("let through though the token lacks %q", ts.scope)
			}
			res, err := decodeInprocResult(rec)
			if err != nil || res.Error != nil || res.Result == nil {
				fail("not a tool result (a JSON-RPC error means the server failed, not the caller)")
				break
			}
			text := res.text()
			if res.Result.IsError {
				nToolErrors++
				counts[2]++
				errorKinds[isoErrorKind(text)]++
				if isoErrorKind(text) == "scope" {
					fail("the HTTP layer let through a call that the tool refuses for scope: %s", text)
				}
				// Schema validation comes first; past it, the global-only check.
				if ts.globalOnly && p.org != "" && !strings.Contains(text, "it needs a global token") && isoErrorKind(text) != "schema" {
					fail("an org-scoped principal was not refused a global-only tool: %s", text)
				}
				if ts.globalOnly && p.org != "" {
					nGlobalOnly++
				}
				unchanged("a tool error")
				isoCheckAnswer(fail, w, p, ts.name, args, argJSON, nil, text)
				break
			}
			nAllowed++
			counts[0]++
			if ts.globalOnly && p.org != "" {
				fail("an org-scoped principal called a global-only tool")
			}
			isoCheckChanges(fail, w, before, after, p, ts.name, args)
			isoCheckAnswer(fail, w, p, ts.name, args, argJSON, res.Result.StructuredContent, text)
			var page struct {
				NextCursor string `json:"next_cursor"`
			}
			if json.Unmarshal(res.Result.StructuredContent, &page) == nil && page.NextCursor != "" && !slices.Contains(w.cursors, page.NextCursor) {
				w.cursors = append(w.cursors, page.NextCursor)
			}
		}
		perTool[ts.name] = counts
		before = after
		if violations >= 10 {
			t.Fatalf("stopping after %d violations", violations)
		}
	}

	// Every audit event was written by a principal that may act on its org.
	f.checkAuditAuthors(t, byName)

	elapsed := time.Since(start)
	t.Logf("seed %d: %d calls in %v by %d principals over %d orgs: %d allowed, %d refused with 403, %d tool errors "+
		"(%d aimed at another org's records, %d org-scoped calls of global-only tools)", seed, calls,
		elapsed.Round(time.Millisecond), len(principals), len(w.orgs), nAllowed, nForbidden, nToolErrors, nCrossOrg, nGlobalOnly)
	t.Logf("tool errors by kind: %v; %d calls committed a change (and were followed by a fresh snapshot)", errorKinds, snap.taken-1)
	for _, ts := range toolScopes {
		c := perTool[ts.name]
		t.Logf("  %-20s allowed %4d  403 %4d  tool error %4d", ts.name, c[0], c[1], c[2])
		if c[0]+c[1]+c[2] == 0 {
			t.Errorf("%s was never called", ts.name)
		}
	}
	if calls >= 1000 && (nAllowed < calls/10 || nForbidden < calls/10 || nToolErrors < calls/10) {
		t.Errorf("the generator is lopsided: %d allowed, %d forbidden, %d tool errors", nAllowed, nForbidden, nToolErrors)
	}
}

func isoTruncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// isoErrorKind sorts a tool error for the report.
func isoErrorKind(text string) string {
	switch {
	case strings.Contains(text, "validating \"arguments\""):
		return "schema"
	case strings.Contains(text, "needs a global token"):
		return "global-only"
	case strings.Contains(text, "org_code is required"):
		return "org_code required"
	case strings.Contains(text, "not found"):
		return "not found"
	case strings.Contains(text, "already"):
		return "conflict"
	case strings.Contains(text, "cursor is not valid"):
		return "cursor"
	case strings.Contains(text, "needs scope"):
		return "scope"
	case strings.Contains(text, "which this access token does not"):
		return "scope escalation"
	case strings.Contains(text, "only a delegate client"):
		return "delegate"
	case strings.Contains(text, "only a global principal"):
		return "global client"
	}
	return "validation"
}

// isoScopeOrg is the org a successful call was entitled to act on: the
// isoPrincipal's, or for a global principal the org_code it named — or,
// when it named none, that of the client it named by id.
func isoScopeOrg(w *isoWorld, p *isoPrincipal, tool string, args map[string]any) string {
	if p.org != "" {
		return p.org
	}
	s, named := args["org_code"].(string)
	if id, ok := args["client_id"].(string); ok && !named && (tool == "rotate_client_secret" || tool == "disable_client") {
		return w.clientOrg[id]
	}
	if id, ok := args["grant_id"].(string); ok && !named && tool == "revoke_delegation" {
		return w.grantOrg[id]
	}
	return s
}

// isoCheckChanges is (a) for a successful call.
func isoCheckChanges(fail func(string, ...any), w *isoWorld, before, after *isoState, p *isoPrincipal, tool string, args map[string]any) {
	defsChanged := isoDefsState(before) != isoDefsState(after)
	var allowedOrgs []string
	var skip []string
	switch tool {
	case "whoami", "list_organizations":
	case "create_feature_flag":
		allowedOrgs = []string{""} // its audit event belongs to no org
	case "delete_feature_flag":
		allowedOrgs = []string{""}
		if k, ok := args["key"].(string); ok {
			skip = []string{k}
		}
	case "create_organization":
		code, _ := args["org_code"].(string)
		if _, existed := before.orgs[code]; existed {
			fail("create_organization succeeded for an existing org")
		}
		allowedOrgs = []string{code}
	default:
		allowedOrgs = []string{isoScopeOrg(w, p, tool, args)}
	}
	if defsChanged && (p.org != "" || (tool != "create_feature_flag" && tool != "delete_feature_flag")) {
		fail("flag definitions changed:\n%s→\n%s", isoDefsState(before), isoDefsState(after))
	}
	// Each call records its event in the principal's org, or for a global
	// principal in the org it acts on or in none.
	recordedIn := p.org
	if p.org == "" {
		recordedIn = isoScopeOrg(w, p, tool, args)
	}
	for _, org := range isoChangedOrgs(before, after, skip...) {
		if org == recordedIn && before.dataState(org) == after.dataState(org) {
			continue
		}
		if !slices.Contains(allowedOrgs, org) {
			fail("org %q changed, but the call may act on %q only:\nbefore:\n%safter:\n%s", org, allowedOrgs,
				before.orgState(org), after.orgState(org))
		}
	}
}

// isoCheckAnswer is (b): the answer names no record of an org other than the
// one the call may act on, except what the arguments named themselves.
func isoCheckAnswer(fail func(string, ...any), w *isoWorld, p *isoPrincipal, tool string, args map[string]any, argJSON []byte,
	structured json.RawMessage, text string) {
	if p.org == "" && (tool == "list_organizations" || tool == "create_organization" || tool == "whoami") {
		return // administration answers name orgs by design
	}
	if _, named := args["org_code"]; p.org == "" && (tool == "list_clients" || tool == "list_delegations") && !named {
		return // every org's clients (or the global ones) and grants, by design
	}
	org := isoScopeOrg(w, p, tool, args)
	echoed := func(s string) bool { return bytes.Contains(bytes.ToLower(argJSON), []byte(strings.ToLower(s))) }
	foreignUser := func(id string) bool { o, ok := w.userOrg[id]; return ok && o != org }
	foreignOrg := func(code string) bool { return w.everOrgs[code] && code != org }
	foreignEmail := func(e string) bool {
		orgs := w.emailOrgs[strings.ToLower(e)]
		return len(orgs) > 0 && !orgs[org]
	}
	foreignClient := func(id string) bool { o, ok := w.clientOrg[id]; return ok && o != org }

	if structured == nil {
		// An error: it may echo the arguments, and nothing else of another org.
		for _, id := range isoUserIDRE.FindAllString(text, -1) {
			if foreignUser(id) && !echoed(id) {
				fail("the error names user %s of %s", id, w.userOrg[id])
			}
		}
		for _, code := range isoOrgCodeRE.FindAllString(text, -1) {
			if foreignOrg(code) && !echoed(code) {
				fail("the error names org %s", code)
			}
		}
		for _, e := range isoEmailRE.FindAllString(text, -1) {
			if foreignEmail(e) && !echoed(e) {
				fail("the error names %s, an email of another org only", e)
			}
		}
		for _, id := range isoClientRE.FindAllString(text, -1) {
			if foreignClient(id) && !echoed(id) {
				fail("the error names client %s of %q", id, w.clientOrg[id])
			}
		}
		return
	}
	// A result: every record field must be of the org, and no other string
	// may hold another org's user id or org code — except the free text the
	// org stores itself (names, descriptions, properties, flag values),
	// which holds whatever callers wrote there.
	var v any
	dec := json.NewDecoder(bytes.NewReader(structured))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		fail("structured content %s: %v", structured, err)
		return
	}
	isoWalkJSON(v, func(path []string, val string) {
		key := path[len(path)-1]
		for _, k := range path {
			switch k {
			case "value", "default_value", "properties", "name", "given_name", "family_name", "description":
				return
			}
		}
		// The audit trail records what principals named, refused or not: a
		// target is what a caller of this org itself sent.
		if tool == "list_audit_events" && key == "target" {
			return
		}
		switch key {
		case "org_code":
			if val != org {
				fail("the answer holds org_code %q", val)
			}
		case "client_id":
			if o, known := w.clientOrg[val]; known && o != org {
				fail("the answer holds client %s of %q", val, o)
			}
		case "user_id":
			if o := w.userOrg[val]; o != org {
				fail("the answer holds user %s of %q", val, o)
			}
		case "email":
			if !w.emailOrgs[strings.ToLower(val)][org] {
				fail("the answer holds email %s, not one of %s's", val, org)
			}
		}
		for _, id := range isoUserIDRE.FindAllString(val, -1) {
			if foreignUser(id) {
				fail("the answer holds user %s of %s (under %v)", id, w.userOrg[id], path)
			}
		}
		for _, code := range isoOrgCodeRE.FindAllString(val, -1) {
			if foreignOrg(code) {
				fail("the answer holds org %s (under %v)", code, path)
			}
		}
		for _, id := range isoClientRE.FindAllString(val, -1) {
			if foreignClient(id) {
				fail("the answer holds client %s of %q (under %v)", id, w.clientOrg[id], path)
			}
		}
	})
}

// isoWalkJSON calls fn with every string value and the path of keys to it.
func isoWalkJSON(v any, fn func(path []string, val string)) {
	var walk func(path []string, v any)
	walk = func(path []string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(append(slices.Clip(path), k), e)
			}
		case []any:
			for _, e := range x {
				walk(path, e)
			}
		case string:
			if len(path) == 0 {
				path = []string{""}
			}
			fn(path, x)
		}
	}
	walk(nil, v)
}

// checkAuditAuthors reads every audit event once, at the end: each must
// have been written by the seed or by a principal that may act on its org.
func (f *inproc) checkAuditAuthors(t *testing.T, principals map[string]*isoPrincipal) {
	t.Helper()
	orgs, _, err := f.store.ListOrgs(t.Context(), store.Page{Limit: store.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range append(orgs, store.Org{Code: ""}) {
		for page := (store.Page{Limit: store.MaxPageSize}); ; {
			events, next, err := f.store.ListAuditEvents(t.Context(), o.Code, store.AuditFilter{}, page)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range events {
				n++
				if e.Subject == "seed" {
					continue
				}
				p := principals[e.Subject]
				switch {
				case p == nil:
					t.Errorf("audit event %+v by an unknown subject", e)
				case e.OrgCode != o.Code:
					t.Errorf("audit event %+v listed under %s", e, o.Code)
				case p.org != "" && p.org != e.OrgCode:
					t.Errorf("audit event %+v in %s written by %s", e, e.OrgCode, p)
				case p.ClientID() != e.ClientID:
					t.Errorf("audit event %+v: client_id %q, want %q", e, e.ClientID, p.name)
				}
			}
			if next == "" {
				break
			}
			page.Cursor = next
		}
	}
	if n == 0 {
		t.Error("no audit events at all")
	}
}

// ClientID is the client_id its token carries.
func (p *isoPrincipal) ClientID() string { return p.name }
