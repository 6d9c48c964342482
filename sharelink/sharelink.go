// Package sharelink makes the no-login review tokens of SPEC §5: 32 random bytes, looked up by their
// SHA-256 hash and kept sealed with AES-GCM so a CSM can copy the link again (R-REVIEW-1).
package sharelink

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// NewToken returns a fresh token of 32 random bytes (URL-safe base64) and its hash.
func NewToken() (token string, hash []byte) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("sharelink: crypto/rand: %v", err))
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, Hash(token)
}

// Hash is the SHA-256 of a token, the only form it is looked up by.
func Hash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Sealer encrypts tokens at rest with AES-256-GCM, and signs short messages (MAC) with a key
// derived from the same secret.
type Sealer struct {
	aead   cipher.AEAD
	macKey []byte
}

// ParseKey reads a 32-byte key written as base64 (standard or URL-safe) or hex.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, dec := range []func(string) ([]byte, error){
		base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString, hex.DecodeString,
	} {
		if b, err := dec(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("sharelink: SIGNOFF_SECRET_KEY must be 32 bytes, written as base64 or hex")
}

// NewKey returns a fresh random key, base64-encoded, for `signoff dev`.
func NewKey() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("sharelink: crypto/rand: %v", err))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// NewSealer returns a sealer using a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sharelink: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sharelink: %w", err)
	}
	return &Sealer{aead: aead, macKey: derive(key, "signoff/sharelink/mac")}, nil
}

// derive is a key for one purpose derived from key: HMAC-SHA256(key, label). The sealing key and the
// MAC key never share a value.
func derive(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// MAC is the HMAC-SHA256 of msg under a key of the sealer's secret derived for purpose (say
// "decision-csrf"), so a MAC made for one purpose never verifies for another. Compare MACs with
// hmac.Equal.
func (s *Sealer) MAC(purpose string, msg []byte) []byte {
	m := hmac.New(sha256.New, derive(s.macKey, purpose))
	m.Write(msg)
	return m.Sum(nil)
}

// Seal encrypts token with a fresh nonce; the result is nonce || ciphertext.
func (s *Sealer) Seal(token string) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("sharelink: crypto/rand: %v", err))
	}
	return s.aead.Seal(nonce, nonce, []byte(token), nil)
}

// Open decrypts what Seal produced.
func (s *Sealer) Open(sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("sharelink: sealed token too short")
	}
	b, err := s.aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return "", fmt.Errorf("sharelink: open: %w", err)
	}
	return string(b), nil
}
