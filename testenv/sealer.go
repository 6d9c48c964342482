package testenv

import (
	"testing"

	"github.com/signoff/signoff/sharelink"
)

// SecretKey returns a new secret key as SIGNOFF_SECRET_KEY spells it, and a sealer of that key, for
// tests that give the key to a `signoff` process and seal or open tokens themselves.
func SecretKey(t testing.TB) (string, *sharelink.Sealer) {
	t.Helper()
	key := sharelink.NewKey()
	raw, err := sharelink.ParseKey(key)
	if err != nil {
		t.Fatalf("testenv: parse a new secret key: %v", err)
	}
	s, err := sharelink.NewSealer(raw)
	if err != nil {
		t.Fatalf("testenv: sealer: %v", err)
	}
	return key, s
}

// Sealer returns a share-token sealer of a new random key.
func Sealer(t testing.TB) *sharelink.Sealer {
	t.Helper()
	_, s := SecretKey(t)
	return s
}
