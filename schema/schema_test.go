package schema_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/schema"
	"github.com/signoff/signoff/testenv"
)

// TestMigrateFromEmpty applies every migration to a fresh database, then again (a no-op), and checks
// the tables the service reads exist.
func TestMigrateFromEmpty(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Database(t) // already migrated once from an empty database
	v, err := schema.Migrate(ctx, pool)
	require.NoError(t, err)
	require.Positive(t, v)

	for _, table := range []string{"accounts", "users", "api_tokens", "campaigns", "campaign_segments",
		"campaign_prompts", "campaign_ai_model_configs", "campaign_sequences", "campaign_sequence_steps",
		"campaign_tracking_links", "contacts", "saved_searches"} {
		var exists bool
		require.NoError(t, pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, "public."+table).Scan(&exists))
		require.Truef(t, exists, "table %s missing after migrations", table)
	}
	again, err := schema.Migrate(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, v, again, "a second run must change nothing")
	requireNoPending(t, pool)
}

func requireNoPending(t *testing.T, pool *pgxpool.Pool) {
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM goose_db_version WHERE is_applied`).Scan(&n))
	require.Greater(t, n, 1)
}
