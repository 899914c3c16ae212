package service

import (
	"encoding/json"

	"github.com/orgscope/orgscope/internal/clientkeys"
	"github.com/orgscope/orgscope/store"
)

// Machine clients without a shared secret: a client may register public
// keys — a JWKS kept with it, or a jwks_uri the issuer fetches — and
// authenticate with assertions signed by its private key (private_key_jwt,
// RFC 7523). Such a client has no secret, so rotate_client_secret refuses
// it; its keys change with an update. The rules of a usable key set are
// clientkeys'.

// clientKeysInput is the keys a create or update names: a JWKS or a
// jwks_uri, not both.
type clientKeysInput struct {
	jwks json.RawMessage
	uri  string
}

// checkClientKeys checks the keys given (none is fine) and returns the
// JWKS as it is stored: the public keys only, each with a kid.
func checkClientKeys(jwks json.RawMessage, uri string) (clientKeysInput, error) {
	given := len(jwks) > 0 && string(jwks) != "null"
	switch {
	case given && uri != "":
		return clientKeysInput{}, invalid("give the client's keys as a JWKS or as a jwks_uri, not both")
	case uri != "":
		if err := clientkeys.CheckURI(uri); err != nil {
			return clientKeysInput{}, invalid("%s", err.Error())
		}
		return clientKeysInput{uri: uri}, nil
	case given:
		set, err := clientkeys.ParseSet(jwks)
		if err != nil {
			return clientKeysInput{}, invalid("%s", err.Error())
		}
		stored, err := json.Marshal(set)
		if err != nil {
			return clientKeysInput{}, invalid("the JWKS cannot be stored: %v", err)
		}
		return clientKeysInput{jwks: stored}, nil
	}
	return clientKeysInput{}, nil
}

func (k clientKeysInput) present() bool { return len(k.jwks) > 0 || k.uri != "" }

// hasKeys reports whether the client authenticates with assertions.
func hasKeys(c store.Client) bool { return len(c.JWKS) > 0 || c.JWKSURI != "" }

// keyIDs lists the kids of a client's stored JWKS.
func keyIDs(c store.Client) []string {
	var set struct {
		Keys []struct {
			KeyID string `json:"kid"`
		} `json:"keys"`
	}
	if len(c.JWKS) == 0 || json.Unmarshal(c.JWKS, &set) != nil {
		return nil
	}
	out := []string{}
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	return out
}

// noSecretToRotate refuses to rotate the secret of a client that has none.
func noSecretToRotate(c store.Client) error {
	return invalid("client %q authenticates with signed assertions (private_key_jwt) and has no secret to rotate; "+
		"change its keys instead (orgscope clients update %s --jwks-file F | --jwks-uri URL)", c.ID, c.ID)
}

// keysOnlyForKeyClients refuses to give keys to a client that has secrets:
// a client authenticates one way.
func keysOnlyForKeyClients(c store.Client) error {
	return invalid("client %q authenticates with a secret; one client authenticates one way: create a new client with "+
		"--jwks-file or --jwks-uri for private_key_jwt", c.ID)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
