package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/orgscope/orgscope/store"
)

const (
	userColumns   = `org_code, id, email, given_name, family_name, status, role, created_at, updated_at`
	insertUserSQL = `INSERT INTO users (org_code, id, email, email_lower, given_name, family_name,
		given_lower, family_lower, full_name_lower, status, role, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	updateUserSQL = `UPDATE users SET email = ?, email_lower = ?, given_name = ?, family_name = ?,
		given_lower = ?, family_lower = ?, full_name_lower = ?, status = ?, role = ?, updated_at = ?
		WHERE org_code = ? AND id = ?`
)

func scanUser(r scanner) (store.User, error) {
	var u store.User
	err := r.Scan(&u.OrgCode, &u.ID, &u.Email, &u.GivenName, &u.FamilyName, &u.Status, &u.Role,
		timeDest{&u.CreatedAt}, timeDest{&u.UpdatedAt})
	return u, err
}

func insertUserArgs(u store.User) []any {
	f := store.FoldUser(u)
	return []any{u.OrgCode, u.ID, u.Email, f.Email, u.GivenName, u.FamilyName,
		f.Given, f.Family, f.Full, string(u.Status), string(u.Role),
		timeValue(u.CreatedAt), timeValue(u.UpdatedAt)}
}

func (s *Store) newUser(u store.User) store.User {
	s.stampCreated(&u.CreatedAt, &u.UpdatedAt)
	return u
}

func (s *Store) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	u = s.newUser(u)
	err := s.write(ctx, "create user", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, insertUserSQL, insertUserArgs(u)...)
		return err
	})
	if err != nil {
		return store.User{}, err
	}
	return u, nil
}

// CreateUsers inserts every user with one prepared statement in one
// transaction: the first bad row rolls all of them back.
func (s *Store) CreateUsers(ctx context.Context, users []store.User) error {
	return s.write(ctx, "create users", func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, insertUserSQL)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, u := range users {
			if _, err := stmt.ExecContext(ctx, insertUserArgs(s.newUser(u))...); err != nil {
				return fmt.Errorf("user %d (%q in %q): %w", i, u.ID, u.OrgCode, err)
			}
		}
		return nil
	})
}

func (s *Store) GetUser(ctx context.Context, orgCode, userID string) (store.User, error) {
	u, err := getUser(ctx, s.reader, orgCode, userID)
	return u, s.fail("get user", err)
}

func getUser(ctx context.Context, q querier, orgCode, userID string) (store.User, error) {
	const query = `SELECT ` + userColumns + ` FROM users WHERE org_code = ? AND id = ?`
	return scanUser(q.QueryRowContext(ctx, query, orgCode, userID))
}

// ListUsers reads one range of the (org_code, id) primary key: the cost is
// the page size (plus the rows a filter skips), never the page's depth.
func (s *Store) ListUsers(ctx context.Context, orgCode string, filter store.UserFilter, page store.Page) ([]store.User, string, error) {
	after, err := store.DecodeCursor(page.Cursor, store.ListUsers, orgCode)
	if err != nil {
		return nil, "", s.fail("list users", err)
	}
	where, args := userFilter(orgCode, after, filter)
	query := `SELECT ` + userColumns + ` FROM users WHERE ` + where + ` ORDER BY id LIMIT ?`
	users, err := queryAll(ctx, s.reader, query, append(args, page.Size()+1), scanUser)
	if err != nil {
		return nil, "", s.fail("list users", err)
	}
	users, last := store.TrimPage(users, page.Size(), func(u store.User) string { return u.ID })
	return users, store.EncodeCursor(store.ListUsers, orgCode, last), nil
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

func (s *Store) UpdateUser(ctx context.Context, orgCode, userID string, update store.UserUpdate) (store.User, error) {
	var u store.User
	err := s.write(ctx, "update user", func(tx *sql.Tx) error {
		var err error
		if u, err = getUser(ctx, tx, orgCode, userID); err != nil {
			return err
		}
		u = update.Apply(u)
		u.UpdatedAt = s.nowUTC()
		f := store.FoldUser(u)
		_, err = tx.ExecContext(ctx, updateUserSQL, u.Email, f.Email, u.GivenName, u.FamilyName,
			f.Given, f.Family, f.Full, string(u.Status), string(u.Role), timeValue(u.UpdatedAt),
			orgCode, userID)
		return err
	})
	if err != nil {
		return store.User{}, err
	}
	return u, nil
}

// DeleteUser removes the user's row, which holds their password hash too.
func (s *Store) DeleteUser(ctx context.Context, orgCode, userID string) error {
	return s.write(ctx, "delete user", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE org_code = ? AND id = ?`, orgCode, userID)
		return mustAffect(res, err)
	})
}

func (s *Store) SetUserPassword(ctx context.Context, orgCode, userID, passwordHash string) error {
	return s.write(ctx, "set user password", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE org_code = ? AND id = ?`,
			textValue(passwordHash), orgCode, userID)
		return mustAffect(res, err)
	})
}

// UserCredentials reads the users_email index, across every org.
func (s *Store) UserCredentials(ctx context.Context, email string) ([]store.UserCredential, error) {
	const query = `SELECT ` + userColumns + `, password_hash FROM users WHERE email_lower = ? ORDER BY org_code, id`
	creds, err := queryAll(ctx, s.reader, query, []any{store.Fold(email)}, func(r scanner) (store.UserCredential, error) {
		var c store.UserCredential
		u := &c.User
		err := r.Scan(&u.OrgCode, &u.ID, &u.Email, &u.GivenName, &u.FamilyName, &u.Status, &u.Role,
			timeDest{&u.CreatedAt}, timeDest{&u.UpdatedAt}, textDest{&c.PasswordHash})
		return c, err
	})
	return creds, s.fail("user credentials", err)
}

// mustAffect turns an UPDATE or DELETE that matched no row into
// store.ErrNotFound.
func mustAffect(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}
