package authserver

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/orgscope/orgscope/internal/credential"
	"github.com/orgscope/orgscope/store"
)

// dummyHash is compared against when the client does not exist, so that an
// unknown client id costs the same as a wrong secret.
var dummyHash = credential.HashSecret("no such client")

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

// authenticateClient checks a confidential client's secret against each of
// its secrets (two during a rotation's grace period). A disabled client is
// refused like a wrong secret, after the same comparison: invalid_client,
// whether or not the secret was right, so the answer says nothing more.
func (s *Server) authenticateClient(ctx context.Context, cred clientCredentials) (store.Client, *oauthError) {
	if cred.id == "" || cred.secret == "" {
		credential.SecretMatches(cred.secret, dummyHash)
		return store.Client{}, errInvalidClient(cred.viaBasic)
	}
	c, err := s.opts.Store.GetClient(ctx, cred.id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		credential.SecretMatches(cred.secret, dummyHash)
		return store.Client{}, errInvalidClient(cred.viaBasic)
	case err != nil:
		return store.Client{}, s.storeFailure(ctx, "get client", err)
	}
	hashes := c.SecretHashes()
	usable := len(hashes) > 0 && !c.Disabled()
	if len(hashes) == 0 {
		hashes = []string{dummyHash} // a public client, or one whose secrets all expired
	}
	if !credential.SecretMatchesAny(cred.secret, hashes) || !usable {
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
