package service

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/orgscope/orgscope/store"
)

// SigningKeyManager makes and retires the embedded issuer's signing keys
// inside the transaction that records the operation. The key material —
// generating a key, sealing it under the key-encryption key, the schedule
// of a rotation — stays with the issuer (authserver.KeyManager implements
// this; the command line hands it over), so the service, which must not
// depend on the issuer, decides who may and keeps the record.
type SigningKeyManager interface {
	// Rotate stores a new key: published now, signing after the overlap.
	Rotate(ctx context.Context, tx store.KeyStore) (store.SigningKey, error)
	// Retire removes key kid at once (store.ErrNotFound if there is none),
	// making another key sign if it was the one signing.
	Retire(ctx context.Context, tx store.KeyStore, kid string) (store.KeyRetirement, error)
}

// SigningKeyInfo is what the operator sees of a signing key: never its
// private or public material.
type SigningKeyInfo struct {
	KID       string         `json:"kid"`
	Algorithm string         `json:"algorithm"`
	State     store.KeyState `json:"state"`
	CreatedAt time.Time      `json:"created_at"`
	// SignsFrom is when it begins (or began) to sign.
	SignsFrom time.Time `json:"signs_from"`
	// RetireAfter is when it leaves the JWKS; zero while no key follows it.
	RetireAfter time.Time `json:"retire_after,omitzero"`
	// Encrypted: its private key is sealed under a key-encryption key.
	Encrypted bool `json:"encrypted"`
}

// ListSigningKeysInput asks for nothing: every published key is listed.
type ListSigningKeysInput struct{}

// SigningKeysOutput lists the published keys, newest first.
type SigningKeysOutput struct {
	Keys []SigningKeyInfo `json:"keys"`
}

// RotateSigningKeyInput asks for a rotation; the manager's settings say
// how (algorithm, overlap, key-encryption key).
type RotateSigningKeyInput struct{}

// RotateSigningKeyOutput is the new key and every published key after the
// rotation.
type RotateSigningKeyOutput struct {
	Key  SigningKeyInfo   `json:"key"`
	Keys []SigningKeyInfo `json:"keys"`
}

// RetireSigningKeyInput names the key to retire.
type RetireSigningKeyInput struct {
	KID string `json:"kid"`
}

// RetireSigningKeyOutput says what the retirement did.
type RetireSigningKeyOutput struct {
	Retired string `json:"retired"`
	// Successor, when the retired key was the one signing, is the key that
	// signs in its place from now on; Made says it was made for it.
	Successor string           `json:"successor,omitempty"`
	Made      bool             `json:"made,omitempty"`
	Keys      []SigningKeyInfo `json:"keys"`
}

// MaxKeyIDLength bounds a key id: a thumbprint is 43 characters.
const MaxKeyIDLength = 128

// publishedKeys lists what the JWKS holds at now.
func publishedKeys(ctx context.Context, q store.KeyStore, now time.Time) ([]SigningKeyInfo, error) {
	keys, err := q.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := []SigningKeyInfo{}
	for _, s := range store.KeySchedule(keys, now) {
		if s.Published() {
			out = append(out, keyInfo(s))
		}
	}
	return out, nil
}

func keyInfo(s store.KeyStatus) SigningKeyInfo {
	return SigningKeyInfo{KID: s.Key.ID, Algorithm: s.Key.Algorithm, State: s.State, CreatedAt: s.Key.CreatedAt,
		SignsFrom: s.Key.ActivateAt, RetireAfter: s.RetireAfter, Encrypted: s.Key.KEKID != ""}
}

// noKeyManager refuses a key operation where the service was given no
// manager.
func noKeyManager() *Error {
	return &Error{Kind: KindInternal, Reason: "internal", Message: "signing keys cannot be changed here: this service manages no keys"}
}

// ListSigningKeys lists the embedded issuer's published signing keys and
// their state.
func (s *Service) ListSigningKeys(ctx context.Context, c Caller, in ListSigningKeysInput) (SigningKeysOutput, error) {
	return run(ctx, s, c, &operation[ListSigningKeysInput, SigningKeysOutput]{
		name: "list_signing_keys",
		do: func(ctx context.Context, q store.Tx, _ string, _ *ListSigningKeysInput) (SigningKeysOutput, error) {
			keys, err := publishedKeys(ctx, q, s.now())
			return SigningKeysOutput{Keys: keys}, err
		},
	}, in)
}

// RotateSigningKey publishes a new signing key now; it signs after the
// manager's overlap, and the keys before it retire once every token they
// signed has expired.
func (s *Service) RotateSigningKey(ctx context.Context, c Caller, in RotateSigningKeyInput) (RotateSigningKeyOutput, error) {
	return run(ctx, s, c, &operation[RotateSigningKeyInput, RotateSigningKeyOutput]{
		name:  "rotate_signing_key",
		write: true,
		check: func(*RotateSigningKeyInput) error {
			if s.signingKeys == nil {
				return noKeyManager()
			}
			return nil
		},
		target: func(_ *RotateSigningKeyInput, out *RotateSigningKeyOutput) string { return out.Key.KID },
		do: func(ctx context.Context, q store.Tx, _ string, _ *RotateSigningKeyInput) (RotateSigningKeyOutput, error) {
			k, err := s.signingKeys.Rotate(ctx, q)
			if err != nil {
				return RotateSigningKeyOutput{}, err
			}
			out := RotateSigningKeyOutput{}
			if out.Keys, err = publishedKeys(ctx, q, s.now()); err != nil {
				return out, err
			}
			for _, info := range out.Keys {
				if info.KID == k.ID {
					out.Key = info
				}
			}
			return out, nil
		},
	}, in)
}

// RetireSigningKey removes a signing key at once: every replica stops
// publishing and trusting it within its poll interval, so the tokens it
// signed are refused. For a key that leaked.
func (s *Service) RetireSigningKey(ctx context.Context, c Caller, in RetireSigningKeyInput) (RetireSigningKeyOutput, error) {
	return run(ctx, s, c, &operation[RetireSigningKeyInput, RetireSigningKeyOutput]{
		name:  "retire_signing_key",
		write: true,
		check: func(in *RetireSigningKeyInput) error {
			var err error
			if in.KID, err = plainText("kid", in.KID, MaxKeyIDLength); err != nil {
				return err
			}
			if in.KID == "" {
				return invalid("name the key to retire by its kid (keys list shows them)")
			}
			if s.signingKeys == nil {
				return noKeyManager()
			}
			return nil
		},
		target: func(in *RetireSigningKeyInput, _ *RetireSigningKeyOutput) string { return strings.TrimSpace(in.KID) },
		do: func(ctx context.Context, q store.Tx, _ string, in *RetireSigningKeyInput) (RetireSigningKeyOutput, error) {
			r, err := s.signingKeys.Retire(ctx, q, in.KID)
			if errors.Is(err, store.ErrNotFound) {
				return RetireSigningKeyOutput{}, notFound("no signing key has kid %q (keys list shows them)", in.KID)
			}
			if err != nil {
				return RetireSigningKeyOutput{}, err
			}
			out := RetireSigningKeyOutput{Retired: r.Retired.ID, Successor: r.Successor.ID, Made: r.Made}
			out.Keys, err = publishedKeys(ctx, q, s.now())
			return out, err
		},
	}, in)
}
