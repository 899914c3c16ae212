package policy

import (
	"hash/maphash"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cedar-policy/cedar-go"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authz"
)

// Kinds of principal.
const (
	KindMachine = "machine"
	KindAgent   = "agent"
)

// kindOf tells a machine client acting for itself from an agent acting for
// a person: client credentials (OrgScope's and Kinde's gty, Auth0's
// "client-credentials"), or a subject that is the client itself.
func kindOf(p *auth.Principal) string {
	switch {
	case p.GrantType == "client_credentials" || p.GrantType == "client-credentials":
		return KindMachine
	case p.Subject == "" || p.Subject == p.ClientID || p.Subject == p.ClientID+"@clients":
		return KindMachine
	}
	return KindAgent
}

// principalView is what policies see of a principal — its entity and the
// members of the context that come from its token — with what it was built
// from. Building it costs more than a decision, and an agent makes many
// calls with one token, so views are kept (see views) and reused for any
// principal with the same fields.
type principalView struct {
	// What the view was built from, compared on every use.
	clientID, subject, org, grantType, role, purpose string
	scopes, actorChain                               []string
	properties                                       map[string]string

	entity cedar.Entity
	// context holds scopes, subject, actor_chain, purpose and person.
	context cedar.RecordMap
	// withoutArgs is the whole context without the arguments, for the
	// second it was made in: what list time and before-dispatch decisions
	// read.
	withoutArgs atomic.Pointer[timedRecord]
	// decided are the decisions made without the arguments, by one policy
	// set in one second. They are a function of the principal, the tool,
	// the set and the time (to the second), so within the second the same
	// question — tools/list, then the HTTP layer and the service before a
	// call — is answered once.
	decided atomic.Pointer[decisions]
}

// decisions are a view's decisions without arguments, by tool index.
type decisions struct {
	set    *Set
	second int64
	tools  []atomic.Pointer[decided]
}

type decided struct {
	decision authz.Decision
	trace    trace
}

// remembered returns the slot of a decision without arguments about tool
// by s at now: empty until one is stored.
func (v *principalView) remembered(s *Set, tool int, now time.Time) *atomic.Pointer[decided] {
	sec := now.Unix()
	d := v.decided.Load()
	if d == nil || d.set != s || d.second != sec {
		d = &decisions{set: s, second: sec, tools: make([]atomic.Pointer[decided], len(s.schema.tools))}
		v.decided.Store(d)
	}
	return &d.tools[tool]
}

type timedRecord struct {
	second int64
	record cedar.Record
}

func (v *principalView) matches(p *auth.Principal) bool {
	return v.clientID == p.ClientID && v.subject == p.Subject && v.org == p.OrgCode && v.grantType == p.GrantType &&
		v.role == p.PersonRole && v.purpose == p.Purpose && slices.Equal(v.scopes, p.Scopes) &&
		slices.Equal(v.actorChain, p.ActorChain) && maps.Equal(v.properties, p.Properties)
}

// views is a direct-mapped cache of principal views, by a hash of the
// principal's fields (not its address: the resource server may hand out a
// fresh copy of a token's principal on every call). A slot holds one view;
// a principal whose slot holds another's builds its own, since the fields
// are compared, never trusted. So it is bounded, needs no lock, and cannot
// give one principal another's view.
var (
	views     [1024]atomic.Pointer[principalView]
	viewsSeed = maphash.MakeSeed()
)

// viewSlot hashes the fields that tell principals apart most often.
func viewSlot(p *auth.Principal) *atomic.Pointer[principalView] {
	var h maphash.Hash
	h.SetSeed(viewsSeed)
	for _, s := range [...]string{p.ClientID, p.Subject, p.OrgCode, p.GrantType, p.PersonRole} {
		h.WriteString(s)
		h.WriteByte(0)
	}
	for _, s := range p.Scopes {
		h.WriteString(s)
		h.WriteByte(0)
	}
	return &views[h.Sum64()%uint64(len(views))]
}

// viewOf returns p's view, from the cache or built.
func viewOf(p *auth.Principal) *principalView {
	slot := viewSlot(p)
	if v := slot.Load(); v != nil && v.matches(p) {
		return v
	}
	v := buildView(p)
	slot.Store(v)
	return v
}

func buildView(p *auth.Principal) *principalView {
	v := &principalView{clientID: p.ClientID, subject: p.Subject, org: p.OrgCode, grantType: p.GrantType,
		role: p.PersonRole, purpose: p.Purpose, scopes: slices.Clone(p.Scopes), actorChain: slices.Clone(p.ActorChain),
		properties: maps.Clone(p.Properties)}
	v.entity = principalEntity(p)
	v.context = cedar.RecordMap{
		"scopes":      stringSet(p.Scopes),
		"subject":     cedar.String(p.Subject),
		"actor_chain": stringSet(p.ActorChain),
		"purpose":     cedar.String(p.Purpose),
	}
	if kindOf(p) == KindAgent {
		person := cedar.RecordMap{"id": cedar.String(p.Subject)}
		if p.PersonRole != "" {
			person["role"] = cedar.String(p.PersonRole)
		}
		v.context["person"] = cedar.NewRecord(person)
	}
	return v
}

// principalEntity is the principal as the schema describes it: its id the
// client id (the subject when the token names no client), in its
// organization when org-scoped, its application properties as tags.
func principalEntity(p *auth.Principal) cedar.Entity {
	id := p.ClientID
	if id == "" {
		id = p.Subject
	}
	var parents cedar.EntityUIDSet
	if !p.Global() {
		parents = cedar.NewEntityUIDSet(orgUID(p.OrgCode))
	}
	ent := cedar.Entity{
		UID:     cedar.NewEntityUID(ClientType, cedar.String(id)),
		Parents: parents,
		Attributes: cedar.NewRecord(cedar.RecordMap{
			"kind":   cedar.String(kindOf(p)),
			"global": cedar.Boolean(p.Global()),
			"org":    cedar.String(p.OrgCode),
			"scopes": grantedScopes(p.Scopes),
		}),
	}
	if len(p.Properties) > 0 {
		tags := make(cedar.RecordMap, len(p.Properties))
		for k, v := range p.Properties {
			tags[cedar.String(k)] = cedar.String(v)
		}
		ent.Tags = cedar.NewRecord(tags)
	}
	return ent
}

// grantedScopes is every scope the token's scopes grant under the
// hierarchy, and the unknown ones it carries as they are.
func grantedScopes(scopes []string) cedar.Set {
	vals := make([]cedar.Value, 0, len(auth.AllScopes)+len(scopes))
	for _, s := range auth.AllScopes {
		if auth.Grants(scopes, s) {
			vals = append(vals, cedar.String(s))
		}
	}
	for _, s := range scopes {
		if !slices.Contains(auth.AllScopes, s) {
			vals = append(vals, cedar.String(s))
		}
	}
	return cedar.NewSet(vals...)
}

func stringSet(ss []string) cedar.Set {
	vals := make([]cedar.Value, len(ss))
	for i, s := range ss {
		vals[i] = cedar.String(s)
	}
	return cedar.NewSet(vals...)
}

// lastTime is the time record of the most recent second asked for.
var lastTime atomic.Pointer[timedRecord]

// timeRecord is context.time at now, to the second: the date-time and, in
// UTC, the weekday and hour.
func timeRecord(now time.Time) cedar.Record {
	sec := now.Unix()
	if t := lastTime.Load(); t != nil && t.second == sec {
		return t.record
	}
	at := time.Unix(sec, 0).UTC()
	rec := cedar.NewRecord(cedar.RecordMap{
		"now":     cedar.NewDatetime(at),
		"weekday": cedar.String(strings.ToLower(at.Weekday().String())),
		"hour":    cedar.Long(at.Hour()),
	})
	lastTime.Store(&timedRecord{second: sec, record: rec})
	return rec
}

// contextRecord is the context of a request: the view's members, the
// arguments and the time.
func (v *principalView) contextRecord(args cedar.Value, now time.Time) cedar.Record {
	rm := make(cedar.RecordMap, len(v.context)+2)
	maps.Copy(rm, v.context)
	rm["args"], rm["time"] = args, timeRecord(now)
	return cedar.NewRecord(rm)
}

// emptyArgs are the arguments of a decision made without them.
var emptyArgs = cedar.NewRecord(nil)

// contextWithoutArgs is the context of a decision made before the
// arguments are known, reused within a second.
func (v *principalView) contextWithoutArgs(now time.Time) cedar.Record {
	sec := now.Unix()
	if t := v.withoutArgs.Load(); t != nil && t.second == sec {
		return t.record
	}
	rec := v.contextRecord(emptyArgs, now)
	v.withoutArgs.Store(&timedRecord{second: sec, record: rec})
	return rec
}
