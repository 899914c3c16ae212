package sqlstore

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/orgscope/orgscope/store"
)

// Events are keyed by (org_code, time, id): one org's events in time order
// are one range of the primary key, so listing newest first is a backwards
// scan of it. audit_events_client (org_code, client_id, time, id) serves
// the client filter the same way, and audit_events_time (time, id) the
// export of every org and retention.
const auditColumns = `org_code, time, id, client_id, subject, actor_chain, grant_id, action, target,
	params_sha256, decision, reason, outcome, request_id, trace_id, purpose, policies`

func (q *Queries) scanEvent(r Row) (store.AuditEvent, error) {
	var e store.AuditEvent
	err := r.Scan(&e.OrgCode, q.d.TimeDest(&e.Time), &e.ID, &e.ClientID, &e.Subject, q.d.ListDest(&e.ActorChain),
		&e.GrantID, &e.Action, &e.Target, &e.ParamsSHA256, &e.Decision, &e.Reason, &e.Outcome,
		&e.RequestID, &e.TraceID, &e.Purpose, q.d.ListDest(&e.Policies))
	return e, err
}

// AppendAuditEvent stores e, giving it an ID (store.NewID) and a Time when
// they are empty.
func (q *Queries) AppendAuditEvent(ctx context.Context, e store.AuditEvent) error {
	return q.run(ctx, "append audit event", func(ctx context.Context) error {
		if e.ID == "" {
			e.ID = store.NewID(store.EventIDPrefix)
		}
		_, err := q.exec(ctx, q.write, `INSERT INTO audit_events (`+auditColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.OrgCode, q.d.Time(q.stamp(e.Time)), e.ID, e.ClientID, e.Subject, q.d.List(e.ActorChain),
			e.GrantID, e.Action, e.Target, e.ParamsSHA256, e.Decision, e.Reason, e.Outcome,
			e.RequestID, e.TraceID, e.Purpose, q.d.List(e.Policies))
		return err
	})
}

// ListAuditEvents reads one org's events newest first, from the cursor's
// (time, id) backwards: a range of the primary key, or of
// audit_events_client when the filter names a client.
func (q *Queries) ListAuditEvents(ctx context.Context, orgCode string, f store.AuditFilter, page store.Page) ([]store.AuditEvent, string, error) {
	return list(q, ctx, "list audit events", func(ctx context.Context) ([]store.AuditEvent, string, error) {
		key, err := store.DecodeCursor(page.Cursor, store.ListAudit, orgCode)
		if err != nil {
			return nil, "", err
		}
		conds, args := []string{`org_code = ?`}, []any{orgCode}
		if key != "" {
			at, id, err := parseEventKey(key)
			if err != nil {
				return nil, "", err
			}
			conds, args = append(conds, `(time, id) < (?, ?)`), append(args, q.d.Time(at), id)
		}
		if !f.Since.IsZero() {
			conds, args = append(conds, `time >= ?`), append(args, q.d.Time(normTime(f.Since)))
		}
		if !f.Until.IsZero() {
			conds, args = append(conds, `time < ?`), append(args, q.d.Time(normTime(f.Until)))
		}
		for _, m := range []struct{ column, value string }{
			{"client_id", f.ClientID}, {"subject", f.Subject}, {"action", f.Action}, {"decision", f.Decision},
		} {
			if m.value != "" {
				conds, args = append(conds, m.column+` = ?`), append(args, m.value)
			}
		}
		query := `SELECT ` + auditColumns + ` FROM audit_events WHERE ` + strings.Join(conds, ` AND `) +
			` ORDER BY time DESC, id DESC LIMIT ?`
		events, err := queryAll(ctx, q, q.read, query, append(args, page.Size()+1), q.scanEvent)
		if err != nil {
			return nil, "", err
		}
		events, last := store.TrimPage(events, page.Size(), eventKey)
		return events, store.EncodeCursor(store.ListAudit, orgCode, last), nil
	})
}

// ExportAuditEvents reads events oldest first from the cursor's (time, id)
// on: a range of the primary key for one org, of audit_events_time for
// every org.
func (q *Queries) ExportAuditEvents(ctx context.Context, orgCode *string, since time.Time, page store.Page) ([]store.AuditEvent, string, error) {
	return list(q, ctx, "export audit events", func(ctx context.Context) ([]store.AuditEvent, string, error) {
		scope := "*" // every org; one org's cursor is "=" + its code
		var conds []string
		var args []any
		if orgCode != nil {
			scope = "=" + *orgCode
			conds, args = append(conds, `org_code = ?`), append(args, *orgCode)
		}
		key, err := store.DecodeCursor(page.Cursor, store.ListAuditExport, scope)
		if err != nil {
			return nil, "", err
		}
		if key != "" {
			at, id, err := parseEventKey(key)
			if err != nil {
				return nil, "", err
			}
			conds, args = append(conds, `(time, id) > (?, ?)`), append(args, q.d.Time(at), id)
		}
		if !since.IsZero() {
			conds, args = append(conds, `time >= ?`), append(args, q.d.Time(normTime(since)))
		}
		query := `SELECT ` + auditColumns + ` FROM audit_events`
		if len(conds) > 0 {
			query += ` WHERE ` + strings.Join(conds, ` AND `)
		}
		query += ` ORDER BY time, id LIMIT ?`
		events, err := queryAll(ctx, q, q.read, query, append(args, page.Size()+1), q.scanEvent)
		if err != nil {
			return nil, "", err
		}
		events, last := store.TrimPage(events, page.Size(), eventKey)
		return events, store.EncodeCursor(store.ListAuditExport, scope, last), nil
	})
}

// auditDeleteBatch is how many events one statement of
// DeleteAuditEventsBefore removes at most.
const auditDeleteBatch = 1000

// DeleteAuditEventsBefore deletes the oldest events batch by batch, each
// batch a statement (and, outside InTx, a transaction) of its own under a
// deadline of its own, until a batch comes back short.
func (q *Queries) DeleteAuditEventsBefore(ctx context.Context, cutoff time.Time) (int, error) {
	total := 0
	for {
		var n int64
		err := q.run(ctx, "delete audit events", func(ctx context.Context) (err error) {
			n, err = q.exec(ctx, q.write, `DELETE FROM audit_events WHERE (org_code, time, id) IN
				(SELECT org_code, time, id FROM audit_events WHERE time < ? ORDER BY time LIMIT ?)`,
				q.d.Time(normTime(cutoff)), auditDeleteBatch)
			return err
		})
		total += int(n)
		if err != nil || n < auditDeleteBatch {
			return total, err
		}
	}
}

// eventKey is where a page of events ends: its time (unix microseconds)
// and ID.
func eventKey(e store.AuditEvent) string {
	return strconv.FormatInt(e.Time.UnixMicro(), 10) + " " + e.ID
}

func parseEventKey(key string) (time.Time, string, error) {
	micros, id, ok := strings.Cut(key, " ")
	n, err := strconv.ParseInt(micros, 10, 64)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", store.ErrInvalidCursor
	}
	return time.UnixMicro(n).UTC(), id, nil
}
