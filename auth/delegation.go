package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Delegated tokens (RFC 8693 token exchange): a person's authority handed
// to an agent, and from it to a sub-agent. The token's sub stays the
// person; act names the client acting now, with the one it acts for nested
// inside (§4.1), and may_act, when an issuer sets it, says who may act
// (§4.4).

// MaxActors bounds the actor chain of a delegated token: deeper nesting is
// refused, so that a token cannot make its reader recurse without bound.
const MaxActors = 8

// MaxPurposeLength bounds a delegated token's purpose, in bytes.
const MaxPurposeLength = 256

// actor is one act (or may_act) object: who acts, and inside it whom that
// actor acts for.
type actor struct {
	Subject  string          `json:"sub"`
	ClientID string          `json:"client_id"`
	Issuer   string          `json:"iss"`
	Act      json.RawMessage `json:"act"`
}

// name is how an actor appears in a chain: its client id, or its subject
// when its issuer names no client.
func (a actor) name() string {
	if a.ClientID != "" {
		return a.ClientID
	}
	return a.Subject
}

// actors reads the act claim into a chain, the current actor first. A
// token without act has none; a malformed or too deep one is an error.
func actors(claims map[string]json.RawMessage) ([]actor, error) {
	raw, ok := claims["act"]
	var chain []actor
	for ok {
		if len(chain) == MaxActors {
			return nil, fmt.Errorf("act nests more than %d actors", MaxActors)
		}
		var a actor
		if !isObject(raw) || json.Unmarshal(raw, &a) != nil {
			return nil, errors.New("act is not an object")
		}
		if a.name() == "" {
			return nil, errors.New("an act object names no actor (sub or client_id)")
		}
		chain = append(chain, a)
		raw, ok = a.Act, len(a.Act) > 0 && !bytes.Equal(bytes.TrimSpace(a.Act), []byte("null"))
	}
	return chain, nil
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// mayActAllows checks the current actor against may_act (RFC 8693 §4.4):
// every member may_act names (sub, client_id, iss) must be the actor's. An
// actor without iss is the token's issuer's. A token nobody acts for
// passes: may_act says who may become the actor.
func mayActAllows(claims map[string]json.RawMessage, current *actor, tokenIssuer string) error {
	raw, ok := claims["may_act"]
	if !ok {
		return nil
	}
	var may actor
	if !isObject(raw) || json.Unmarshal(raw, &may) != nil {
		return errors.New("may_act is not an object")
	}
	if may.Subject == "" && may.ClientID == "" {
		return errors.New("may_act names no actor (sub or client_id)")
	}
	if current == nil {
		return nil
	}
	iss := current.Issuer
	if iss == "" {
		iss = tokenIssuer
	}
	switch {
	case may.Subject != "" && may.Subject != current.Subject,
		may.ClientID != "" && may.ClientID != current.ClientID,
		may.Issuer != "" && may.Issuer != iss:
		return errors.New("the current actor is not the one may_act allows")
	}
	return nil
}

// CheckPurpose refuses a purpose longer than MaxPurposeLength bytes, not
// valid UTF-8, or holding control characters (it is shown and logged as
// one line).
func CheckPurpose(purpose string) error {
	switch {
	case len(purpose) > MaxPurposeLength:
		return fmt.Errorf("purpose is longer than %d bytes", MaxPurposeLength)
	case !utf8.ValidString(purpose):
		return errors.New("purpose is not valid UTF-8")
	case strings.IndexFunc(purpose, unicode.IsControl) >= 0:
		return errors.New("purpose holds a control character (it must be one line of text)")
	}
	return nil
}

// delegation fills p's actor chain and purpose from act, may_act and
// purpose.
func delegation(claims map[string]json.RawMessage, p *Principal) error {
	chain, err := actors(claims)
	if err != nil {
		return invalid(reasonActor, err)
	}
	var current *actor
	if len(chain) > 0 {
		current = &chain[0]
	}
	if err := mayActAllows(claims, current, p.Issuer); err != nil {
		return invalid(reasonMayAct, err)
	}
	for _, a := range chain {
		p.ActorChain = append(p.ActorChain, a.name())
	}
	if raw, ok := claims["purpose"]; ok {
		if json.Unmarshal(raw, &p.Purpose) != nil {
			return invalid(reasonPurpose, errors.New("purpose is not a string"))
		}
		if err := CheckPurpose(p.Purpose); err != nil {
			return invalid(reasonPurpose, err)
		}
	}
	return nil
}

// Delegated reports whether a token was delegated: someone acts for its
// subject.
func (p *Principal) Delegated() bool { return len(p.ActorChain) > 0 }

// Bound is one party's limit on what a principal may do, read from the
// records when the call arrived: a person's role caps the scopes of every
// token acting for them, and each client of a delegated token's actor
// chain is held to the scopes an administrator allows it. The decision
// point intersects a token's scopes with every bound (authz.EffectiveScopes).
type Bound struct {
	// Party says whose limit it is: BoundRole or BoundClient.
	Party string
	// Name is the role ("admin", "member") or the client id.
	Name string
	// Scopes are what the party allows (under the hierarchy of Grants).
	Scopes []string
}

// The parties of a Bound.
const (
	BoundRole   = "role"
	BoundClient = "client"
)

// String names the party for a denial: "the person's role member", "the
// acting client agent-1".
func (b Bound) String() string {
	if b.Party == BoundRole {
		return "the person's role " + b.Name
	}
	return "the acting client " + b.Name
}
