package sqlstore

import (
	"context"
	"strings"

	"github.com/orgscope/orgscope/store"
)

const userColumns = `org_code, id, email, given_name, family_name, status, role, platform_admin, created_at, updated_at`

// userInsertColumns hold, besides the user, the folded forms that
// uniqueness and prefix search compare.
var userInsertColumns = []string{"org_code", "id", "email", "email_lower", "given_name", "family_name",
	"given_lower", "family_lower", "full_name_lower", "status", "role", "platform_admin", "created_at", "updated_at"}

var insertUserSQL = `INSERT INTO users (` + strings.Join(userInsertColumns, ", ") + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func (q *Queries) scanUser(r Row) (store.User, error) {
	var u store.User
	err := r.Scan(&u.OrgCode, &u.ID, &u.Email, &u.GivenName, &u.FamilyName, &u.Status, &u.Role, &u.PlatformAdmin,
		q.d.TimeDest(&u.CreatedAt), q.d.TimeDest(&u.UpdatedAt))
	return u, err
}

func (q *Queries) insertUserArgs(u store.User) []any {
	f := store.FoldUser(u)
	return []any{u.OrgCode, u.ID, u.Email, f.Email, u.GivenName, u.FamilyName,
		f.Given, f.Family, f.Full, string(u.Status), string(u.Role), u.PlatformAdmin,
		q.d.Time(u.CreatedAt), q.d.Time(u.UpdatedAt)}
}

func (q *Queries) newUser(u store.User) store.User {
	q.stampCreated(&u.CreatedAt, &u.UpdatedAt)
	return u
}

// CreateUser is one INSERT: the primary key and users_org_email make a
// taken ID or email store.ErrConflict even when two processes race, and the
// foreign key makes a missing org store.ErrNotFound.
func (q *Queries) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	return call(q, ctx, "create user", func(ctx context.Context) (store.User, error) {
		u = q.newUser(u)
		_, err := q.exec(ctx, q.write, insertUserSQL, q.insertUserArgs(u)...)
		return u, err
	})
}

// CreateUsers loads every user in one transaction: the first bad row rolls
// all of them back.
func (q *Queries) CreateUsers(ctx context.Context, users []store.User) error {
	return q.runBulk(ctx, "create users", len(users), func(ctx context.Context) error {
		return q.atomically(ctx, func(tx *Queries) error {
			return tx.d.BulkInsert(ctx, tx.write, "users", userInsertColumns, len(users), func(i int) []any {
				return tx.insertUserArgs(tx.newUser(users[i]))
			})
		})
	})
}

func (q *Queries) GetUser(ctx context.Context, orgCode, userID string) (store.User, error) {
	return call(q, ctx, "get user", func(ctx context.Context) (store.User, error) {
		return q.getUser(ctx, q.read, orgCode, userID, "")
	})
}

// getUser reads one user; lock is "" or a Dialect.RowLock clause.
func (q *Queries) getUser(ctx context.Context, c Conn, orgCode, userID, lock string) (store.User, error) {
	query := `SELECT ` + userColumns + ` FROM users WHERE org_code = ? AND id = ? ` + lock
	return q.scanUser(q.queryRow(ctx, c, query, orgCode, userID))
}

// ListUsers reads one range of the (org_code, id) primary key: the cost is
// the page size (plus the rows a filter skips), never the page's depth.
func (q *Queries) ListUsers(ctx context.Context, orgCode string, filter store.UserFilter, page store.Page) ([]store.User, string, error) {
	return list(q, ctx, "list users", func(ctx context.Context) ([]store.User, string, error) {
		after, err := store.DecodeCursor(page.Cursor, store.ListUsers, orgCode)
		if err != nil {
			return nil, "", err
		}
		where, args := userFilter(orgCode, after, filter)
		query := `SELECT ` + userColumns + ` FROM users WHERE ` + where + ` ORDER BY id LIMIT ?`
		users, err := queryAll(ctx, q, q.read, query, append(args, page.Size()+1), q.scanUser)
		if err != nil {
			return nil, "", err
		}
		users, last := store.TrimPage(users, page.Size(), func(u store.User) string { return u.ID })
		return users, store.EncodeCursor(store.ListUsers, orgCode, last), nil
	})
}

// userFilter builds the WHERE clause of ListUsers.
func userFilter(orgCode, after string, f store.UserFilter) (string, []any) {
	conds, args := []string{`org_code = ?`}, []any{orgCode}
	if after != "" {
		conds, args = append(conds, `id > ?`), append(args, after)
	}
	if f.EmailPrefix != "" {
		conds, args = append(conds, `email_lower LIKE ? ESCAPE '\'`), append(args, store.LikePrefix(f.EmailPrefix))
	}
	if f.NamePrefix != "" {
		p := store.LikePrefix(f.NamePrefix)
		conds = append(conds, `(given_lower LIKE ? ESCAPE '\' OR family_lower LIKE ? ESCAPE '\' OR full_name_lower LIKE ? ESCAPE '\')`)
		args = append(args, p, p, p)
	}
	if f.Status != "" {
		conds, args = append(conds, `status = ?`), append(args, string(f.Status))
	}
	return strings.Join(conds, ` AND `), args
}

// UpdateUser reads the user locked and writes it back in one transaction;
// users_org_email turns a taken email into store.ErrConflict.
func (q *Queries) UpdateUser(ctx context.Context, orgCode, userID string, update store.UserUpdate) (store.User, error) {
	return call(q, ctx, "update user", func(ctx context.Context) (u store.User, err error) {
		err = q.atomically(ctx, func(tx *Queries) error {
			if u, err = tx.getUser(ctx, tx.write, orgCode, userID, tx.d.RowLock("UPDATE")); err != nil {
				return err
			}
			u = update.Apply(u)
			u.UpdatedAt = tx.nowUTC()
			f := store.FoldUser(u)
			_, err = tx.exec(ctx, tx.write, `UPDATE users SET email = ?, email_lower = ?, given_name = ?,
				family_name = ?, given_lower = ?, family_lower = ?, full_name_lower = ?, status = ?, role = ?,
				platform_admin = ?, updated_at = ? WHERE org_code = ? AND id = ?`,
				u.Email, f.Email, u.GivenName, u.FamilyName, f.Given, f.Family, f.Full,
				string(u.Status), string(u.Role), u.PlatformAdmin, tx.d.Time(u.UpdatedAt), orgCode, userID)
			return err
		})
		return u, err
	})
}

// DeleteUser removes the user's row, which holds their password hash too.
func (q *Queries) DeleteUser(ctx context.Context, orgCode, userID string) error {
	return q.run(ctx, "delete user", func(ctx context.Context) error {
		return mustAffect(q.exec(ctx, q.write, `DELETE FROM users WHERE org_code = ? AND id = ?`, orgCode, userID))
	})
}

func (q *Queries) SetUserPassword(ctx context.Context, orgCode, userID, passwordHash string) error {
	return q.run(ctx, "set user password", func(ctx context.Context) error {
		return mustAffect(q.exec(ctx, q.write, `UPDATE users SET password_hash = ? WHERE org_code = ? AND id = ?`,
			textValue(passwordHash), orgCode, userID))
	})
}

// UserCredentials reads the users_email index, across every org.
func (q *Queries) UserCredentials(ctx context.Context, email string) ([]store.UserCredential, error) {
	return call(q, ctx, "user credentials", func(ctx context.Context) ([]store.UserCredential, error) {
		const query = `SELECT ` + userColumns + `, password_hash FROM users WHERE email_lower = ? ORDER BY org_code, id`
		return queryAll(ctx, q, q.read, query, []any{store.Fold(email)}, func(r Row) (store.UserCredential, error) {
			var c store.UserCredential
			u := &c.User
			err := r.Scan(&u.OrgCode, &u.ID, &u.Email, &u.GivenName, &u.FamilyName, &u.Status, &u.Role, &u.PlatformAdmin,
				q.d.TimeDest(&u.CreatedAt), q.d.TimeDest(&u.UpdatedAt), q.d.TextDest(&c.PasswordHash))
			return c, err
		})
	})
}
