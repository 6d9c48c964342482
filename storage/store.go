// Package storage is the Postgres read model: one file per aggregate, hand-written SQL with
// explicit columns, every query scoped by account.
package storage

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound is returned when a row does not exist or belongs to another account.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a write collides with a unique constraint.
var ErrConflict = errors.New("conflict")

// Store wraps the connection pool and holds every query.
type Store struct {
	Pool *pgxpool.Pool

	comments commentBatcher // group commit of review comments
	noFreeze atomic.Bool    // SetFreezeVersions(false): the bench's submit without the freeze
}

// New returns a store using pool.
func New(pool *pgxpool.Pool) *Store { return &Store{Pool: pool} }

// Connect opens a pool to url and checks that Postgres answers.
func Connect(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("storage: parse DATABASE_URL: %w", err)
	}
	// Every time leaves the store in UTC (SPEC §9), whatever the process's zone.
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		conn.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("storage: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("storage: ping: %w", err)
	}
	return pool, nil
}

// Ping checks that Postgres answers.
func (s *Store) Ping(ctx context.Context) error { return s.Pool.Ping(ctx) }

// queryer is what both the pool and a transaction offer.
type queryer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// inTx runs fn in a transaction, committing when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.Pool, fn)
}

// notFound maps pgx.ErrNoRows to ErrNotFound and wraps other errors with prefix.
func notFound(prefix string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", prefix, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

// isUniqueViolation reports whether err is a unique-constraint violation.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// constraintName is the name of the constraint a Postgres error names, if any.
func constraintName(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.ConstraintName
	}
	return ""
}
