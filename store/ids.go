package store

import (
	"encoding/hex"

	"github.com/google/uuid"
)

// NewID returns prefix followed by 32 hex digits of a version 7 UUID. The
// digits start with a millisecond timestamp, so IDs sort by creation time
// and keyset pagination over them is stable.
func NewID(prefix string) string {
	id := uuid.Must(uuid.NewV7())
	return prefix + hex.EncodeToString(id[:])
}

// ID prefixes, so that an ID says what it names.
const (
	UserIDPrefix  = "usr_"
	EventIDPrefix = "evt_"
	GrantIDPrefix = "grt_"
	// ApprovalIDPrefix: approvals' IDs are in the URL of the approval
	// page; the 74 random bits of a version 7 UUID make them unguessable
	// (and the page is only for the organization's administrators).
	ApprovalIDPrefix = "apr_"
	// ConsoleSessionIDPrefix names a console session in the audit trail.
	ConsoleSessionIDPrefix = "csn_"
)
