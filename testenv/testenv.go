// Package testenv is the one harness of the tests: the real Postgres and Temporal dev server that
// `make test` starts (through cmd/testenv), failing loudly when they are missing; free ports
// (ports.go); child processes and their supervisor (process.go); the share-token sealer (sealer.go);
// tenants and the named fixtures for states no API produces (fixtures.go); Chromium and axe-core for
// the browser tests. The real worker is started by its subpackage testworker (it imports activities,
// whose own tests import testenv). testenv must import no package whose internal tests import it.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/signoff/signoff/config"
	"github.com/signoff/signoff/logging"
	"github.com/signoff/signoff/schema"
	"github.com/signoff/signoff/storage"
)

// Environment variables cmd/testenv sets for the test processes.
const (
	EnvDatabaseURL     = "SIGNOFF_TEST_DATABASE_URL"
	EnvTemporalAddress = "SIGNOFF_TEST_TEMPORAL_ADDRESS"
	EnvTemporalCLI     = "SIGNOFF_TEST_TEMPORAL_CLI"
)

func mustEnv(t testing.TB, key string) string {
	t.Helper()
	v := os.Getenv(key)
	if v == "" {
		t.Fatalf("%s is not set: run the tests with `make test`, which starts Postgres and the Temporal dev server", key)
	}
	return v
}

// NewName returns a short random name with prefix, for databases and task queues.
func NewName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// DatabaseURL creates a fresh, migrated database and returns its URL; it is dropped when t ends.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	base := mustEnv(t, EnvDatabaseURL)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbURL, drop, err := CreateDatabase(ctx, base)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(drop)
	return dbURL
}

// CreateDatabase creates a fresh database beside the one base names, migrates it, and returns its
// URL and a function that drops it. Benchmarks use it directly; tests use DatabaseURL.
func CreateDatabase(ctx context.Context, base string) (string, func(), error) {
	dbURL, drop, err := createEmptyDatabase(ctx, base)
	if err != nil {
		return "", nil, err
	}
	pool, err := storage.Connect(ctx, dbURL)
	if err != nil {
		drop()
		return "", nil, err
	}
	defer pool.Close()
	if _, err := schema.Migrate(ctx, pool); err != nil {
		drop()
		return "", nil, fmt.Errorf("migrate: %w", err)
	}
	return dbURL, drop, nil
}

// EmptyDatabase returns a pool on a fresh database with no migration applied, closed and dropped when
// t ends: for tests of the migrations themselves.
func EmptyDatabase(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbURL, drop, err := createEmptyDatabase(ctx, mustEnv(t, EnvDatabaseURL))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(drop)
	pool, err := storage.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// createEmptyDatabase creates a fresh database beside the one base names and returns its URL and a
// function that drops it.
func createEmptyDatabase(ctx context.Context, base string) (string, func(), error) {
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("connect to test postgres: %w", err)
	}
	defer admin.Close(ctx)
	name := NewName("signoff_test_")
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	dbURL := u.String()
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	return dbURL, drop, nil
}

// Database returns a pool on a fresh, migrated database, closed and dropped when t ends.
func Database(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dbURL := DatabaseURL(t)
	pool, err := storage.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// TemporalAddress is the frontend of the test dev server.
func TemporalAddress(t testing.TB) string {
	t.Helper()
	return mustEnv(t, EnvTemporalAddress)
}

// TemporalCLI is the path of the pinned Temporal CLI, for tests that start their own dev server.
func TemporalCLI(t testing.TB) string {
	t.Helper()
	return mustEnv(t, EnvTemporalCLI)
}

// Temporal returns a client of the test dev server, closed when t ends.
func Temporal(t testing.TB) client.Client {
	t.Helper()
	opts := client.Options{
		HostPort: TemporalAddress(t),
		Logger:   logging.NewTemporalLogger(Logger(t).Named("temporal").WithOptions(zap.IncreaseLevel(zap.WarnLevel))),
		// As the service's client: the API call's request id follows its workflow calls (R-OPS-4).
		ContextPropagators: []workflow.ContextPropagator{logging.RequestIDPropagator()},
	}
	var err error
	if opts.ConnectionOptions.GrpcCompression, err = config.TemporalCompressionOption(os.Getenv("TEMPORAL_GRPC_COMPRESSION"), opts.HostPort); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	c, err := client.Dial(opts)
	if err != nil {
		t.Fatalf("testenv: dial temporal: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Logger returns a zap logger writing to the test log.
func Logger(t testing.TB) *zap.Logger {
	return zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
}

// TaskQueue returns a task queue private to this test, so parallel packages never share pollers.
func TaskQueue(t testing.TB) string {
	return NewName("test-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + "-")
}

// NewUUID returns a random UUID string.
func NewUUID() string { return uuid.NewString() }
