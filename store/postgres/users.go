package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/orgscope/orgscope/store"
)

const (
	userColumns   = `org_code, id, email, given_name, family_name, status, role, created_at, updated_at`
	insertUserSQL = `INSERT INTO users (org_code, id, email, email_lower, given_name, family_name,
		given_lower, family_lower, full_name_lower, status, role, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`
	updateUserSQL = `UPDATE users SET email = $1, email_lower = $2, given_name = $3, family_name = $4,
		given_lower = $5, family_lower = $6, full_name_lower = $7, status = $8, role = $9, updated_at = $10
		WHERE org_code = $11 AND id = $12`
)

// userCopyColumns are the columns of insertUserSQL, for pgx.CopyFrom.
var userCopyColumns = []string{"org_code", "id", "email", "email_lower", "given_name", "family_name",
	"given_lower", "family_lower", "full_name_lower", "status", "role", "created_at", "updated_at"}

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

// CreateUser is one INSERT: the primary key and users_org_email make a
// taken ID or email store.ErrConflict even when two processes race, and the
// foreign key makes a missing org store.ErrNotFound.
func (s *Store) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	u = s.newUser(u)
	if _, err := s.pool.Exec(ctx, insertUserSQL, insertUserArgs(u)...); err != nil {
		return store.User{}, s.fail("create user", err)
	}
	return u, nil
}

// CreateUsers loads every user with COPY in one transaction (see
// copyRows): the first bad row rolls all of them back.
func (s *Store) CreateUsers(ctx context.Context, users []store.User) error {
	return s.write(ctx, "create users", func(tx pgx.Tx) error {
		return copyRows(ctx, tx, "users", userCopyColumns, len(users), func(i int) []any {
			return insertUserArgs(s.newUser(users[i]))
		})
	})
}

func (s *Store) GetUser(ctx context.Context, orgCode, userID string) (store.User, error) {
	u, err := getUser(ctx, s.pool, orgCode, userID, "")
	return u, s.fail("get user", err)
}

// getUser reads one user; lock is "" or a locking clause (FOR UPDATE).
func getUser(ctx context.Context, q querier, orgCode, userID, lock string) (store.User, error) {
	query := `SELECT ` + userColumns + ` FROM users WHERE org_code = $1 AND id = $2 ` + lock
	return scanUser(q.QueryRow(ctx, query, orgCode, userID))
}

// ListUsers reads one range of the (org_code, id) primary key: the cost is
// the page size (plus the rows a filter skips), never the page's depth.
func (s *Store) ListUsers(ctx context.Context, orgCode string, filter store.UserFilter, page store.Page) ([]store.User, string, error) {
	after, err := store.DecodeCursor(page.Cursor, store.ListUsers, orgCode)
	if err != nil {
		return nil, "", s.fail("list users", err)
	}
	var args params
	query := `SELECT ` + userColumns + ` FROM users WHERE ` + userFilter(&args, orgCode, after, filter) +
		` ORDER BY id LIMIT ` + args.add(page.Size()+1)
	users, err := queryAll(ctx, s.pool, query, args, scanUser)
	if err != nil {
		return nil, "", s.fail("list users", err)
	}
	users, last := store.TrimPage(users, page.Size(), func(u store.User) string { return u.ID })
	return users, store.EncodeCursor(store.ListUsers, orgCode, last), nil
}

// userFilter builds the WHERE clause of ListUsers, adding its arguments to
// args.
func userFilter(args *params, orgCode, after string, f store.UserFilter) string {
	conds := []string{`org_code = ` + args.add(orgCode)}
	if after != "" {
		conds = append(conds, `id > `+args.add(after))
	}
	if f.EmailPrefix != "" {
		conds = append(conds, `email_lower LIKE `+args.add(store.LikePrefix(f.EmailPrefix)))
	}
	if f.NamePrefix != "" {
		p := args.add(store.LikePrefix(f.NamePrefix))
		conds = append(conds, `(given_lower LIKE `+p+` OR family_lower LIKE `+p+` OR full_name_lower LIKE `+p+`)`)
	}
	if f.Status != "" {
		conds = append(conds, `status = `+args.add(string(f.Status)))
	}
	return strings.Join(conds, ` AND `)
}

// UpdateUser reads the user FOR UPDATE and writes it back in one
// transaction; users_org_email turns a taken email into store.ErrConflict.
func (s *Store) UpdateUser(ctx context.Context, orgCode, userID string, update store.UserUpdate) (store.User, error) {
	var u store.User
	err := s.write(ctx, "update user", func(tx pgx.Tx) error {
		var err error
		if u, err = getUser(ctx, tx, orgCode, userID, "FOR UPDATE"); err != nil {
			return err
		}
		u = update.Apply(u)
		u.UpdatedAt = s.nowUTC()
		f := store.FoldUser(u)
		_, err = tx.Exec(ctx, updateUserSQL, u.Email, f.Email, u.GivenName, u.FamilyName,
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
	return s.fail("delete user", mustAffect(s.pool.Exec(ctx, `DELETE FROM users WHERE org_code = $1 AND id = $2`, orgCode, userID)))
}

func (s *Store) SetUserPassword(ctx context.Context, orgCode, userID, passwordHash string) error {
	return s.fail("set user password", mustAffect(s.pool.Exec(ctx,
		`UPDATE users SET password_hash = $1 WHERE org_code = $2 AND id = $3`, textValue(passwordHash), orgCode, userID)))
}

// UserCredentials reads the users_email index, across every org.
func (s *Store) UserCredentials(ctx context.Context, email string) ([]store.UserCredential, error) {
	const query = `SELECT ` + userColumns + `, password_hash FROM users WHERE email_lower = $1 ORDER BY org_code, id`
	creds, err := queryAll(ctx, s.pool, query, []any{store.Fold(email)}, func(r scanner) (store.UserCredential, error) {
		var c store.UserCredential
		u := &c.User
		err := r.Scan(&u.OrgCode, &u.ID, &u.Email, &u.GivenName, &u.FamilyName, &u.Status, &u.Role,
			timeDest{&u.CreatedAt}, timeDest{&u.UpdatedAt}, textDest{&c.PasswordHash})
		return c, err
	})
	return creds, s.fail("user credentials", err)
}
