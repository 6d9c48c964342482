package storage

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// NewToken returns a fresh bearer token of 32 random bytes and its SHA-256 hash, the only form stored (R-AUTH-1).
func NewToken() (token string, hash []byte) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("storage: crypto/rand: %v", err)) // never happens on Linux
	}
	token = "so_" + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token)
}

// HashToken returns the SHA-256 of a token, the key it is looked up by.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func insertToken(ctx context.Context, q queryer, accountID, userID string, hash []byte) error {
	_, err := q.Exec(ctx, `INSERT INTO api_tokens (account_id, user_id, token_hash) VALUES ($1, $2, $3)`, accountID, userID, hash)
	if isUniqueViolation(err) {
		return ErrConflict
	}
	return err
}

// AddToken stores another token hash for user userID of account accountID.
func (s *Store) AddToken(ctx context.Context, accountID, userID string, hash []byte) error {
	if err := insertToken(ctx, s.Pool, accountID, userID, hash); err != nil {
		return fmt.Errorf("storage: add token: %w", err)
	}
	return nil
}

// UserByTokenHash returns the active user holding the token with hash.
func (s *Store) UserByTokenHash(ctx context.Context, hash []byte) (User, error) {
	var u User
	err := s.Pool.QueryRow(ctx, `
		SELECT `+userColumns+` FROM api_tokens t JOIN users u ON u.id = t.user_id
		WHERE t.token_hash = $1 AND u.active`, hash).Scan(userScan(&u)...)
	if err != nil {
		return User{}, notFound("storage: token", err)
	}
	return u, nil
}
