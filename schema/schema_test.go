package schema_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/schema"
	"github.com/signoff/signoff/testenv"
)

// migrationFile is one goose migration of schema/migrations: the files the binary embeds
// (//go:embed migrations/*.sql).
type migrationFile struct {
	name    string
	version int64
	up      string // the statements before "-- +goose Down"
}

// readMigrations reads every migration the package embeds, in version order.
func readMigrations(t *testing.T) []migrationFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	require.NoError(t, err)
	require.NotEmpty(t, paths, "no migrations under schema/migrations")
	var out []migrationFile
	for _, p := range paths {
		name := filepath.Base(p)
		num, _, ok := strings.Cut(name, "_")
		require.True(t, ok, "migration %s is not named <version>_<name>.sql", name)
		v, err := strconv.ParseInt(num, 10, 64)
		require.NoError(t, err, "migration %s: version", name)
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		up, _, _ := strings.Cut(string(b), "-- +goose Down")
		require.Contains(t, up, "-- +goose Up", "migration %s has no Up section", name)
		out = append(out, migrationFile{name: name, version: v, up: up})
	}
	slices.SortFunc(out, func(a, b migrationFile) int { return int(a.version - b.version) })
	return out
}

var (
	createTable = regexp.MustCompile(`(?i)\bCREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:public\.)?([a-z_][a-z0-9_]*)`)
	dropTable   = regexp.MustCompile(`(?i)\bDROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:public\.)?([a-z_][a-z0-9_]*)`)
)

// TestMigrateFromEmpty applies every migration to a fresh database, then again (a no-op), and
// compares the result with the embedded migrations: each one is applied exactly once, the version is
// the last one's, and the tables are exactly those their Up sections create (and do not drop again).
func TestMigrateFromEmpty(t *testing.T) {
	ctx := context.Background()
	files := readMigrations(t)
	pool := testenv.Database(t) // already migrated once from an empty database
	v, err := schema.Migrate(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, max(files[len(files)-1].version, slices.Max(schema.GoMigrationVersions())), v, "the database's version is the last migration's")

	want := schema.GoMigrationVersions() // the migrations written in Go, beside the SQL files
	for _, f := range files {
		want = append(want, f.version)
	}
	slices.Sort(want)
	require.Equal(t, want, appliedVersions(t, pool), "applied migrations vs embedded ones")

	created := map[string]string{} // table → the migration that creates it
	for _, f := range files {
		for _, m := range createTable.FindAllStringSubmatch(f.up, -1) {
			created[strings.ToLower(m[1])] = f.name
		}
		for _, m := range dropTable.FindAllStringSubmatch(f.up, -1) {
			delete(created, strings.ToLower(m[1]))
		}
	}
	require.NotEmpty(t, created)
	var wantTables []string
	for table := range created {
		wantTables = append(wantTables, table)
	}
	slices.Sort(wantTables)
	require.Equal(t, wantTables, publicTables(t, pool), "tables in the database vs tables the migrations create")

	again, err := schema.Migrate(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, v, again, "a second run must change nothing")
	require.Equal(t, want, appliedVersions(t, pool), "a second run applies nothing again")
}

// appliedVersions lists the versions goose recorded as applied, in order (goose's own version 0 aside).
func appliedVersions(t *testing.T, pool *pgxpool.Pool) []int64 {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT version_id FROM goose_db_version WHERE is_applied AND version_id > 0 ORDER BY id`)
	require.NoError(t, err)
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		require.NoError(t, rows.Scan(&v))
		out = append(out, v)
	}
	require.NoError(t, rows.Err())
	return out
}

// publicTables lists the tables of the public schema, goose's bookkeeping table aside.
func publicTables(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'goose_db_version' ORDER BY table_name`)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		out = append(out, name)
	}
	require.NoError(t, rows.Err())
	return out
}
