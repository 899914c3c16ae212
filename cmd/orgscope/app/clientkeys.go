package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/orgscope/orgscope/internal/clientkeys"
	"github.com/orgscope/orgscope/service"
)

// Machine clients without a shared secret (private_key_jwt): clients create
// and update take the client's public keys as a JWKS file or a jwks_uri,
// and clients assertion is a small helper for demos and scripts that prints
// the JWKS of a private key, or signs an assertion with it.

// keyFlags are --jwks-file and --jwks-uri.
type keyFlags struct{ file, uri string }

func (k *keyFlags) register(cmd *command) {
	cmd.fs.StringVar(&k.file, "jwks-file", "", "a JSON Web Key Set file with the client's public keys: the client gets no secret and authenticates "+
		"with assertions signed by its private key (private_key_jwt)")
	cmd.fs.StringVar(&k.uri, "jwks-uri", "", "where the client publishes its public keys (https), instead of --jwks-file")
}

func (k *keyFlags) given() bool { return k.file != "" || k.uri != "" }

// read returns the keys the flags name: the file's content, or the URI.
func (k *keyFlags) read(cmd *command) (json.RawMessage, string, error) {
	if k.file != "" && k.uri != "" {
		return nil, "", &usageError{err: errors.New("give --jwks-file or --jwks-uri, not both"), hint: cmd.hint()}
	}
	if k.file == "" {
		return nil, k.uri, nil
	}
	f, err := os.Open(k.file)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", flagRef("jwks-file"), err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, clientkeys.MaxSetBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", flagRef("jwks-file"), err)
	}
	if len(raw) == 0 {
		return nil, "", fmt.Errorf("%s: %s is empty", flagRef("jwks-file"), k.file)
	}
	return raw, "", nil
}

// keysLine says how a client authenticates, for list and show.
func keysLine(cl service.ClientInfo) string {
	switch {
	case cl.JWKSURI != "":
		return "keys at " + cl.JWKSURI
	case len(cl.KeyIDs) > 0:
		return "keys (kid " + strings.Join(cl.KeyIDs, ", ") + ")"
	}
	return fmt.Sprintf("%d secret(s)", cl.SecretCount)
}

func (c cli) clientAssertion(_ context.Context, args []string) error {
	var keyFile, clientID, audience, alg string
	var printJWKS bool
	var lifetime time.Duration
	cmd := newCommand("clients assertion",
		"orgscope clients assertion --key private.pem (--jwks | --client-id ID --audience ISSUER_URL) [--alg RS256|PS256|ES256|EdDSA] [--lifetime 1m]")
	cmd.about = "For demos and scripts. With --jwks, prints the JSON Web Key Set of the private key's public half, to register with " +
		"clients create --jwks-file. Otherwise prints a client assertion signed with the key (RFC 7523): send it to the token endpoint as " +
		"client_assertion, with client_assertion_type=" + clientkeys.AssertionType + ". Each assertion works once."
	cmd.fs.StringVar(&keyFile, "key", "", "the client's private key: PEM (as openssl writes it) or a private JWK (required)")
	cmd.fs.BoolVar(&printJWKS, "jwks", false, "print the public JWKS to register instead of an assertion")
	cmd.fs.StringVar(&clientID, "client-id", "", "the client's id (the assertion's iss and sub)")
	cmd.fs.StringVar(&audience, "audience", "", "the server's issuer identifier, its public URL (the assertion's aud)")
	cmd.fs.StringVar(&alg, "alg", "", "the signature algorithm (default: RS256 for RSA, ES256 for P-256, EdDSA for Ed25519)")
	cmd.fs.DurationVar(&lifetime, "lifetime", clientkeys.DefaultLifetime, "how long the assertion is valid, at most 5m")
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	if keyFile == "" || (!printJWKS && (clientID == "" || audience == "")) {
		return &usageError{err: errors.New("need --key, and --jwks or both --client-id and --audience"), hint: cmd.hint()}
	}
	if lifetime <= 0 || lifetime > 5*time.Minute {
		return &usageError{err: fmt.Errorf("%s must be more than 0 and at most 5m, got %s", flagRef("lifetime"), lifetime), hint: cmd.hint()}
	}
	pem, err := os.ReadFile(keyFile)
	if err != nil {
		return fmt.Errorf("%s: %w", flagRef("key"), err)
	}
	key, err := clientkeys.ParsePrivateKey(pem)
	if err != nil {
		return fmt.Errorf("%s %s: %w", flagRef("key"), keyFile, err)
	}
	if printJWKS {
		set, err := clientkeys.PublicSet(key, alg)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s\n", set)
		return nil
	}
	assertion, err := clientkeys.Sign(key, alg, clientkeys.Assertion{ClientID: clientID, Audience: strings.TrimSuffix(audience, "/"), Lifetime: lifetime})
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, assertion)
	return nil
}

// printKeyClient is what clients create prints for a client with keys: no
// secret to keep.
func printKeyClient(w io.Writer, cl service.ClientInfo, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(map[string]string{"client_id": cl.ClientID, "token_endpoint_auth_method": cl.AuthMethod})
	}
	fmt.Fprintf(w, "created client %q (%s), scopes: %s, tokens live %s\n  client_id:   %s\n  auth method: %s, %s\n"+
		"It has no secret: it authenticates with assertions signed by its private key.\n",
		cl.Name, boundTo(cl), strings.Join(cl.Scopes, " "), tokenTTL(cl), cl.ClientID, cl.AuthMethod, keysLine(cl))
	return nil
}
