package activities

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// TestRefusedDataFailsTheBuildAtOnce: an error of a build step that no retry can cure — data
// Postgres refuses, as it refused a company size of 3000000000 — becomes a non-retryable build_failed
// error whose message says what was refused and what to do; errors a retry may cure (Postgres
// unreachable, a serialization failure, a timeout) stay retryable. The Postgres errors are real ones,
// from the test database.
func TestRefusedDataFailsTheBuildAtOnce(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Database(t)
	pgErr := func(sql string, args ...any) error {
		_, err := pool.Exec(ctx, sql, args...)
		require.Error(t, err, sql)
		var pe *pgconn.PgError
		require.True(t, errors.As(err, &pe), "%T %v", err, err)
		return fmt.Errorf("storage: import leads: %w", err)
	}
	permanent := []struct {
		name string
		err  error
		say  string
	}{
		{"integer out of range", pgErr(`SELECT 3000000000::int`), "integer out of range"},
		{"NUL in text", pgErr(`SELECT $1::text`, "a\x00b"), "0x00"},
		{"NUL in jsonb", pgErr(`SELECT '"a\u0000b"'::jsonb::text`), `unsupported Unicode escape sequence (\u0000 cannot be converted to text)`},
		{"not null violated", pgErr(`CREATE TEMP TABLE t_nn (v int NOT NULL); INSERT INTO t_nn VALUES (NULL)`), "null value"},
	}
	for _, tc := range permanent {
		err := buildStepError("importing the leads", tc.err)
		var appErr *temporal.ApplicationError
		require.True(t, errors.As(err, &appErr), "%s: %T %v", tc.name, err, err)
		assert.True(t, appErr.NonRetryable(), tc.name)
		assert.Equal(t, string(errs.BuildFailed), appErr.Type(), tc.name)
		assert.Contains(t, appErr.Message(), "while importing the leads", tc.name)
		assert.Contains(t, appErr.Message(), tc.say, tc.name)
		assert.Contains(t, appErr.Message(), "create a new draft", tc.name)
	}

	// A storage not-found (the copy or the campaign deleted meanwhile) is permanent as well.
	err := buildStepError("freezing the snapshot", fmt.Errorf("storage: campaign: %w", storage.ErrNotFound))
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr))
	assert.True(t, appErr.NonRetryable())
	assert.Contains(t, appErr.Message(), "was deleted while freezing the snapshot")

	// An error the step already classified passes unchanged.
	own := buildFailed("The saved search no longer exists.")
	assert.Same(t, own, buildStepError("resolving the contacts", own))

	// Transient errors stay as they are: retryable.
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, connErr := pgx.Connect(cctx, "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	require.Error(t, connErr)
	serialization := &pgconn.PgError{Code: "40001", Message: "could not serialize access due to concurrent update"}
	shutdown := &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}
	for _, transient := range []error{connErr, fmt.Errorf("storage: x: %w", serialization), shutdown, context.DeadlineExceeded} {
		assert.Equal(t, transient, buildStepError("resolving the contacts", transient), "%v stays retryable", transient)
	}
	assert.NoError(t, buildStepError("resolving the contacts", nil))
}
