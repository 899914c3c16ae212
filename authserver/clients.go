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
	// assertion is set for private_key_jwt; id is then its sub.
	assertion *clientAssertion
}

// readClientCredentials reads client_secret_basic (RFC 6749 §2.3.1, with
// the form-urlencoding of id and secret it prescribes),
// client_secret_post, or private_key_jwt (RFC 7523 §2.2). Using two at
// once is an error (§2.3): invalid_request for two kinds of secret,
// invalid_client when an assertion comes with anything else, as the
// assertion's own faults are.
func readClientCredentials(r *http.Request) (clientCredentials, *oauthError) {
	user, pass, hasBasic := r.BasicAuth()
	postID, postSecret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if r.PostForm.Has("client_assertion") || r.PostForm.Has("client_assertion_type") {
		return readAssertionCredentials(r, postID, postSecret != "")
	}
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

// readAssertionCredentials reads a client assertion, alone: with a secret
// or an Authorization header it is invalid_client, and so is a client_id
// that is not the assertion's sub.
func readAssertionCredentials(r *http.Request, postID string, hasSecret bool) (clientCredentials, *oauthError) {
	if hasSecret || r.Header.Get("Authorization") != "" {
		return clientCredentials{}, errInvalidAssertion("use one client authentication method: a client assertion or a secret, not both")
	}
	a, oerr := readAssertion(r.PostForm.Get("client_assertion_type"), r.PostForm.Get("client_assertion"))
	if oerr != nil {
		return clientCredentials{}, oerr
	}
	if postID != "" && postID != a.claims.Subject {
		return clientCredentials{}, errInvalidAssertion("client_id differs from the client assertion's sub")
	}
	return clientCredentials{id: a.claims.Subject, assertion: a}, nil
}

// authenticateClient checks a confidential client's secret against each of
// its secrets (two during a rotation's grace period), or its assertion
// against its keys (machineClientByAssertion). A disabled client is
// refused like a wrong secret, after the same comparison: invalid_client,
// whether or not the secret was right, so the answer says nothing more.
func (s *Server) authenticateClient(ctx context.Context, cred clientCredentials) (store.Client, *oauthError) {
	if cred.assertion != nil {
		return s.machineClientByAssertion(ctx, cred)
	}
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
