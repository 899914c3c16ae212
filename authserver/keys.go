package authserver

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/orgscope/orgscope/store"
)

// The signing algorithms the issuer makes keys for.
const (
	// RS256 (RSA-2048): what every client library accepts, the cheapest to
	// verify, and the dearest to sign (about a millisecond a token).
	RS256 = "RS256"
	// ES256 (ECDSA P-256): cheap to sign, dearer to verify.
	ES256 = "ES256"
	// EdDSA (Ed25519): cheap to sign and to verify; not every JOSE
	// library verifies it.
	EdDSA = "EdDSA"
)

// SigningAlgorithms lists the algorithms KeyOptions.Algorithm may name.
var SigningAlgorithms = []string{RS256, ES256, EdDSA}

// DefaultSigningAlgorithm is the algorithm of new keys when
// KeyOptions.Algorithm is empty: Ed25519, whose signature costs a
// twentieth of an RSA-2048 one (the token endpoint's largest cost) and
// verifies about as fast. Access tokens are read by resource servers, not
// by MCP clients, and every JOSE library they use verifies EdDSA; RS256
// stays a choice (--signing-algorithm) for those that do not.
const DefaultSigningAlgorithm = EdDSA

// Rotation timing.
const (
	// DefaultKeyPollInterval is how often a server reads the keys from the
	// store (Options.KeyPollInterval): the longest a rotation or a
	// retirement made elsewhere goes unnoticed.
	DefaultKeyPollInterval = time.Second
	// DefaultKeyOverlap is how long a rotated key is published before it
	// signs (KeyOptions.Overlap). It must exceed what any verifier takes
	// to learn of a new key: replicas poll the store every second, and
	// verifiers elsewhere may cache the JWKS for its max-age, five minutes.
	DefaultKeyOverlap = 10 * time.Minute
	// MinKeyOverlap is the shortest overlap Rotate accepts: three polls at
	// the default interval, so every replica has read the key (allowing for
	// a slow poll and clocks a second apart) before any signs with it.
	MinKeyOverlap = 3 * DefaultKeyPollInterval
	// keyRetireMargin is added to the token lifetime before a replaced key
	// leaves the JWKS: the verifier's clock skew allowance (30 s) and
	// replicas' clocks that differ.
	keyRetireMargin = time.Minute
)

// KeyOptions says how the issuer's signing keys are made and kept.
type KeyOptions struct {
	// Algorithm of the keys made from now on, at first start and by Rotate
	// and Retire: RS256, ES256 or EdDSA. Keys made before keep theirs.
	// Empty means DefaultSigningAlgorithm.
	Algorithm string
	// EncryptionKey, when set (KeyEncryptionKeySize bytes), seals the
	// private keys made from now on with AES-256-GCM, and opens those
	// sealed under it. Nil stores new keys clear: they are then as safe as
	// the database and its backups.
	EncryptionKey []byte
	// Overlap is how long a key made by Rotate is published before it
	// signs; at least MinKeyOverlap. Zero means DefaultKeyOverlap.
	Overlap time.Duration
	// TokenTTL is the longest lifetime of the tokens the keys sign: a
	// replaced key stays published that long (and a minute) after its
	// successor begins to sign. Zero means DefaultTokenTTL.
	TokenTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// KeyManager makes the issuer's signing keys, seals them, opens them, and
// schedules rotations and retirements in the store. Rotate and Retire are
// what the service's key operations call (inside the transaction that
// records them); the server uses the rest.
type KeyManager struct {
	opts  KeyOptions
	kekID string
}

// NewKeyManager checks opts and returns a manager.
func NewKeyManager(opts KeyOptions) (*KeyManager, error) {
	if opts.Algorithm == "" {
		opts.Algorithm = DefaultSigningAlgorithm
	}
	if !slices.Contains(SigningAlgorithms, opts.Algorithm) {
		return nil, fmt.Errorf("authserver: signing algorithm %q is not one of %s", opts.Algorithm, strings.Join(SigningAlgorithms, ", "))
	}
	m := &KeyManager{opts: opts}
	if opts.EncryptionKey != nil {
		if len(opts.EncryptionKey) != KeyEncryptionKeySize {
			return nil, fmt.Errorf("authserver: a key-encryption key has %d bytes, not %d", KeyEncryptionKeySize, len(opts.EncryptionKey))
		}
		m.opts.EncryptionKey = bytes.Clone(opts.EncryptionKey)
		m.kekID = KeyEncryptionKeyID(opts.EncryptionKey)
	}
	switch {
	case opts.Overlap == 0:
		m.opts.Overlap = DefaultKeyOverlap
	case opts.Overlap < MinKeyOverlap:
		return nil, fmt.Errorf("authserver: a key overlap of %s is shorter than %s: replicas could sign with a key the others do not trust yet",
			opts.Overlap, MinKeyOverlap)
	}
	if opts.TokenTTL <= 0 {
		m.opts.TokenTTL = DefaultTokenTTL
	}
	if opts.Now == nil {
		m.opts.Now = time.Now
	}
	return m, nil
}

// Algorithm is the algorithm of the keys the manager makes.
func (m *KeyManager) Algorithm() string { return m.opts.Algorithm }

// Encrypts reports whether the keys the manager makes are sealed.
func (m *KeyManager) Encrypts() bool { return m.kekID != "" }

// Make generates a key of the manager's algorithm, sealed when there is a
// key-encryption key, with its kid (the RFC 7638 thumbprint) and public
// part. Its times are left zero.
func (m *KeyManager) Make() (store.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch m.opts.Algorithm {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("authserver: generate %s key: %w", m.opts.Algorithm, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("authserver: encode key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("authserver: encode public key: %w", err)
	}
	thumb, err := (&jose.JSONWebKey{Key: priv.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("authserver: key thumbprint: %w", err)
	}
	k := store.SigningKey{ID: base64.RawURLEncoding.EncodeToString(thumb), Algorithm: m.opts.Algorithm, PrivateKey: der, PublicKey: pub}
	if m.kekID != "" {
		if k.PrivateKey, err = seal(m.opts.EncryptionKey, k.ID, der); err != nil {
			return store.SigningKey{}, fmt.Errorf("authserver: encrypt key: %w", err)
		}
		k.KEKID = m.kekID
	}
	return k, nil
}

// Rotate makes a new key in st: published now, signing after the overlap;
// the keys before it then stay published for a token lifetime (and a
// minute), until every token they signed has expired. In a database where
// no key signs yet, the new key signs at once.
func (m *KeyManager) Rotate(ctx context.Context, st store.KeyStore) (store.SigningKey, error) {
	keys, err := st.SigningKeys(ctx)
	if err != nil {
		return store.SigningKey{}, err
	}
	k, err := m.Make()
	if err != nil {
		return store.SigningKey{}, err
	}
	now := m.opts.Now()
	k.CreatedAt = now
	k.ActivateAt = now
	for _, s := range store.KeySchedule(keys, now) {
		if s.State == store.KeyActive {
			k.ActivateAt = now.Add(m.opts.Overlap)
		}
	}
	k.RetirePreviousAt = k.ActivateAt.Add(m.opts.TokenTTL + keyRetireMargin)
	return st.AddSigningKey(ctx, k)
}

// Retire removes key kid from st at once: no replica publishes or trusts
// it after its next poll. If it was the key signing, the next key signs at
// once, or a new one is made to (the keys before it staying published for
// a token lifetime).
func (m *KeyManager) Retire(ctx context.Context, st store.KeyStore, kid string) (store.KeyRetirement, error) {
	now := m.opts.Now()
	return st.RetireSigningKey(ctx, kid, now, func() (store.SigningKey, error) {
		k, err := m.Make()
		k.CreatedAt = now
		k.RetirePreviousAt = now.Add(m.opts.TokenTTL + keyRetireMargin)
		return k, err
	})
}

// publicKey returns k's public key: the stored one, or for a key stored
// before public keys were kept (it is clear), the private key's.
func (m *KeyManager) publicKey(k store.SigningKey) (crypto.PublicKey, error) {
	if len(k.PublicKey) > 0 {
		pub, err := x509.ParsePKIXPublicKey(k.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: public key: %w", k.ID, err)
		}
		return pub, checkAlgorithm(k, pub)
	}
	priv, err := m.privateKey(k)
	if err != nil {
		return nil, err
	}
	return priv.Public(), nil
}

// privateKey opens k's private key and checks it against its algorithm
// and its stored public key.
func (m *KeyManager) privateKey(k store.SigningKey) (crypto.Signer, error) {
	der := k.PrivateKey
	if k.KEKID != "" {
		switch {
		case m.kekID == "":
			return nil, fmt.Errorf("signing key %s: %w", k.ID, ErrKeyEncryptionKeyNeeded)
		case m.kekID != k.KEKID:
			return nil, fmt.Errorf("signing key %s: %w (its id is %s; the one given is %s)", k.ID, ErrWrongKeyEncryptionKey, k.KEKID, m.kekID)
		}
		var err error
		if der, err = open(m.opts.EncryptionKey, k.ID, k.PrivateKey); err != nil {
			return nil, fmt.Errorf("signing key %s: %w", k.ID, err)
		}
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", k.ID, err)
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("signing key %s: %T is not a signing key", k.ID, parsed)
	}
	if err := checkAlgorithm(k, priv.Public()); err != nil {
		return nil, err
	}
	if len(k.PublicKey) > 0 {
		pub, err := x509.MarshalPKIXPublicKey(priv.Public())
		if err != nil || !bytes.Equal(pub, k.PublicKey) {
			return nil, fmt.Errorf("signing key %s: its stored public key is not its private key's", k.ID)
		}
	}
	return priv, nil
}

// checkAlgorithm holds a key to the type its algorithm needs.
func checkAlgorithm(k store.SigningKey, pub crypto.PublicKey) error {
	ok := false
	switch p := pub.(type) {
	case *rsa.PublicKey:
		ok = k.Algorithm == RS256 && p.N.BitLen() >= 2048
	case *ecdsa.PublicKey:
		ok = k.Algorithm == ES256 && p.Curve == elliptic.P256()
	case ed25519.PublicKey:
		ok = k.Algorithm == EdDSA
	}
	if !ok {
		return fmt.Errorf("signing key %s: a %T is not a key for %s", k.ID, pub, k.Algorithm)
	}
	return nil
}

// errCannotSign answers a token request when no key can sign here: the
// active key is missing or cannot be opened (its key-encryption key is not
// this replica's). Another replica may be able to.
func errCannotSign() *oauthError {
	return &oauthError{status: 503, code: "temporarily_unavailable", retryAfter: 5,
		description: "the authorization server cannot sign tokens right now; retry shortly"}
}

// errNoSigningKey: no key signs at this moment.
var errNoSigningKey = errors.New("no signing key is active")
