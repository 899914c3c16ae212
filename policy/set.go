package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cedar-policy/cedar-go"
	cedarast "github.com/cedar-policy/cedar-go/ast"
	xast "github.com/cedar-policy/cedar-go/x/exp/ast"
)

// Annotations OrgScope reads.
const (
	annotationID       = "id"
	annotationReason   = "reason"
	annotationRefusal  = "refusal"
	annotationApproval = "approval"
)

// Problem is one thing wrong with a policy file, at a place in it.
type Problem struct {
	File         string
	Line, Column int
	// Policy is the @id of the policy concerned, when known.
	Policy  string
	Message string
}

func (p Problem) String() string {
	where := p.File
	if p.Line > 0 {
		where += fmt.Sprintf(":%d:%d", p.Line, p.Column)
	}
	if p.Policy != "" {
		return fmt.Sprintf("%s: policy %q: %s", where, p.Policy, p.Message)
	}
	return where + ": " + p.Message
}

// LoadError is a policy file that does not parse, or does not validate
// against the schema. Each problem names its file, line and column.
type LoadError struct {
	Problems []Problem
}

func (e *LoadError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Set is a policy file, parsed and validated against the schema, ready to
// decide. It is never changed once compiled, so it is safe for concurrent
// use; a reload compiles a new one.
type Set struct {
	name     string
	source   []byte
	policies cedar.PolicyMap
	info     map[cedar.PolicyID]policyInfo
	// byTool holds, for each tool, the policies whose scope can match its
	// action: what deciding about it evaluates.
	byTool map[string]*toolPolicies
	schema *compiledSchema
}

// policyInfo is what OrgScope reads from a policy besides its logic.
type policyInfo struct {
	forbid   bool
	reason   string
	refusal  string
	approval bool
	position cedar.Position
}

// toolPolicies are the policies that can apply to one tool.
type toolPolicies struct {
	tool     toolInfo
	policies cedar.PolicyMap
	// readsArgs: some policy reads context.args (or the whole context), so
	// a decision without the arguments needs partial evaluation.
	readsArgs bool
	// readsResource: some policy's scope or condition involves the
	// resource, so a decision without the organization needs partial
	// evaluation too.
	readsResource bool
	// unscoped are the policies for a partial evaluation without the
	// resource: forbids whose scope names a resource have it as a
	// condition instead. (cedar-go's batch evaluation makes a scope on an
	// ignored value match anything, which for a forbid would refuse what
	// is possibly allowed; a condition on it is set aside, as it should.)
	unscoped cedar.PolicyMap
}

// Name returns the file name the set was compiled from.
func (s *Set) Name() string { return s.name }

// Version identifies the policy text: the first 12 hex digits of its
// SHA-256.
func (s *Set) Version() string {
	sum := sha256.Sum256(s.source)
	return hex.EncodeToString(sum[:6])
}

// Source returns the policy text.
func (s *Set) Source() []byte { return slices.Clone(s.source) }

// IDs returns the ids of the set's policies, sorted.
func (s *Set) IDs() []string {
	ids := make([]string, 0, len(s.policies))
	for id := range s.policies {
		ids = append(ids, string(id))
	}
	slices.Sort(ids)
	return ids
}

// CompileBuiltin compiles the built-in policy.
func CompileBuiltin() (*Set, error) { return Compile(BuiltinName, builtinSource) }

// Compile parses src (named name in errors) and validates every policy
// against the schema, strictly. Every policy needs a unique @id; @refusal
// belongs on forbids and names one of OrgScope's refusals; @approval
// belongs on permits and says "required". Any problem refuses the whole
// file with a *LoadError.
func Compile(name string, src []byte) (*Set, error) {
	cs := loadSchema()
	list, err := cedar.NewPolicyListFromBytes(name, src)
	if err != nil {
		return nil, &LoadError{Problems: []Problem{parseProblem(name, err)}}
	}
	s := &Set{name: name, source: slices.Clone(src), policies: cedar.PolicyMap{},
		info: map[cedar.PolicyID]policyInfo{}, byTool: map[string]*toolPolicies{}, schema: cs}
	var problems []Problem
	for _, p := range list {
		pos := p.Position()
		at := func(id, format string, a ...any) {
			problems = append(problems, Problem{File: name, Line: pos.Line, Column: pos.Column, Policy: id, Message: fmt.Sprintf(format, a...)})
		}
		ann := p.Annotations()
		id, hasID := ann[annotationID]
		switch {
		case !hasID || id == "":
			at("", "the policy has no @id annotation; every policy needs a unique @id(\"…\")")
			continue
		case s.policies[cedar.PolicyID(id)] != nil:
			first := s.info[cedar.PolicyID(id)].position
			at(string(id), "@id is used twice (first at line %d)", first.Line)
			continue
		}
		info := policyInfo{forbid: p.Effect() == cedar.Forbid, reason: string(ann[annotationReason]), position: pos}
		if v, ok := ann[annotationRefusal]; ok {
			info.refusal = string(v)
			switch {
			case !info.forbid:
				at(string(id), "@refusal belongs on a forbid")
			case !slices.Contains(refusals, info.refusal):
				at(string(id), "@refusal(%q) is not one of %s", v, strings.Join(refusals, ", "))
			}
		}
		if v, ok := ann[annotationApproval]; ok {
			info.approval = true
			switch {
			case info.forbid:
				at(string(id), "@approval belongs on a permit: a forbid always refuses")
			case v != "required":
				at(string(id), "@approval(%q): the one value is \"required\"", v)
			}
		}
		cs.mu.Lock()
		verr := cs.validator.Policy(string(id), (*xast.Policy)(p.AST()))
		cs.mu.Unlock()
		if verr != nil {
			for _, msg := range validationMessages(string(id), verr) {
				at(string(id), "%s", msg)
			}
		}
		s.policies[cedar.PolicyID(id)] = p
		s.info[cedar.PolicyID(id)] = info
	}
	if len(problems) > 0 {
		return nil, &LoadError{Problems: problems}
	}
	for tool, info := range cs.tools {
		tp := &toolPolicies{tool: info, policies: cedar.PolicyMap{}}
		for id, p := range s.policies {
			a := (*xast.Policy)(p.AST())
			if !actionScopeMatches(a.Action, info) {
				continue
			}
			tp.policies[id] = withoutActionScope(p)
			tp.readsArgs = tp.readsArgs || readsArgs(a)
			tp.readsResource = tp.readsResource || readsResource(a)
		}
		tp.unscoped = cedar.PolicyMap{}
		for id, p := range tp.policies {
			tp.unscoped[id] = resourceScopeAsCondition(p)
		}
		s.byTool[tool] = tp
	}
	return s, nil
}

// refusals are the values of @refusal: the refusals of OrgScope's own
// rules, which a policy may give instead of a policy refusal.
var refusals = []string{"insufficient_scope", "global_only", "tenant"}

// parseErrorAt finds the position in cedar-go's parse errors, which name
// the input "<input>" rather than the file.
var parseErrorAt = regexp.MustCompile(`<input>:(\d+):(\d+):?\s*(.*)$`)

func parseProblem(name string, err error) Problem {
	msg := err.Error()
	if m := parseErrorAt.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		col, _ := strconv.Atoi(m[2])
		return Problem{File: name, Line: line, Column: col, Message: "does not parse: " + m[3]}
	}
	return Problem{File: name, Message: "does not parse: " + strings.TrimPrefix(msg, "parser error: ")}
}

// validationMessages splits the validator's error (one line per problem
// and action) into messages, without the policy prefix each repeats.
func validationMessages(id string, err error) []string {
	var msgs []string
	var lines []string
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		for _, e := range joined.Unwrap() {
			lines = append(lines, strings.Split(e.Error(), "\n")...)
		}
	} else {
		lines = strings.Split(err.Error(), "\n")
	}
	prefix := fmt.Sprintf("for policy `%s`, ", id)
	for _, l := range lines {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), prefix))
		if l != "" && !slices.Contains(msgs, l) {
			msgs = append(msgs, l)
		}
	}
	return msgs
}

// actionScopeMatches reports whether a policy's action scope can match the
// tool's action.
func actionScopeMatches(scope xast.IsActionScopeNode, tool toolInfo) bool {
	in := func(e cedar.EntityUID) bool { return e == tool.uid || slices.Contains(tool.ancestors, e) }
	switch sc := scope.(type) {
	case xast.ScopeTypeAll:
		return true
	case xast.ScopeTypeEq:
		return sc.Entity == tool.uid
	case xast.ScopeTypeIn:
		return in(sc.Entity)
	case xast.ScopeTypeInSet:
		return slices.ContainsFunc(sc.Entities, in)
	}
	return true // a scope of a kind not known here: keep the policy, which is always correct
}

// readsArgs reports whether a policy's conditions read context.args: an
// access or has-test of args on the context, or the context used in any
// other way than reading another member (conservatively).
func readsArgs(p *xast.Policy) bool {
	found := false
	for _, c := range p.Conditions {
		xast.Inspect(xast.NewNode(c.Body), func(n xast.IsNode) bool {
			if found {
				return false
			}
			switch n := n.(type) {
			case xast.NodeTypeAccess:
				if isContext(n.Arg) {
					found = n.Value == "args"
					return false
				}
			case xast.NodeTypeHas:
				if isContext(n.Arg) {
					found = n.Value == "args"
					return false
				}
			case xast.NodeTypeVariable:
				found = n.Name == "context"
			}
			return !found
		})
	}
	return found
}

func isContext(n xast.IsNode) bool {
	v, ok := n.(xast.NodeTypeVariable)
	return ok && v.Name == "context"
}

// withoutActionScope returns p with an action scope that matches every
// action, for the partition of one tool whose action its scope is known to
// match already: evaluating `action in [...]` again on every decision
// costs more than the rest of a typical policy.
func withoutActionScope(p *cedar.Policy) *cedar.Policy {
	xp := (*xast.Policy)(p.AST())
	if _, all := xp.Action.(xast.ScopeTypeAll); all {
		return p
	}
	np := *xp
	np.Action = xast.ScopeTypeAll{}
	return cedar.NewPolicyFromAST((*cedarast.Policy)(&np))
}

// resourceScopeAsCondition returns p, or for a forbid whose scope names
// the resource, the same forbid with that scope as its first condition.
func resourceScopeAsCondition(p *cedar.Policy) *cedar.Policy {
	xp := (*xast.Policy)(p.AST())
	if xp.Effect != xast.EffectForbid {
		return p
	}
	var cond xast.Node
	switch sc := xp.Resource.(type) {
	case xast.ScopeTypeEq:
		cond = xast.Resource().Equal(xast.EntityUID(sc.Entity.Type, sc.Entity.ID))
	case xast.ScopeTypeIn:
		cond = xast.Resource().In(xast.EntityUID(sc.Entity.Type, sc.Entity.ID))
	case xast.ScopeTypeIs:
		cond = xast.Resource().Is(sc.Type)
	case xast.ScopeTypeIsIn:
		cond = xast.Resource().IsIn(sc.Type, xast.EntityUID(sc.Entity.Type, sc.Entity.ID))
	default:
		return p
	}
	np := *xp
	np.Resource = xast.ScopeTypeAll{}
	np.Conditions = append([]xast.ConditionType{{Condition: xast.ConditionWhen, Body: cond.AsIsNode()}}, xp.Conditions...)
	return cedar.NewPolicyFromAST((*cedarast.Policy)(&np))
}

// readsResource reports whether a policy's scope or conditions involve
// the resource.
func readsResource(p *xast.Policy) bool {
	if _, all := p.Resource.(xast.ScopeTypeAll); !all {
		return true
	}
	found := false
	for _, c := range p.Conditions {
		xast.Inspect(xast.NewNode(c.Body), func(n xast.IsNode) bool {
			if v, ok := n.(xast.NodeTypeVariable); ok && v.Name == "resource" {
				found = true
			}
			return !found
		})
	}
	return found
}
