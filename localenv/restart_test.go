package localenv_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/localenv"
	"github.com/signoff/signoff/testenv"
)

// TestPostgresRestart starts a cluster, restarts it and checks it answers again: Restart must return
// (the server's output goes to its log file, not to this process).
func TestPostgresRestart(t *testing.T) {
	dir := testenv.ReachableTempDir(t, "signoff-pg-restart-")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := localenv.StartPostgres(ctx, localenv.PostgresOptions{Dir: filepath.Join(dir, "pg")}, testenv.Logger(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.Stop(context.Background()) })
	done := make(chan error, 1)
	go func() { done <- pg.Restart(ctx) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(90 * time.Second):
		t.Fatal("Restart did not return")
	}
	conn, err := pgx.Connect(ctx, pg.URL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var one int
	require.NoError(t, conn.QueryRow(ctx, "SELECT 1").Scan(&one))
}
