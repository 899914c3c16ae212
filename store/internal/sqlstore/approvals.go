package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/orgscope/orgscope/store"
)

// Approvals are keyed by (org_code, id); approvals_client (org_code,
// client_id, status, expires_at) finds a client's pending ones, and
// approvals_expires serves their removal.
const approvalColumns = `org_code, id, client_id, subject, actor_chain, purpose, tool, params_sha256, args, policies,
	status, decided_by, created_at, decided_at, expires_at, used_at`

func (q *Queries) scanApproval(r Row) (store.Approval, error) {
	var a store.Approval
	var status string
	err := r.Scan(&a.OrgCode, &a.ID, &a.ClientID, &a.Subject, q.d.ListDest(&a.ActorChain), &a.Purpose, &a.Tool,
		&a.ParamsSHA256, &a.Args, q.d.ListDest(&a.Policies), &status, &a.DecidedBy, q.d.TimeDest(&a.CreatedAt),
		q.d.TimeDest(&a.DecidedAt), q.d.TimeDest(&a.ExpiresAt), q.d.TimeDest(&a.UsedAt))
	a.Status = store.ApprovalStatus(status)
	return a, err
}

// CreateApproval inserts a pending approval.
func (q *Queries) CreateApproval(ctx context.Context, a store.Approval) (store.Approval, error) {
	return call(q, ctx, "create approval", func(ctx context.Context) (store.Approval, error) {
		if a.Status != store.ApprovalPending || a.ID == "" || a.ExpiresAt.IsZero() {
			return store.Approval{}, errors.New("an approval is created pending, with an ID and an expiry")
		}
		if len(a.Args) > store.MaxApprovalArgsBytes {
			return store.Approval{}, fmt.Errorf("approval arguments longer than %d bytes", store.MaxApprovalArgsBytes)
		}
		a.CreatedAt, a.ExpiresAt = q.stamp(a.CreatedAt), normTime(a.ExpiresAt)
		a.DecidedAt, a.UsedAt, a.DecidedBy = time.Time{}, time.Time{}, ""
		_, err := q.exec(ctx, q.write, `INSERT INTO approvals (`+approvalColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.OrgCode, a.ID, a.ClientID, a.Subject, q.d.List(a.ActorChain), a.Purpose, a.Tool, a.ParamsSHA256, a.Args,
			q.d.List(a.Policies), string(a.Status), a.DecidedBy, q.d.Time(a.CreatedAt), nil, q.d.Time(a.ExpiresAt), nil)
		return a, err
	})
}

// GetApproval reads one approval by its primary key.
func (q *Queries) GetApproval(ctx context.Context, orgCode, id string) (store.Approval, error) {
	return call(q, ctx, "get approval", func(ctx context.Context) (store.Approval, error) {
		return q.getApproval(ctx, q.read, orgCode, id)
	})
}

func (q *Queries) getApproval(ctx context.Context, c Conn, orgCode, id string) (store.Approval, error) {
	return q.scanApproval(q.queryRow(ctx, c, `SELECT `+approvalColumns+` FROM approvals WHERE org_code = ? AND id = ?`, orgCode, id))
}

// PendingApproval reads the client's pending approvals from
// approvals_client and picks the one for exactly this call.
func (q *Queries) PendingApproval(ctx context.Context, key store.ApprovalKey, at time.Time) (store.Approval, error) {
	return call(q, ctx, "pending approval", func(ctx context.Context) (store.Approval, error) {
		return q.scanApproval(q.queryRow(ctx, q.read, `SELECT `+approvalColumns+` FROM approvals
			WHERE org_code = ? AND client_id = ? AND status = ? AND expires_at > ?
			AND subject = ? AND tool = ? AND params_sha256 = ?
			ORDER BY created_at DESC, id DESC LIMIT 1`,
			key.OrgCode, key.ClientID, string(store.ApprovalPending), q.d.Time(normTime(at)), key.Subject, key.Tool, key.ParamsSHA256))
	})
}

// CountPendingApprovals counts a range of approvals_client.
func (q *Queries) CountPendingApprovals(ctx context.Context, orgCode, clientID string, at time.Time) (int, error) {
	return call(q, ctx, "count pending approvals", func(ctx context.Context) (int, error) {
		var n int
		err := q.queryRow(ctx, q.read, `SELECT count(*) FROM approvals
			WHERE org_code = ? AND client_id = ? AND status = ? AND expires_at > ?`,
			orgCode, clientID, string(store.ApprovalPending), q.d.Time(normTime(at))).Scan(&n)
		return n, err
	})
}

// DecideApproval moves a pending approval with one conditional UPDATE, so
// that of two decisions made at once exactly one lands.
func (q *Queries) DecideApproval(ctx context.Context, orgCode, id string, status store.ApprovalStatus, decidedBy string, at time.Time) (store.Approval, error) {
	if status != store.ApprovalApproved && status != store.ApprovalDenied {
		return store.Approval{}, fmt.Errorf("decide approval: %q is not a decision", status)
	}
	return q.transition(ctx, "decide approval", orgCode, id, `UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?
		WHERE org_code = ? AND id = ? AND status = ? AND expires_at > ?`,
		string(status), decidedBy, q.d.Time(normTime(at)), orgCode, id, string(store.ApprovalPending), q.d.Time(normTime(at)))
}

// UseApproval marks an approval used with one conditional UPDATE that also
// checks the call: of two calls presenting it at once exactly one runs.
func (q *Queries) UseApproval(ctx context.Context, key store.ApprovalKey, id string, at time.Time) (store.Approval, error) {
	return q.transition(ctx, "use approval", key.OrgCode, id, `UPDATE approvals SET status = ?, used_at = ?
		WHERE org_code = ? AND id = ? AND status = ? AND expires_at > ?
		AND client_id = ? AND subject = ? AND tool = ? AND params_sha256 = ?`,
		string(store.ApprovalUsed), q.d.Time(normTime(at)), key.OrgCode, id, string(store.ApprovalApproved),
		q.d.Time(normTime(at)), key.ClientID, key.Subject, key.Tool, key.ParamsSHA256)
}

// transition runs a conditional UPDATE of one approval and reads it back
// in the same transaction: changed, it is returned; unchanged, it is
// returned as it stands with store.ErrConflict, or store.ErrNotFound.
func (q *Queries) transition(ctx context.Context, op, orgCode, id, update string, args ...any) (store.Approval, error) {
	var a store.Approval
	err := q.run(ctx, op, func(ctx context.Context) error {
		return q.atomically(ctx, func(tx *Queries) error {
			n, err := tx.exec(ctx, tx.write, update, args...)
			if err != nil {
				return err
			}
			if a, err = tx.getApproval(ctx, tx.write, orgCode, id); err != nil {
				return err
			}
			if n == 0 {
				return store.ErrConflict
			}
			return nil
		})
	})
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return store.Approval{}, err
	}
	return a, err
}

// DeleteApprovalsExpiredBefore deletes a range of approvals_expires.
func (q *Queries) DeleteApprovalsExpiredBefore(ctx context.Context, cutoff time.Time) (int, error) {
	return call(q, ctx, "delete expired approvals", func(ctx context.Context) (int, error) {
		n, err := q.exec(ctx, q.write, `DELETE FROM approvals WHERE expires_at < ?`, q.d.Time(normTime(cutoff)))
		return int(n), err
	})
}
