// Package schema holds the SQL migrations, embedded in the binary, and applies them with goose.
package schema

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate applies every pending migration to the database behind pool and returns the resulting version.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	return MigrateTo(ctx, pool, -1)
}

// MigrateTo applies the pending migrations up to and including version (every one when version < 0)
// and returns the resulting version; tests use it to build a database of an earlier release.
func MigrateTo(ctx context.Context, pool *pgxpool.Pool, version int64) (int64, error) {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	return migrateDB(ctx, db, version)
}

// GoMigrationVersions are the versions of the migrations written in Go (the rest are migrations/*.sql).
func GoMigrationVersions() []int64 {
	var out []int64
	for _, m := range goMigrations() {
		out = append(out, m.Version)
	}
	return out
}

func migrateDB(ctx context.Context, db *sql.DB, version int64) (int64, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return 0, fmt.Errorf("schema: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithGoMigrations(goMigrations()...))
	if err != nil {
		return 0, fmt.Errorf("schema: %w", err)
	}
	up := provider.Up
	if version >= 0 {
		up = func(ctx context.Context) ([]*goose.MigrationResult, error) { return provider.UpTo(ctx, version) }
	}
	if _, err := up(ctx); err != nil {
		return 0, fmt.Errorf("schema: up: %w", err)
	}
	v, err := provider.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("schema: version: %w", err)
	}
	return v, nil
}
