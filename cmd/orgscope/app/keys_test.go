package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeysCommands: the keys commands refuse what they cannot honour
// before touching the database, then list, rotate (with the flags or their
// environment variables) and retire; serving a database of encrypted keys
// needs their key-encryption key.
func TestKeysCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "keys.db")
	kek := filepath.Join(dir, "kek")
	os.WriteFile(kek, []byte("8b1f2c6d0a9e4f3b7c5d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b\n"), 0o600)
	other := filepath.Join(dir, "other-kek")
	os.WriteFile(other, []byte("0000000000000000000000000000000000000000000000000000000000000001\n"), 0o600)
	passphrase := filepath.Join(dir, "passphrase")
	os.WriteFile(passphrase, []byte("hunter2\n"), 0o600)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"keys", "rotate", "--key-overlap", "1s"}, "--key-overlap (ORGSCOPE_KEY_OVERLAP) must be at least 3s"},
		{[]string{"keys", "rotate", "--signing-algorithm", "HS256"}, "--signing-algorithm (ORGSCOPE_SIGNING_ALGORITHM) must be RS256, ES256, EdDSA"},
		{[]string{"keys", "rotate", "--key-encryption-key-file", filepath.Join(dir, "nope")}, "(ORGSCOPE_KEY_ENCRYPTION_KEY_FILE): does not exist"},
		{[]string{"keys", "retire", "--key-encryption-key-file", passphrase, "kid"}, "must hold 32 random bytes"},
		{[]string{"keys", "retire"}, "name the key to retire"},
		{[]string{"keys", "retire", "a", "b"}, `unexpected argument "b"`},
		{[]string{"keys", "frob"}, "keys: the subcommands are list, rotate, retire"},
	} {
		code, _, errOut := run(t, nil, append(tc.args, "--db", db)...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Fatal("a refused command created the database")
	}

	type listing struct {
		Key  map[string]any   `json:"key"`
		Keys []map[string]any `json:"keys"`
	}
	jsonOut := func(args ...string) listing {
		t.Helper()
		code, out, errOut := run(t, nil, append(args, "--db", db, "--json")...)
		var l listing
		if code != 0 || json.Unmarshal([]byte(out), &l) != nil {
			t.Fatalf("%v: exit %d, %q, %q", args, code, out, errOut)
		}
		return l
	}
	first := jsonOut("keys", "rotate", "--signing-algorithm", "ES256", "--key-encryption-key-file", kek)
	if first.Key["state"] != "active" || first.Key["algorithm"] != "ES256" || first.Key["encrypted"] != true {
		t.Fatalf("the first key of an empty database: %v", first.Key)
	}
	t.Setenv("ORGSCOPE_SIGNING_ALGORITHM", "EdDSA")
	t.Setenv("ORGSCOPE_KEY_ENCRYPTION_KEY_FILE", kek)
	second := jsonOut("keys", "rotate")
	if second.Key["state"] != "next" || second.Key["algorithm"] != "EdDSA" || len(second.Keys) != 2 {
		t.Fatalf("a rotation: %+v", second)
	}
	code, out, _ := run(t, nil, "keys", "list", "--db", db)
	if code != 0 || !strings.Contains(out, "KID") || !strings.Contains(out, second.Key["kid"].(string)+"  EdDSA      next") {
		t.Errorf("keys list: %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"keys", "retire", "no-such-kid", "--db", db},
		{"keys", "retire", "--db", db, "-no-such-kid"}, // a thumbprint may start with "-"
		{"keys", "retire", "--db", db, "--", "-no-such-kid"},
	} {
		kid := args[len(args)-1]
		if kid == db {
			kid = args[2]
		}
		if code, _, errOut := run(t, nil, args...); code != 1 || !strings.Contains(errOut, `no signing key has kid "`+kid+`"`) {
			t.Errorf("%v: %d %q; want no signing key %s", args, code, errOut, kid)
		}
	}
	code, out, _ = run(t, nil, "keys", "retire", "--db", db, second.Key["kid"].(string))
	if code != 0 || !strings.Contains(out, "retired signing key "+second.Key["kid"].(string)) {
		t.Errorf("keys retire: %d %q", code, out)
	}

	// The database's key is encrypted: serving it needs the key.
	os.Unsetenv("ORGSCOPE_KEY_ENCRYPTION_KEY_FILE")
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "the database's signing keys are encrypted: give their key-encryption key with --key-encryption-key-file (ORGSCOPE_KEY_ENCRYPTION_KEY_FILE)"},
		{map[string]string{"ORGSCOPE_KEY_ENCRYPTION_KEY_FILE": other}, "is not the key-encryption key the database's signing keys were encrypted with"},
	} {
		code, _, errOut := run(t, tc.env, "serve", "--db", db, "--addr", "127.0.0.1:0", "--demo=false")
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("serve %v: exit %d, %q; want %q", tc.env, code, errOut, tc.want)
		}
	}
}
