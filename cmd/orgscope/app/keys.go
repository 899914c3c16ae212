package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/orgscope/orgscope/authserver"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
)

// The service changes keys through the issuer's manager: the material
// stays in authserver, the decision and the record in the service.
var _ service.SigningKeyManager = (*authserver.KeyManager)(nil)

// signingKeyFlags are the flags of serve and of the keys commands that
// make keys: which algorithm, and the key-encryption key.
func signingKeyFlags(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.SigningAlgorithm, "signing-algorithm", cfg.SigningAlgorithm,
		"algorithm of the signing keys the embedded issuer makes, at first start and at each keys rotate: "+strings.Join(authserver.SigningAlgorithms, ", "))
	fs.StringVar(&cfg.KeyEncryptionKeyFile, "key-encryption-key-file", cfg.KeyEncryptionKeyFile,
		"file holding 32 random bytes (raw, hex or base64; make one with: openssl rand -hex 32) that encrypt the signing keys in the database; without it new keys are stored unencrypted")
}

func checkSigningAlgorithm(alg string) error {
	if !slices.Contains(authserver.SigningAlgorithms, alg) {
		return usageErrorf("%s must be %s, got %q", flagRef("signing-algorithm"), strings.Join(authserver.SigningAlgorithms, ", "), alg)
	}
	return nil
}

// keyEncryptionKey reads the key-encryption key file; nil when none is
// configured.
func (c Config) keyEncryptionKey() ([]byte, error) {
	if c.KeyEncryptionKeyFile == "" {
		return nil, nil
	}
	ref := fmt.Sprintf("--key-encryption-key-file %s (%s)", c.KeyEncryptionKeyFile, envName("key-encryption-key-file"))
	if err := checkReadableFile(c.KeyEncryptionKeyFile); err != nil {
		return nil, usageErrorf("%s: %w", ref, err)
	}
	b, err := os.ReadFile(c.KeyEncryptionKeyFile)
	if err != nil {
		return nil, usageErrorf("%s: %w", ref, err)
	}
	kek, err := authserver.ParseKeyEncryptionKey(b)
	if err != nil {
		return nil, usageErrorf("%s: %w", ref, err)
	}
	return kek, nil
}

// explainKeyError says what to do when the database's keys do not open.
func explainKeyError(err error, cfg Config) error {
	ref := flagRef("key-encryption-key-file")
	switch {
	case errors.Is(err, authserver.ErrKeyEncryptionKeyNeeded):
		return fmt.Errorf("the database's signing keys are encrypted: give their key-encryption key with %s\n%w", ref, err)
	case errors.Is(err, authserver.ErrWrongKeyEncryptionKey):
		return fmt.Errorf("%s %s is not the key-encryption key the database's signing keys were encrypted with\n%w", ref, cfg.KeyEncryptionKeyFile, err)
	case errors.Is(err, authserver.ErrSealedKeyDamaged):
		return fmt.Errorf("a signing key in the database does not decrypt with %s %s although it names that key: the record was altered; "+
			"retire it (orgscope keys retire KID)\n%w", ref, cfg.KeyEncryptionKeyFile, err)
	}
	return err
}

// keyManager builds the issuer's key manager from the configuration.
func keyManager(cfg Config, overlap time.Duration) (*authserver.KeyManager, error) {
	kek, err := cfg.keyEncryptionKey()
	if err != nil {
		return nil, err
	}
	return authserver.NewKeyManager(authserver.KeyOptions{
		Algorithm: cfg.SigningAlgorithm, EncryptionKey: kek, Overlap: overlap, TokenTTL: cfg.TokenTTL,
	})
}

const keysAbout = `
The embedded issuer's signing keys. Each is published in the JWKS before it
signs, signs until a newer key does, and stays published until every token
it signed has expired: states next, active, retiring.

  keys list           the published keys
  keys rotate         publish a new key now; it signs after --key-overlap, and the
                      keys before it retire a token lifetime (--token-ttl) later
  keys retire KID     stop publishing and trusting a key at once (a leaked key):
                      every server refuses its tokens within a second; if it was
                      signing, the next key (or a new one) signs from now on

rotate and retire make keys with --signing-algorithm, encrypted with
--key-encryption-key-file when given: set both (and --token-ttl) as for serve,
through the same environment variables.`

// keysList prints the published keys.
func (c cli) keysList(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	var asJSON bool
	cmd := newCommand("keys list", "orgscope keys list [--json] [--db … | --database-url …]")
	cmd.about = keysAbout
	cmd.fs.BoolVar(&asJSON, "json", false, "print the keys as JSON")
	storeFlags(cmd.fs, &cfg)
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	return c.withService(ctx, cfg, "keys list", func(svc *service.Service, caller service.Caller) error {
		out, err := svc.ListSigningKeys(ctx, caller, service.ListSigningKeysInput{})
		if err != nil {
			return err
		}
		if asJSON {
			return json.NewEncoder(c.stdout).Encode(out)
		}
		c.printKeys(out.Keys)
		return nil
	})
}

func (c cli) printKeys(keys []service.SigningKeyInfo) {
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALGORITHM\tSTATE\tCREATED\tSIGNS FROM\tRETIRE AFTER\tENCRYPTED")
	at := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, k := range keys {
		enc := "no"
		if k.Encrypted {
			enc = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.KID, k.Algorithm, k.State, at(k.CreatedAt), at(k.SignsFrom), at(k.RetireAfter), enc)
	}
	tw.Flush()
}

// keysRotate publishes a new key.
func (c cli) keysRotate(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	var asJSON bool
	overlap := authserver.DefaultKeyOverlap
	cmd := newCommand("keys rotate", "orgscope keys rotate [--key-overlap 10m] [--token-ttl 1h] [--signing-algorithm RS256] [--key-encryption-key-file F] [--json] [--db …]")
	cmd.about = keysAbout
	cmd.fs.DurationVar(&overlap, "key-overlap", overlap, fmt.Sprintf(
		"how long the new key is published before it signs: longer than every verifier takes to fetch it (servers read the keys every second; others cache the JWKS 5 minutes); at least %s", fmtDuration(authserver.MinKeyOverlap)))
	cmd.fs.DurationVar(&cfg.TokenTTL, "token-ttl", cfg.TokenTTL, "the servers' access-token lifetime: the keys before the new one stay published that long after it begins to sign")
	signingKeyFlags(cmd.fs, &cfg)
	cmd.fs.BoolVar(&asJSON, "json", false, "print the new key and the published keys as JSON")
	storeFlags(cmd.fs, &cfg)
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	if err := c.checkKeyFlags(cmd, cfg); err != nil {
		return err
	}
	if overlap < authserver.MinKeyOverlap {
		return &usageError{err: fmt.Errorf("%s must be at least %s, got %s: a server could sign with the new key before another trusts it",
			flagRef("key-overlap"), fmtDuration(authserver.MinKeyOverlap), fmtDuration(overlap)), hint: cmd.hint()}
	}
	manager, err := keyManager(cfg, overlap)
	if err != nil {
		return err
	}
	return c.withServiceOptions(ctx, cfg, "keys rotate", func(o *service.Options) { o.SigningKeys = manager },
		func(svc *service.Service, caller service.Caller) error {
			out, err := svc.RotateSigningKey(ctx, caller, service.RotateSigningKeyInput{})
			if err != nil {
				return explainKeyError(err, cfg)
			}
			if asJSON {
				return json.NewEncoder(c.stdout).Encode(out)
			}
			k := out.Key
			fmt.Fprintf(c.stdout, "published signing key %s (%s, %s); it signs from %s", k.KID, k.Algorithm,
				encryptedWord(k.Encrypted), k.SignsFrom.UTC().Format(time.RFC3339))
			for _, old := range out.Keys {
				if old.State == store.KeyActive {
					fmt.Fprintf(c.stdout, ", and %s, signing until then, retires after %s", old.KID, old.RetireAfter.UTC().Format(time.RFC3339))
				}
			}
			fmt.Fprint(c.stdout, "\n\n")
			c.printKeys(out.Keys)
			return nil
		})
}

// keysRetire removes a key at once.
func (c cli) keysRetire(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	cmd := newCommand("keys retire", "orgscope keys retire KID [--token-ttl 1h] [--signing-algorithm RS256] [--key-encryption-key-file F] [--db …]")
	cmd.about = keysAbout
	cmd.positional = "KID"
	cmd.missing = "name the key to retire: orgscope keys retire KID (keys list shows the kids)"
	cmd.fs.DurationVar(&cfg.TokenTTL, "token-ttl", cfg.TokenTTL, "the servers' access-token lifetime: if a key must be made to replace the one retired, the keys before it stay published that long")
	signingKeyFlags(cmd.fs, &cfg)
	storeFlags(cmd.fs, &cfg)
	if err := cmd.parse(kidsAsArguments(cmd.fs, args), c.stdout, c.getenv); err != nil {
		return err
	}
	kid := cmd.arg
	if err := c.checkKeyFlags(cmd, cfg); err != nil {
		return err
	}
	manager, err := keyManager(cfg, 0)
	if err != nil {
		return err
	}
	return c.withServiceOptions(ctx, cfg, "keys retire", func(o *service.Options) { o.SigningKeys = manager },
		func(svc *service.Service, caller service.Caller) error {
			out, err := svc.RetireSigningKey(ctx, caller, service.RetireSigningKeyInput{KID: kid})
			if err != nil {
				return explainKeyError(err, cfg)
			}
			fmt.Fprintf(c.stdout, "retired signing key %s: no server publishes or trusts it after its next read of the keys (every second), "+
				"so the tokens it signed are refused\n", out.Retired)
			switch {
			case out.Made:
				fmt.Fprintf(c.stdout, "it was signing: a new key, %s, signs from now on\n", out.Successor)
			case out.Successor != "":
				fmt.Fprintf(c.stdout, "it was signing: the next key, %s, signs from now on\n", out.Successor)
			}
			fmt.Fprintln(c.stdout)
			c.printKeys(out.Keys)
			return nil
		})
}

// checkKeyFlags refuses key flags the commands cannot honour.
func (c cli) checkKeyFlags(cmd *command, cfg Config) error {
	var errs []error
	if err := checkSigningAlgorithm(cfg.SigningAlgorithm); err != nil {
		errs = append(errs, err)
	}
	if cfg.TokenTTL <= 0 {
		errs = append(errs, fmt.Errorf("%s must be positive, got %s", flagRef("token-ttl"), fmtDuration(cfg.TokenTTL)))
	}
	if _, err := cfg.keyEncryptionKey(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return &usageError{err: errors.Join(errs...), hint: cmd.hint()}
	}
	return nil
}

func encryptedWord(encrypted bool) string {
	if encrypted {
		return "encrypted"
	}
	return "stored unencrypted"
}

// kidsAsArguments lets a kid that starts with "-" (a base64url thumbprint
// may) be given like any other: an argument that looks like a flag but
// names none of fs's is moved behind "--", where the flag package takes
// it as an argument. (A mistyped flag then is a kid no key has, which
// changes nothing and says so.)
func kidsAsArguments(fs *flag.FlagSet, args []string) []string {
	out := make([]string, 0, len(args)+1)
	var kids []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			kids = append(kids, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			out = append(out, a)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(name)
		if f == nil && name != "h" && name != "help" {
			kids = append(kids, a)
			continue
		}
		out = append(out, a)
		if f == nil || hasValue || i+1 == len(args) {
			continue
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
			i++
			out = append(out, args[i]) // the flag's value, whatever it looks like
		}
	}
	if len(kids) > 0 {
		out = append(append(out, "--"), kids...)
	}
	return out
}
