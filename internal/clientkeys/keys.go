package clientkeys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/orgscope/orgscope/auth"
)

// AssertionType is the client_assertion_type of a JWT client assertion
// (RFC 7523 §2.2).
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Method is the token_endpoint_auth_method of a client that authenticates
// with assertions.
const Method = "private_key_jwt"

// Algorithms are the signature algorithms a client assertion may use:
// asymmetric ones only, never none or HMAC (RFC 8725 §3.1). RS256 is the
// one RFC 7523 implementations must support.
var Algorithms = []string{"RS256", "PS256", "ES256", "EdDSA"}

// Bounds of a registered key set.
const (
	// MaxKeys bounds the keys of one set: enough for a rotation or two.
	MaxKeys = 10
	// MaxSetBytes bounds a JWKS as registered.
	MaxSetBytes = 64 << 10
	// MinRSABits is the smallest RSA modulus accepted.
	MinRSABits = 2048
	// MaxURILength bounds a jwks_uri.
	MaxURILength = 2048
)

// privateMembers are the JWK members (RFC 7518 §6) that only private or
// symmetric keys have.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// ParseSet reads a JWKS of public signing keys (RFC 7517 §5) and checks
// each key: a public RSA (at least 2048 bits), P-256 or Ed25519 key, not
// marked for encryption, whose alg, if it names one, is in Algorithms and
// fits the key. A key without a kid gets its RFC 7638 thumbprint as kid;
// kids are unique. The error names the key and says what is wrong, in
// words fit to show whoever registered it. The set returned holds only
// public keys; Marshal it to store it.
func ParseSet(raw []byte) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if len(raw) > MaxSetBytes {
		return set, fmt.Errorf("the JWKS is larger than %d KiB", MaxSetBytes>>10)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&doc); err != nil || dec.More() {
		return set, errors.New(`the JWKS is not a JSON object of the form {"keys": [...]}`)
	}
	if len(doc.Keys) == 0 {
		return set, errors.New(`the JWKS holds no key: give {"keys": [ ... ]} with the client's public key`)
	}
	if len(doc.Keys) > MaxKeys {
		return set, fmt.Errorf("the JWKS holds %d keys; at most %d are allowed", len(doc.Keys), MaxKeys)
	}
	for i, rawKey := range doc.Keys {
		key, err := parseKey(rawKey)
		if err != nil {
			name := fmt.Sprintf("key %d", i+1)
			if key.KeyID != "" {
				name += fmt.Sprintf(" (kid %q)", key.KeyID)
			}
			return jose.JSONWebKeySet{}, fmt.Errorf("the JWKS's %s %w", name, err)
		}
		if slices.ContainsFunc(set.Keys, func(k jose.JSONWebKey) bool { return k.KeyID == key.KeyID }) {
			return jose.JSONWebKeySet{}, fmt.Errorf("the JWKS has two keys with kid %q; kids must be unique", key.KeyID)
		}
		set.Keys = append(set.Keys, key)
	}
	return set, nil
}

// parseKey checks one JWK; the error completes "the JWKS's key N …". The
// key returned carries the kid it has, even on error, to name it.
func parseKey(raw json.RawMessage) (jose.JSONWebKey, error) {
	var members map[string]any
	if err := json.Unmarshal(raw, &members); err != nil {
		return jose.JSONWebKey{}, errors.New("is not a JSON object")
	}
	kid, _ := members["kid"].(string)
	named := jose.JSONWebKey{KeyID: kid}
	if kty, _ := members["kty"].(string); kty == "oct" {
		return named, errors.New("is a symmetric (oct) key; private_key_jwt needs an asymmetric public key (RSA, EC P-256 or Ed25519)")
	}
	for _, m := range privateMembers {
		if _, ok := members[m]; ok {
			return named, fmt.Errorf("holds private key material (%q): register only the public key and keep the private key with the client", m)
		}
	}
	var key jose.JSONWebKey
	if err := key.UnmarshalJSON(raw); err != nil {
		return named, fmt.Errorf("is not a usable JWK (%v)", err)
	}
	if !key.Valid() || !key.IsPublic() {
		return named, errors.New("is not a valid public key")
	}
	if key.Use != "" && key.Use != "sig" {
		return named, fmt.Errorf("is for use %q; a signing key has use \"sig\" or none", key.Use)
	}
	switch k := key.Key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < MinRSABits {
			return named, fmt.Errorf("is an RSA key of %d bits; at least %d are needed", k.N.BitLen(), MinRSABits)
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return named, fmt.Errorf("is on curve %s; only P-256 (ES256) is accepted", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	default:
		return named, fmt.Errorf("has a key type this server does not accept (%T); use RSA, EC P-256 or Ed25519", key.Key)
	}
	if key.Algorithm != "" && !slices.Contains(Algorithms, key.Algorithm) {
		return named, fmt.Errorf("names alg %q; accepted: %s", key.Algorithm, strings.Join(Algorithms, ", "))
	}
	if len(KeyAlgorithms(key)) == 0 {
		return named, fmt.Errorf("names alg %q, which does not fit its key type", key.Algorithm)
	}
	if key.KeyID == "" {
		tp, err := key.Thumbprint(crypto.SHA256)
		if err != nil {
			return named, fmt.Errorf("has no kid and no thumbprint (%v)", err)
		}
		key.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	}
	key.Certificates, key.CertificatesURL, key.CertificateThumbprintSHA1, key.CertificateThumbprintSHA256 = nil, nil, nil, nil
	return key, nil
}

// KeyAlgorithms are the algorithms of Algorithms that key may verify: the
// one its JWK names, if its type allows it, or those of its type
// (auth.KeyAllows).
func KeyAlgorithms(key jose.JSONWebKey) []string {
	var out []string
	for _, alg := range Algorithms {
		if auth.KeyAllows(key, alg) && auth.KeyAllows(jose.JSONWebKey{Key: key.Key}, alg) {
			out = append(out, alg)
		}
	}
	return out
}

// CheckURI checks a jwks_uri: an absolute https URL with a host, or an
// http one on a loopback host (for development: the issuer fetches from
// loopback only when told it may). No user information, no fragment.
func CheckURI(raw string) error {
	if len(raw) > MaxURILength {
		return fmt.Errorf("the jwks_uri is longer than %d characters", MaxURILength)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return errors.New("the jwks_uri is not an absolute URL")
	}
	if u.User != nil || u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("the jwks_uri may hold neither user information nor a fragment")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return errors.New("the jwks_uri must be an https URL (http only on a loopback host, for development)")
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
