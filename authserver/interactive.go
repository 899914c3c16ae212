package authserver

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/orgscope/orgscope/internal/credential"
	"github.com/orgscope/orgscope/store"
)

// interactiveClient is a client that may use the authorization-code flow:
// one registered through /oauth2/register, or one described by a Client ID
// Metadata Document. It is never bound to an organization: the org comes
// from the user who signs in.
type interactiveClient struct {
	ID   string
	Name string
	// Label identifies the client on the consent page: the host of its
	// metadata document URL, or its registered client id.
	Label        string
	RedirectURIs []string
	GrantTypes   []string
	// SecretHashes are set for confidential registered clients.
	SecretHashes []string
	// Keys are set for metadata-document clients that authenticate with
	// signed assertions (private_key_jwt).
	Keys clientKeys
	// Disabled clients get no token.
	Disabled bool
	// LocalOnly: every redirect URI is a loopback or private-use one, so
	// the client runs on the user's machine.
	LocalOnly bool
}

func (c *interactiveClient) public() bool { return len(c.SecretHashes) == 0 && !c.Keys.present() }

// errNotInteractive is a client that exists but may not use the flow.
var errNotInteractive = errors.New("this client is a machine client and cannot sign users in; it uses client_credentials")

// errUnknownClient is a client id nobody registered.
var errUnknownClient = errors.New("unknown client_id")

// interactiveClient resolves a client_id for the authorization-code flow.
// Errors are safe to show on a page.
func (s *Server) interactiveClient(ctx context.Context, clientID string) (*interactiveClient, error) {
	if clientID == "" {
		return nil, errors.New("the request has no client_id")
	}
	if isMetadataDocumentURL(clientID) {
		return s.cimd.get(ctx, clientID)
	}
	c, err := s.opts.Store.GetClient(ctx, clientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, errUnknownClient
	case err != nil:
		return nil, err
	case c.Kind != store.ClientRegistered:
		return nil, errNotInteractive
	}
	return &interactiveClient{
		ID:           c.ID,
		Name:         c.Name,
		Label:        c.ID,
		RedirectURIs: c.RedirectURIs,
		GrantTypes:   c.GrantTypes,
		SecretHashes: c.SecretHashes(),
		Disabled:     c.Disabled(),
		LocalOnly:    localOnly(c.RedirectURIs),
	}, nil
}

// localOnly reports whether every redirect URI stays on the user's machine.
func localOnly(uris []string) bool {
	for _, r := range uris {
		u, err := url.Parse(r)
		if err != nil {
			return false
		}
		if u.Scheme == "https" || (u.Scheme == "http" && !isLoopback(u.Hostname())) {
			return false
		}
	}
	return true
}

// authenticateInteractive authenticates a client at the token endpoint for
// the authorization_code and refresh_token grants: public clients send
// their client_id alone, confidential ones their secret too. A machine
// client that authenticates is refused for the grant (unauthorized_client),
// one that does not for its credentials (invalid_client): authentication
// comes first.
func (s *Server) authenticateInteractive(ctx context.Context, cred clientCredentials, grant string) (*interactiveClient, *oauthError) {
	if cred.id == "" {
		return nil, errInvalidClient(cred.viaBasic)
	}
	c, err := s.interactiveClient(ctx, cred.id)
	if err != nil {
		if errors.Is(err, errNotInteractive) {
			if _, oerr := s.authenticateClient(ctx, cred); oerr != nil {
				return nil, oerr
			}
			return nil, errUnauthorizedClient("this machine client may use client_credentials only")
		}
		if errors.Is(err, errUnknownClient) {
			if cred.assertion != nil {
				return nil, s.authenticateAssertion(ctx, cred, clientKeys{}, false)
			}
			credential.SecretMatches(cred.secret, dummyHash)
			return nil, errInvalidClient(cred.viaBasic)
		}
		if errors.Is(err, errCIMDBusy) {
			return nil, &oauthError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable",
				description: err.Error(), retryAfter: 5}
		}
		if isMetadataDocumentURL(cred.id) {
			return nil, &oauthError{status: http.StatusBadRequest, code: "invalid_client", description: err.Error()}
		}
		return nil, s.storeFailure(ctx, "get client", err)
	}
	if cred.assertion != nil || c.Keys.present() {
		// A client with keys authenticates with an assertion, and only it
		// does.
		if cred.assertion == nil {
			return nil, errInvalidClient(cred.viaBasic)
		}
		if oerr := s.authenticateAssertion(ctx, cred, c.Keys, !c.Disabled && len(c.SecretHashes) == 0); oerr != nil {
			return nil, oerr
		}
		return c, checkGrant(c, grant)
	}
	if c.public() {
		if cred.secret != "" || c.Disabled {
			return nil, errInvalidClient(cred.viaBasic)
		}
		return c, checkGrant(c, grant)
	}
	if !credential.SecretMatchesAny(cred.secret, c.SecretHashes) || c.Disabled {
		return nil, errInvalidClient(cred.viaBasic)
	}
	return c, checkGrant(c, grant)
}

// checkGrant refuses a grant the client did not register.
func checkGrant(c *interactiveClient, grant string) *oauthError {
	if grant != "" && !hasGrant(c, grant) {
		return errUnauthorizedClient("this client did not register the " + grant + " grant")
	}
	return nil
}

func hasGrant(c *interactiveClient, grant string) bool { return slices.Contains(c.GrantTypes, grant) }
