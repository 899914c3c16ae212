package authserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authserver"
	"github.com/orgscope/orgscope/store"
)

// keyFixture is an issuer on a settable clock with one machine client.
type keyFixture struct {
	st             store.Store
	clock          *clock
	s              *authserver.Server
	client, secret string
}

func newKeyFixture(t *testing.T, st store.Store, clk *clock, keys authserver.KeyOptions) *keyFixture {
	t.Helper()
	if st == nil {
		st = newStore(t)
	}
	if clk == nil {
		clk = newClock()
	}
	f := &keyFixture{st: st, clock: clk}
	var err error
	f.s, err = authserver.New(t.Context(), authserver.Options{Issuer: issuer, Resource: resource, Store: st,
		TokenTTL: 10 * time.Minute, Keys: keys, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	c, secret, err := createMachineClient(t.Context(), st, machineClient{Name: "agent", Scopes: []string{"read:orgs"}})
	if err != nil {
		t.Fatal(err)
	}
	f.client, f.secret = c.ID, secret
	return f
}

// token gets a client_credentials token, failing the test otherwise.
func (f *keyFixture) token(t *testing.T) string {
	t.Helper()
	code, body := issue(t, f.s, f.client, f.secret, url.Values{})
	if code != http.StatusOK {
		t.Fatalf("token: %d %v", code, body)
	}
	return body["access_token"].(string)
}

// jwks returns the kids and algorithms the JWKS publishes, in its order.
func (f *keyFixture) jwks(t *testing.T) []jose.JSONWebKey {
	t.Helper()
	rec := httptest.NewRecorder()
	f.s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, authserver.JWKSPath, nil))
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil {
		t.Fatal(err)
	}
	return set.Keys
}

func kids(keys []jose.JSONWebKey) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.KeyID)
	}
	return out
}

// kidOf reads the kid of a token's header.
func kidOf(t *testing.T, token string) string {
	t.Helper()
	header, _ := decode(t, token)
	kid, _ := header["kid"].(string)
	return kid
}

// verifies reports whether the resource server's key set (the issuer's
// published keys, pinned) verifies token's signature.
func (f *keyFixture) verifies(t *testing.T, token string) bool {
	t.Helper()
	_, err := (&auth.LiveKeySet{Keys: f.s.PublishedKeys}).VerifySignature(t.Context(), token)
	return err == nil
}

func (f *keyFixture) manager(t *testing.T, opts authserver.KeyOptions) *authserver.KeyManager {
	t.Helper()
	opts.Now = f.clock.Now
	m, err := authserver.NewKeyManager(opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func refresh(t *testing.T, s *authserver.Server) {
	t.Helper()
	if err := s.RefreshKeys(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestKeyRotation follows one rotation: the new key is published before it
// signs, signs after the overlap, and the old one stays published — its
// tokens valid — until they have all expired.
func TestKeyRotation(t *testing.T) {
	f := newKeyFixture(t, nil, nil, authserver.KeyOptions{})
	before := f.token(t)
	k1 := kidOf(t, before)

	next, err := f.manager(t, authserver.KeyOptions{Overlap: time.Minute, TokenTTL: 10 * time.Minute}).Rotate(t.Context(), f.st)
	if err != nil {
		t.Fatal(err)
	}
	refresh(t, f.s)
	if got := kids(f.jwks(t)); !slices.Equal(got, []string{next.ID, k1}) {
		t.Fatalf("JWKS after the rotation = %v, want the next key %s published beside %s", got, next.ID, k1)
	}
	if kid := kidOf(t, f.token(t)); kid != k1 {
		t.Fatalf("during the overlap a token was signed by %s, want %s", kid, k1)
	}

	f.clock.Advance(time.Minute)
	after := f.token(t)
	if kid := kidOf(t, after); kid != next.ID {
		t.Fatalf("after the overlap a token was signed by %s, want the new key %s", kid, next.ID)
	}
	if !f.verifies(t, before) || !f.verifies(t, after) {
		t.Fatal("a token of the old or the new key does not verify while both are published")
	}

	f.clock.Advance(10*time.Minute + time.Minute - time.Second)
	if !f.verifies(t, before) {
		t.Fatal("the old key was withdrawn before its tokens expired")
	}
	f.clock.Advance(time.Second)
	if got := kids(f.jwks(t)); !slices.Equal(got, []string{next.ID}) {
		t.Fatalf("JWKS once the old key's tokens have expired = %v, want only %s", got, next.ID)
	}
	if f.verifies(t, before) {
		t.Fatal("a token of the retired key still verifies")
	}
	if err := f.s.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	stored, _ := f.st.SigningKeys(t.Context())
	if len(stored) != 1 || stored[0].ID != next.ID {
		t.Fatalf("stored keys after the sweep: %d, want only %s", len(stored), next.ID)
	}
}

// TestKeyRetire: an emergency retirement withdraws the key at once, and a
// key signs in its place at once.
func TestKeyRetire(t *testing.T) {
	f := newKeyFixture(t, nil, nil, authserver.KeyOptions{})
	before := f.token(t)
	m := f.manager(t, authserver.KeyOptions{Algorithm: authserver.ES256})
	if _, err := m.Retire(t.Context(), f.st, "no-such-kid"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("retiring an unknown kid: %v", err)
	}
	r, err := m.Retire(t.Context(), f.st, kidOf(t, before))
	if err != nil || !r.Made || r.Retired.ID != kidOf(t, before) {
		t.Fatalf("Retire = %+v, %v", r, err)
	}
	refresh(t, f.s)
	if f.verifies(t, before) {
		t.Fatal("a token of the retired key still verifies")
	}
	after := f.token(t)
	if kidOf(t, after) != r.Successor.ID || !f.verifies(t, after) {
		t.Fatalf("after the retirement a token of %s; want the replacement %s, verifying", kidOf(t, after), r.Successor.ID)
	}
	if h, _ := decode(t, after); h["alg"] != "ES256" {
		t.Errorf("the replacement signs with %v, want the manager's ES256", h["alg"])
	}
}

// TestSigningAlgorithms: each algorithm makes its kind of key, the JWKS
// pins it, and the issuer's own endpoints read its tokens.
func TestSigningAlgorithms(t *testing.T) {
	for _, alg := range authserver.SigningAlgorithms {
		t.Run(alg, func(t *testing.T) {
			f := newKeyFixture(t, nil, nil, authserver.KeyOptions{Algorithm: alg})
			token := f.token(t)
			if h, _ := decode(t, token); h["alg"] != alg {
				t.Fatalf("token alg %v", h["alg"])
			}
			keys := f.jwks(t)
			if len(keys) != 1 || keys[0].Algorithm != alg || !keys[0].IsPublic() {
				t.Fatalf("JWKS %+v", keys)
			}
			var typeOK bool
			switch keys[0].Key.(type) {
			case *rsa.PublicKey:
				typeOK = alg == authserver.RS256
			case *ecdsa.PublicKey:
				typeOK = alg == authserver.ES256
			case ed25519.PublicKey:
				typeOK = alg == authserver.EdDSA
			}
			if !typeOK || !f.verifies(t, token) {
				t.Fatalf("a %T key for %s; token verifies: %v", keys[0].Key, alg, f.verifies(t, token))
			}
			if alg, configured := f.s.SigningAlgorithm(); !configured || alg != keys[0].Algorithm {
				t.Errorf("SigningAlgorithm = %s, %v", alg, configured)
			}
			_, body := postAuthenticated(t, f.s, authserver.IntrospectPath, f.client, f.secret, url.Values{"token": {token}})
			if body["active"] != true {
				t.Errorf("introspection of an %s token: %v", alg, body)
			}
		})
	}
	if _, err := authserver.NewKeyManager(authserver.KeyOptions{Algorithm: "HS256"}); err == nil || !strings.Contains(err.Error(), "RS256, ES256, EdDSA") {
		t.Errorf("an HMAC algorithm: %v", err)
	}
	if _, err := authserver.NewKeyManager(authserver.KeyOptions{Overlap: time.Second}); err == nil {
		t.Error("an overlap shorter than three polls was accepted")
	}
}

// TestAlgorithmChangeAtRotation: a server given another algorithm keeps
// signing with the key it has until a rotation makes one of the new kind.
func TestAlgorithmChangeAtRotation(t *testing.T) {
	st, clk := newStore(t), newClock()
	newKeyFixture(t, st, clk, authserver.KeyOptions{Algorithm: authserver.RS256})
	f := newKeyFixture(t, st, clk, authserver.KeyOptions{Algorithm: authserver.EdDSA})
	if alg, configured := f.s.SigningAlgorithm(); alg != authserver.RS256 || configured {
		t.Fatalf("SigningAlgorithm = %s, %v; want RS256, not the configured one", alg, configured)
	}
	if h, _ := decode(t, f.token(t)); h["alg"] != "RS256" {
		t.Fatalf("before the rotation: %v", h["alg"])
	}
	if _, err := f.manager(t, authserver.KeyOptions{Algorithm: authserver.EdDSA, Overlap: time.Minute}).Rotate(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	refresh(t, f.s)
	clk.Advance(time.Minute)
	if h, _ := decode(t, f.token(t)); h["alg"] != "EdDSA" {
		t.Fatalf("after the rotation: %v", h["alg"])
	}
}

// sealedStore lets a test alter the sealed private keys it returns.
type sealedStore struct {
	store.Store
	alter func(k *store.SigningKey)
}

func (s sealedStore) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	keys, err := s.Store.SigningKeys(ctx)
	for i := range keys {
		s.alter(&keys[i])
	}
	return keys, err
}

// TestEncryptedKeys: keys made with a key-encryption key are sealed; the
// database is not served without that key, nor with another, nor when a
// sealed key was altered; with it, it is.
func TestEncryptedKeys(t *testing.T) {
	kek, other := randomKey(t), randomKey(t)
	st, clk := newStore(t), newClock()
	f := newKeyFixture(t, st, clk, authserver.KeyOptions{EncryptionKey: kek})
	stored, _ := st.SigningKeys(t.Context())
	if len(stored) != 1 || stored[0].KEKID != authserver.KeyEncryptionKeyID(kek) || len(stored[0].PublicKey) == 0 {
		t.Fatalf("stored key %+v", stored)
	}
	if _, err := x509.ParsePKCS8PrivateKey(stored[0].PrivateKey); err == nil {
		t.Fatal("the stored private key is clear")
	}
	if !f.verifies(t, f.token(t)) {
		t.Fatal("a token of the encrypted key does not verify")
	}

	for name, tc := range map[string]struct {
		st   store.Store
		kek  []byte
		want error
	}{
		"no key-encryption key": {st, nil, authserver.ErrKeyEncryptionKeyNeeded},
		"another one":           {st, other, authserver.ErrWrongKeyEncryptionKey},
		"an altered sealed key": {sealedStore{st, func(k *store.SigningKey) { k.PrivateKey[len(k.PrivateKey)-1] ^= 1 }}, kek, authserver.ErrSealedKeyDamaged},
		"a key moved to another kid": {sealedStore{st, func(k *store.SigningKey) {
			k.ID = strings.ToUpper(k.ID)
		}}, kek, authserver.ErrSealedKeyDamaged},
	} {
		_, err := authserver.New(t.Context(), authserver.Options{Issuer: issuer, Resource: resource, Store: tc.st,
			Keys: authserver.KeyOptions{EncryptionKey: tc.kek}, Now: clk.Now})
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), "signing key") {
			t.Errorf("%s: New = %v, want %v", name, err, tc.want)
		}
	}
	newKeyFixture(t, st, clk, authserver.KeyOptions{EncryptionKey: kek}) // and with it, it is
}

// TestUnencryptedKeysKeepWorking: a database of clear keys is served with a
// key-encryption key too, and a rotation with it makes an encrypted key.
func TestUnencryptedKeysKeepWorking(t *testing.T) {
	kek := randomKey(t)
	st, clk := newStore(t), newClock()
	clear := newKeyFixture(t, st, clk, authserver.KeyOptions{})
	before := clear.token(t)
	f := newKeyFixture(t, st, clk, authserver.KeyOptions{EncryptionKey: kek})
	if f.s.UnencryptedKeys() != 1 || !f.verifies(t, before) || kidOf(t, f.token(t)) != kidOf(t, before) {
		t.Fatal("a clear key does not work on a server given a key-encryption key")
	}
	next, err := f.manager(t, authserver.KeyOptions{EncryptionKey: kek, Overlap: time.Minute}).Rotate(t.Context(), st)
	if err != nil || next.KEKID == "" {
		t.Fatalf("Rotate with a key-encryption key = %+v, %v; want an encrypted key", next.KEKID, err)
	}

	// A replica without the key-encryption key publishes and trusts the
	// new key (its public part is stored clear) but cannot sign with it:
	// once it is due to sign, that replica answers 503 rather than sign
	// with a key the others have stopped using.
	refresh(t, clear.s)
	if got := kids(clear.jwks(t)); len(got) != 2 {
		t.Fatalf("the replica without the key-encryption key publishes %v", got)
	}
	clk.Advance(time.Minute)
	refresh(t, f.s)
	signed := f.token(t)
	if kidOf(t, signed) != next.ID || !clear.verifies(t, signed) {
		t.Fatal("the replica without the key-encryption key does not trust the new key's tokens")
	}
	code, body := issue(t, clear.s, clear.client, clear.secret, url.Values{})
	if code != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" {
		t.Fatalf("token from the replica that cannot sign: %d %v", code, body)
	}
}

// TestTokenLifetimeWithinKeyLife: a server whose token lifetime is longer
// than the one a rotation was scheduled with signs tokens that expire
// before its key leaves the JWKS.
func TestTokenLifetimeWithinKeyLife(t *testing.T) {
	f := newKeyFixture(t, nil, nil, authserver.KeyOptions{})
	if _, err := f.manager(t, authserver.KeyOptions{Overlap: time.Minute, TokenTTL: 5 * time.Minute}).Rotate(t.Context(), f.st); err != nil {
		t.Fatal(err)
	}
	refresh(t, f.s)
	_, claims := decode(t, f.token(t)) // the old key, a minute before its successor signs
	if life := claims["exp"].(float64) - claims["iat"].(float64); life != (6 * time.Minute).Seconds() {
		t.Fatalf("token lifetime %vs; want 6 min, ending a minute before its key retires", life)
	}
}

// TestWatchKeys: a server learns of a rotation made elsewhere by itself.
func TestWatchKeys(t *testing.T) {
	st := newStore(t)
	s, err := authserver.New(t.Context(), authserver.Options{Issuer: issuer, Resource: resource, Store: st, KeyPollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go s.WatchKeys(ctx)
	m, _ := authserver.NewKeyManager(authserver.KeyOptions{})
	next, err := m.Rotate(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if published := s.PublishedKeys(); len(published) == 2 && published[0].KeyID == next.ID {
			return
		}
	}
	t.Fatalf("the server publishes %v five seconds after a rotation, want %s too", kids(s.PublishedKeys()), next.ID)
}

func randomKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, authserver.KeyEncryptionKeySize)
	rand.Read(k)
	return k
}

// postAuthenticated posts a form with client credentials and decodes the answer.
func postAuthenticated(t *testing.T, s *authserver.Server, path, id, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	var body map[string]any
	json.Unmarshal(rec.Body.Bytes(), &body)
	return rec.Code, body
}
