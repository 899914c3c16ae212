package service

import (
	"context"

	"github.com/orgscope/orgscope/internal/credential"
	"github.com/orgscope/orgscope/store"
)

// SetPasswordInput names a person and their new password.
type SetPasswordInput struct {
	OrgArg
	Email string `json:"email"`
	// Password is never part of the audit record (nor of the hashed
	// arguments).
	Password string `json:"-"`
	hash     string
}

// SetPasswordOutput is the person whose password was set.
type SetPasswordOutput struct {
	User store.User `json:"user"`
}

// SetPassword stores a slow hash of a person's new password.
func (s *Service) SetPassword(ctx context.Context, c Caller, in SetPasswordInput) (SetPasswordOutput, error) {
	op := &operation[SetPasswordInput, SetPasswordOutput]{
		name:  "set_user_password",
		org:   orgOf[SetPasswordInput],
		write: true,
		check: func(in *SetPasswordInput) error {
			var err error
			if in.Email, err = parseEmail(in.Email); err != nil {
				return err
			}
			if err := textOK("password", in.Password); err != nil {
				return err
			}
			// Hashed here, slowly on purpose, rather than inside the
			// transaction that stores it.
			if in.hash, err = credential.HashPassword(in.Password, s.passwordCost); err != nil {
				return invalid("%v", err)
			}
			return nil
		},
		target: func(_ *SetPasswordInput, out *SetPasswordOutput) string { return out.User.ID },
		do: func(ctx context.Context, q store.Tx, org string, in *SetPasswordInput) (SetPasswordOutput, error) {
			creds, err := q.UserCredentials(ctx, in.Email)
			if err != nil {
				return SetPasswordOutput{}, err
			}
			for _, cr := range creds {
				if cr.User.OrgCode != org {
					continue
				}
				return SetPasswordOutput{User: cr.User}, q.SetUserPassword(ctx, org, cr.User.ID, in.hash)
			}
			return SetPasswordOutput{}, notFound("there is no user %s in %s", in.Email, org)
		},
	}
	return run(ctx, s, c, op, in)
}
