package sharelink_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/sharelink"
)

func TestTokenIs32RandomBytesLookedUpByHash(t *testing.T) {
	tok, hash := sharelink.NewToken()
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	require.NoError(t, err)
	require.Len(t, raw, 32)
	sum := sha256.Sum256([]byte(tok))
	require.Equal(t, sum[:], hash)
	tok2, _ := sharelink.NewToken()
	require.NotEqual(t, tok, tok2)
}

func TestSealRoundTripAndTamper(t *testing.T) {
	key, err := sharelink.ParseKey(sharelink.NewKey())
	require.NoError(t, err)
	s, err := sharelink.NewSealer(key)
	require.NoError(t, err)
	tok, _ := sharelink.NewToken()
	sealed := s.Seal(tok)
	require.False(t, bytes.Contains(sealed, []byte(tok)), "the token is not stored in clear")
	got, err := s.Open(sealed)
	require.NoError(t, err)
	require.Equal(t, tok, got)
	sealed[len(sealed)-1] ^= 1
	_, err = s.Open(sealed)
	require.Error(t, err, "a tampered ciphertext does not open")

	other, _ := sharelink.NewSealer(bytes.Repeat([]byte{7}, 32))
	_, err = other.Open(s.Seal(tok))
	require.Error(t, err, "another key does not open it")
}

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)), true},
		{"0101010101010101010101010101010101010101010101010101010101010101", true},
		{"short", false},
		{base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 16)), false},
	} {
		_, err := sharelink.ParseKey(tc.in)
		require.Equal(t, tc.ok, err == nil, tc.in)
	}
}

func TestMACIsKeyedAndPurposeBound(t *testing.T) {
	key, err := sharelink.ParseKey(sharelink.NewKey())
	require.NoError(t, err)
	s, err := sharelink.NewSealer(key)
	require.NoError(t, err)
	msg := []byte("token hash || issued at || nonce")
	m := s.MAC("decision-csrf", msg)
	require.Len(t, m, sha256.Size)
	require.Equal(t, m, s.MAC("decision-csrf", msg), "the same key, purpose and message give the same MAC")
	require.NotEqual(t, m, s.MAC("decision-csrf", append(msg, '!')), "another message, another MAC")
	require.NotEqual(t, m, s.MAC("other-purpose", msg), "a MAC made for one purpose does not verify for another")
	again, err := sharelink.NewSealer(key)
	require.NoError(t, err)
	require.Equal(t, m, again.MAC("decision-csrf", msg), "another process with the same secret verifies it")
	other, _ := sharelink.NewSealer(bytes.Repeat([]byte{7}, 32))
	require.NotEqual(t, m, other.MAC("decision-csrf", msg), "another secret, another MAC")
	require.False(t, bytes.Equal(m, key), "the MAC key is not the secret itself")
}
