package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/orgscope/orgscope/store"
)

// ClientName is the name of the console's OAuth client, shown on the
// issuer's sign-in and consent pages.
const ClientName = "OrgScope console"

// Client returns the console's OAuth client of the embedded issuer: a
// public client (no secret) with one exact redirect URI, which signs in
// with PKCE. The code is exchanged in process, never over the network, so
// a secret would protect nothing a PKCE verifier does not — and a public
// client has nothing that changes when the signing keys rotate or a key is
// retired. Its id depends on the public URL alone, so every replica
// registers the same client, and a sign-in may start on one and finish on
// another.
func Client(publicURL string) store.Client {
	publicURL = strings.TrimSuffix(publicURL, "/")
	sum := sha256.Sum256([]byte("orgscope console client\x00" + publicURL))
	return store.Client{
		ID:                      "orgscope-console-" + hex.EncodeToString(sum[:8]),
		Name:                    ClientName,
		Kind:                    store.ClientRegistered,
		RedirectURIs:            []string{publicURL + CallbackPath},
		GrantTypes:              []string{"authorization_code"},
		TokenEndpointAuthMethod: "none",
	}
}

// ClientStore is what the console needs of the store: its client.
type ClientStore interface {
	GetClient(ctx context.Context, id string) (store.Client, error)
	CreateClient(ctx context.Context, c store.Client) (store.Client, error)
}

// EnsureClient registers c unless it exists.
func EnsureClient(ctx context.Context, cs ClientStore, c store.Client) error {
	_, err := cs.GetClient(ctx, c.ID)
	if errors.Is(err, store.ErrNotFound) {
		_, err = cs.CreateClient(ctx, c)
		if errors.Is(err, store.ErrConflict) { // another replica was first
			err = nil
		}
	}
	return err
}
