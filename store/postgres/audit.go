package postgres

import (
	"context"

	"github.com/orgscope/orgscope/store"
)

const auditColumns = `org_code, id, time, subject, client_id, action, target, outcome, detail`

func scanEvent(r scanner) (store.AuditEvent, error) {
	var e store.AuditEvent
	err := r.Scan(&e.OrgCode, &e.ID, timeDest{&e.Time}, &e.Subject, &e.ClientID, &e.Action,
		&e.Target, &e.Outcome, &e.Detail)
	return e, err
}

// AppendAuditEvent stores e, giving it an ID (store.NewID) and a Time when
// they are empty. OrgCode may be empty (an event of no org) or name an org
// that does not exist (a refused request): the log records what was asked.
func (s *Store) AppendAuditEvent(ctx context.Context, e store.AuditEvent) error {
	if e.ID == "" {
		e.ID = store.NewID(store.EventIDPrefix)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_events (`+auditColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		e.OrgCode, e.ID, timeValue(s.stamp(e.Time)), e.Subject, e.ClientID, e.Action, e.Target, e.Outcome, e.Detail)
	return s.fail("append audit event", err)
}

// ListAuditEvents walks the (org_code, id) primary key backwards: event IDs
// are time-ordered, so this is newest first.
func (s *Store) ListAuditEvents(ctx context.Context, orgCode string, page store.Page) ([]store.AuditEvent, string, error) {
	before, err := store.DecodeCursor(page.Cursor, store.ListAudit, orgCode)
	if err != nil {
		return nil, "", s.fail("list audit events", err)
	}
	args := params{orgCode}
	query := `SELECT ` + auditColumns + ` FROM audit_events WHERE org_code = $1`
	if before != "" {
		query += ` AND id < ` + args.add(before)
	}
	query += ` ORDER BY id DESC LIMIT ` + args.add(page.Size()+1)
	events, err := queryAll(ctx, s.pool, query, args, scanEvent)
	if err != nil {
		return nil, "", s.fail("list audit events", err)
	}
	events, last := store.TrimPage(events, page.Size(), func(e store.AuditEvent) string { return e.ID })
	return events, store.EncodeCursor(store.ListAudit, orgCode, last), nil
}
