package authserver

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/store"
)

// MachineClient describes a machine-to-machine client to provision.
type MachineClient struct {
	Name string
	// OrgCode binds the client to one organization; empty makes it global.
	OrgCode string
	// Scopes the client may be granted; each must be a known scope.
	Scopes []string
	// Properties become the token's application_properties claim.
	Properties map[string]string
}

// CreateMachineClient stores a new client_credentials client and returns it
// with its secret. The secret is 256 random bits, shown to the caller once
// and stored only as a hash.
func CreateMachineClient(ctx context.Context, st interface {
	CreateClient(context.Context, store.Client) (store.Client, error)
}, mc MachineClient) (store.Client, string, error) {
	if strings.TrimSpace(mc.Name) == "" {
		return store.Client{}, "", errors.New("a client needs a name")
	}
	if len(mc.Scopes) == 0 {
		return store.Client{}, "", errors.New("a client needs at least one scope")
	}
	for _, s := range mc.Scopes {
		if !auth.Known(s) {
			return store.Client{}, "", fmt.Errorf("unknown scope %q (known: %s)", s, strings.Join(auth.AllScopes, " "))
		}
	}
	id := randomHex(16)
	secret := randomToken(32)
	c, err := st.CreateClient(ctx, store.Client{
		ID:                      id,
		Name:                    mc.Name,
		Kind:                    store.ClientMachine,
		OrgCode:                 mc.OrgCode,
		SecretHash:              HashSecret(secret),
		Scopes:                  auth.Narrow(mc.Scopes, mc.Scopes),
		GrantTypes:              []string{"client_credentials"},
		TokenEndpointAuthMethod: "client_secret_basic",
		Properties:              mc.Properties,
	})
	if err != nil {
		return store.Client{}, "", err
	}
	return c, secret, nil
}

// HashSecret returns the stored form of a client secret: hex SHA-256. A
// fast hash is right here because secrets are 256-bit random values, which
// no dictionary can guess; passwords get a slow hash instead.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// secretMatches compares in constant time.
func secretMatches(secret, hash string) bool {
	return subtle.ConstantTimeCompare([]byte(HashSecret(secret)), []byte(hash)) == 1
}

// dummyHash is compared against when the client does not exist, so that an
// unknown client id costs the same as a wrong secret.
var dummyHash = HashSecret("no such client")

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// clientCredentials are what a request presented to authenticate a client.
type clientCredentials struct {
	id, secret string
	viaBasic   bool
}

// readClientCredentials reads client_secret_basic (RFC 6749 §2.3.1, with
// the form-urlencoding of id and secret it prescribes) or
// client_secret_post. Using both at once is an error (§2.3).
func readClientCredentials(r *http.Request) (clientCredentials, *oauthError) {
	user, pass, hasBasic := r.BasicAuth()
	postID, postSecret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if hasBasic {
		if postSecret != "" {
			return clientCredentials{}, errInvalidRequest("use one client authentication method, not both Basic and client_secret")
		}
		id, err1 := url.QueryUnescape(user)
		secret, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return clientCredentials{}, errInvalidClient(true)
		}
		if postID != "" && postID != id {
			return clientCredentials{}, errInvalidRequest("client_id does not match the Authorization header")
		}
		return clientCredentials{id: id, secret: secret, viaBasic: true}, nil
	}
	if r.Header.Get("Authorization") != "" {
		return clientCredentials{}, errInvalidClient(true)
	}
	return clientCredentials{id: postID, secret: postSecret}, nil
}

// authenticateClient checks a confidential client's secret.
func (s *Server) authenticateClient(ctx context.Context, cred clientCredentials) (store.Client, *oauthError) {
	if cred.id == "" || cred.secret == "" {
		secretMatches(cred.secret, dummyHash)
		return store.Client{}, errInvalidClient(cred.viaBasic)
	}
	c, err := s.opts.Store.GetClient(ctx, cred.id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		secretMatches(cred.secret, dummyHash)
		return store.Client{}, errInvalidClient(cred.viaBasic)
	case err != nil:
		return store.Client{}, s.storeFailure(ctx, "get client", err)
	}
	if c.SecretHash == "" || !secretMatches(cred.secret, c.SecretHash) {
		return store.Client{}, errInvalidClient(cred.viaBasic)
	}
	return c, nil
}

// storeFailure logs a database error and picks the answer: 503 when the
// database is unreachable, 500 otherwise.
func (s *Server) storeFailure(ctx context.Context, op string, err error) *oauthError {
	if errors.Is(err, store.ErrUnavailable) {
		s.log.WarnContext(ctx, "database unavailable", "op", op, "err", err)
		return errUnavailable()
	}
	s.log.ErrorContext(ctx, "store failure", "op", op, "err", err)
	return errServer()
}
