package localenv_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/localenv"
	"github.com/signoff/signoff/testenv"
)

// TestStartPostgresInPrivateFolder starts the local cluster the way `make dev` does from a clone
// inside a 0700 folder (as /root/signoff is): as root the postgres user cannot reach it, so the
// cluster must live where it can, be reused by the next start, and start afresh once the data
// directory is removed (make clean).
func TestStartPostgresInPrivateFolder(t *testing.T) {
	private, err := os.MkdirTemp("", "signoff-private-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(private) })
	require.NoError(t, os.Chmod(private, 0o700))
	dataDir := filepath.Join(private, "signoff", ".data", "postgres")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := func() *localenv.Postgres {
		t.Helper()
		pg, err := localenv.StartPostgres(ctx, localenv.PostgresOptions{Dir: dataDir}, testenv.Logger(t))
		require.NoError(t, err)
		t.Cleanup(func() {
			_ = pg.Stop(context.Background())
			if !strings.HasPrefix(pg.Home(), private) {
				os.RemoveAll(pg.Home())
			}
		})
		return pg
	}
	query := func(pg *localenv.Postgres, sql string, out ...any) error {
		conn, err := pgx.Connect(ctx, pg.URL)
		require.NoError(t, err, "connect to the cluster of %s", pg.Home())
		defer conn.Close(ctx)
		if len(out) == 0 {
			_, err = conn.Exec(ctx, sql)
			return err
		}
		return conn.QueryRow(ctx, sql).Scan(out...)
	}

	pg := start()
	require.NoError(t, query(pg, `CREATE TABLE kept (v text); INSERT INTO kept VALUES ('first run')`))
	if os.Geteuid() == 0 {
		require.False(t, strings.HasPrefix(pg.Home(), private+"/"), "the postgres user cannot reach %s", private)
		out, err := exec.Command("runuser", "-u", "postgres", "--", "test", "-w", filepath.Join(pg.Home(), "pgdata")).CombinedOutput()
		require.NoError(t, err, "the postgres user owns the cluster: %s", out)
		target, err := os.Readlink(filepath.Join(dataDir, "cluster"))
		require.NoError(t, err, "the data directory links to the cluster")
		require.Equal(t, pg.Home(), target)
	}
	require.NoError(t, pg.Stop(ctx))

	// A second start (a second `make dev`) reuses the same data.
	pg2 := start()
	require.Equal(t, pg.Home(), pg2.Home())
	var v string
	require.NoError(t, query(pg2, `SELECT v FROM kept`, &v))
	require.Equal(t, "first run", v)
	require.NoError(t, pg2.Stop(ctx))

	// make clean removes the data directory: the next start has none of the old data.
	require.NoError(t, os.RemoveAll(filepath.Join(private, "signoff", ".data")))
	pg3 := start()
	require.Equal(t, pg.Home(), pg3.Home(), "the same folder, reinitialised")
	var n int
	require.NoError(t, query(pg3, `SELECT count(*) FROM pg_tables WHERE tablename = 'kept'`, &n))
	require.Zero(t, n, "a removed data directory leaves no data behind")
}
