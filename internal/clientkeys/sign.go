package clientkeys

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// DefaultLifetime is the lifetime of an assertion Sign makes when none is
// asked for: one request's worth.
const DefaultLifetime = time.Minute

// HeaderType is the typ of the assertions Sign makes, as the update of
// RFC 7523 (draft-ietf-oauth-rfc7523bis) names it; "JWT" and none are
// accepted too.
const HeaderType = "client-authentication+jwt"

// Assertion is what a client assertion states.
type Assertion struct {
	// ClientID is the client's id: the assertion's iss and sub.
	ClientID string
	// Audience is the authorization server's issuer identifier.
	Audience string
	// Lifetime is how long the assertion is valid; zero means
	// DefaultLifetime.
	Lifetime time.Duration
	// Now is when it is made (iat); zero means time.Now().
	Now time.Time
	// ID is its jti; empty means 128 random bits.
	ID string
}

// Sign makes a client assertion signed with key, a private JWK (its kid
// goes into the header), with alg, or when alg is empty the first of
// Algorithms the key allows.
func Sign(key jose.JSONWebKey, alg string, a Assertion) (string, error) {
	if key.IsPublic() {
		return "", errors.New("signing needs the private key")
	}
	public := key.Public()
	allowed := KeyAlgorithms(public)
	if alg == "" && len(allowed) > 0 {
		alg = allowed[0]
	}
	if !slices.Contains(allowed, alg) {
		return "", fmt.Errorf("the key cannot sign %q (it can: %s)", alg, strings.Join(allowed, ", "))
	}
	if a.ClientID == "" || a.Audience == "" {
		return "", errors.New("an assertion needs the client id and the audience")
	}
	if a.Now.IsZero() {
		a.Now = time.Now()
	}
	if a.Lifetime <= 0 {
		a.Lifetime = DefaultLifetime
	}
	if a.ID == "" {
		b := make([]byte, 16)
		rand.Read(b)
		a.ID = hex.EncodeToString(b)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key.Key},
		(&jose.SignerOptions{}).WithType(HeaderType).WithHeader("kid", key.KeyID))
	if err != nil {
		return "", fmt.Errorf("signer: %w", err)
	}
	return jwt.Signed(signer).Claims(jwt.Claims{
		Issuer:   a.ClientID,
		Subject:  a.ClientID,
		Audience: jwt.Audience{a.Audience},
		ID:       a.ID,
		IssuedAt: jwt.NewNumericDate(a.Now),
		Expiry:   jwt.NewNumericDate(a.Now.Add(a.Lifetime)),
	}).Serialize()
}

// ParsePrivateKey reads a private key: PEM (PKCS #8, PKCS #1 RSA or SEC 1
// EC, as openssl writes them) or a private JWK. A key without a kid gets
// its RFC 7638 thumbprint, as ParseSet gives its public half.
func ParsePrivateKey(data []byte) (jose.JSONWebKey, error) {
	var key jose.JSONWebKey
	if block, _ := pem.Decode(data); block != nil {
		var k any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			return key, fmt.Errorf("a PEM block of type %q is not a private key", block.Type)
		}
		if err != nil {
			return key, fmt.Errorf("the private key cannot be read: %w", err)
		}
		key.Key = k
	} else if err := key.UnmarshalJSON(data); err != nil {
		return key, errors.New("not a PEM private key nor a JWK")
	}
	if key.IsPublic() || !key.Valid() {
		return key, errors.New("not a private key")
	}
	if _, ok := key.Key.(crypto.Signer); !ok {
		return key, errors.New("not an asymmetric private key")
	}
	if key.KeyID == "" {
		public := key.Public()
		tp, err := public.Thumbprint(crypto.SHA256)
		if err != nil {
			return key, err
		}
		key.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	}
	return key, nil
}

// PublicSet returns the JWKS to register for key: its public half, with
// its kid, use "sig", and pinned to alg (or, when alg is empty, to the
// first algorithm its type allows).
func PublicSet(key jose.JSONWebKey, alg string) ([]byte, error) {
	public := key.Public()
	allowed := KeyAlgorithms(public)
	if alg == "" && len(allowed) > 0 {
		alg = allowed[0]
	}
	if !slices.Contains(allowed, alg) {
		return nil, fmt.Errorf("the key cannot sign %q (it can: %s)", alg, strings.Join(allowed, ", "))
	}
	public.Algorithm, public.Use = alg, "sig"
	return json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{public}})
}
