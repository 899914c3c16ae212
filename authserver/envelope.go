package authserver

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
)

// KeyEncryptionKeySize is the size of a key-encryption key: AES-256.
const KeyEncryptionKeySize = 32

// envelopeVersion is the first byte of a sealed private key.
const envelopeVersion = 1

// Why a stored private key could not be opened.
var (
	// ErrKeyEncryptionKeyNeeded: the key is sealed and no key-encryption
	// key was given.
	ErrKeyEncryptionKeyNeeded = errors.New("the signing key is encrypted and no key-encryption key was given")
	// ErrWrongKeyEncryptionKey: the key was sealed under another
	// key-encryption key than the one given.
	ErrWrongKeyEncryptionKey = errors.New("the signing key was encrypted with another key-encryption key")
	// ErrSealedKeyDamaged: the key-encryption key is the right one but the
	// sealed key does not open: it was changed (or belongs to another key id).
	ErrSealedKeyDamaged = errors.New("the encrypted signing key does not open with its key-encryption key: it was altered")
)

// ParseKeyEncryptionKey reads the contents of a key-encryption key file:
// 32 random bytes as they are, or written as 64 hex digits or in base64
// (what `openssl rand -hex 32` and `openssl rand -base64 32` print),
// surrounding blanks ignored. A 32-byte file that is all printable text is
// refused: it is a passphrase, not a random key.
func ParseKeyEncryptionKey(b []byte) ([]byte, error) {
	if len(b) == KeyEncryptionKeySize && !printable(b) {
		return bytes.Clone(b), nil
	}
	text := string(bytes.TrimSpace(b))
	if k, err := hex.DecodeString(text); err == nil && len(k) == KeyEncryptionKeySize {
		return k, nil
	}
	if k, err := base64.StdEncoding.DecodeString(text); err == nil && len(k) == KeyEncryptionKeySize {
		return k, nil
	}
	if len(text) == 0 {
		return nil, errors.New("the key-encryption key file is empty; it must hold 32 random bytes (make one with: openssl rand -hex 32)")
	}
	return nil, errors.New("the key-encryption key file must hold 32 random bytes, as they are, as 64 hex digits or in base64 " +
		"(make one with: openssl rand -hex 32)")
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// KeyEncryptionKeyID names a key-encryption key without revealing it: the
// first 16 hex digits of a SHA-256 of it. It is stored beside each key
// sealed under it, so that a wrong key-encryption key is told apart from a
// damaged record.
func KeyEncryptionKeyID(kek []byte) string {
	sum := sha256.Sum256(append([]byte("orgscope key-encryption key id\x00"), kek...))
	return hex.EncodeToString(sum[:8])
}

// seal encrypts a private key (PKCS #8 DER) under kek with AES-256-GCM,
// the key id as associated data: a sealed key moved to another key's
// record does not open. The result is a version byte, the 12-byte nonce
// and the ciphertext with its tag.
func seal(kek []byte, kid string, der []byte) ([]byte, error) {
	aead, err := newAEAD(kek)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(der)+aead.Overhead())
	out[0] = envelopeVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return aead.Seal(out, out[1:], der, []byte(kid)), nil
}

// open reverses seal. Any change to the sealed bytes, another kek or
// another kid is ErrSealedKeyDamaged.
func open(kek []byte, kid string, sealed []byte) ([]byte, error) {
	aead, err := newAEAD(kek)
	if err != nil {
		return nil, err
	}
	n := aead.NonceSize()
	if len(sealed) < 1+n+aead.Overhead() || sealed[0] != envelopeVersion {
		return nil, ErrSealedKeyDamaged
	}
	der, err := aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(kid))
	if err != nil {
		return nil, ErrSealedKeyDamaged
	}
	return der, nil
}

func newAEAD(kek []byte) (cipher.AEAD, error) {
	if len(kek) != KeyEncryptionKeySize {
		return nil, fmt.Errorf("a key-encryption key has %d bytes, not %d", KeyEncryptionKeySize, len(kek))
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
