package authserver

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// TestEnvelope: a sealed key opens with its key-encryption key and kid,
// and with nothing else; any changed byte is refused.
func TestEnvelope(t *testing.T) {
	if _, err := seal([]byte(rand.Text()), "kid", []byte("der")); err == nil { // 26 bytes
		t.Fatal("sealed under a key of the wrong size")
	}
	key, other := make([]byte, 32), make([]byte, 32)
	rand.Read(key)
	rand.Read(other)
	der := []byte("PKCS #8 DER of a private key")

	sealed, err := seal(key, "kid-1", der)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, der) {
		t.Fatal("the sealed key contains the clear one")
	}
	again, _ := seal(key, "kid-1", der)
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals of one key are equal: the nonce is not fresh")
	}
	got, err := open(key, "kid-1", sealed)
	if err != nil || !bytes.Equal(got, der) {
		t.Fatalf("open = %q, %v", got, err)
	}

	refused := map[string]func() ([]byte, error){
		"another key-encryption key": func() ([]byte, error) { return open(other, "kid-1", sealed) },
		"another kid (the AAD)":      func() ([]byte, error) { return open(key, "kid-2", sealed) },
		"truncated":                  func() ([]byte, error) { return open(key, "kid-1", sealed[:len(sealed)-1]) },
		"empty":                      func() ([]byte, error) { return open(key, "kid-1", nil) },
	}
	for i := range sealed { // every byte: version, nonce, ciphertext, tag
		tampered := bytes.Clone(sealed)
		tampered[i] ^= 0x01
		if _, err := open(key, "kid-1", tampered); !errors.Is(err, ErrSealedKeyDamaged) {
			t.Errorf("byte %d flipped: open = %v, want ErrSealedKeyDamaged", i, err)
		}
	}
	for name, try := range refused {
		if out, err := try(); !errors.Is(err, ErrSealedKeyDamaged) || out != nil {
			t.Errorf("%s: open = %q, %v; want ErrSealedKeyDamaged", name, out, err)
		}
	}
}

func TestParseKeyEncryptionKey(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	key[0] = 0 // surely not all printable
	for name, file := range map[string][]byte{
		"raw":    key,
		"hex":    []byte(hex.EncodeToString(key) + "\n"),
		"base64": []byte("  " + base64.StdEncoding.EncodeToString(key) + "\r\n"),
	} {
		got, err := ParseKeyEncryptionKey(file)
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("%s: %x, %v", name, got, err)
		}
	}
	for name, file := range map[string]string{
		"empty":            "\n",
		"a passphrase":     "correct horse battery staple 123", // 32 printable bytes
		"short hex":        hex.EncodeToString(key[:16]),
		"long base64":      base64.StdEncoding.EncodeToString(append(key, 1)),
		"hex and a letter": hex.EncodeToString(key) + "g",
	} {
		if _, err := ParseKeyEncryptionKey([]byte(file)); err == nil || !strings.Contains(err.Error(), "32 random bytes") {
			t.Errorf("%s: err = %v, want a refusal saying what the file must hold", name, err)
		}
	}
	if KeyEncryptionKeyID(key) == KeyEncryptionKeyID(append([]byte{1}, key[1:]...)) || len(KeyEncryptionKeyID(key)) != 16 {
		t.Error("key-encryption key ids do not tell keys apart")
	}
}
