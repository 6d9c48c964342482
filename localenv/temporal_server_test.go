package localenv_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/signoff/signoff/localenv"
)

// StartTemporalServer refuses, with a message that says what to do, what it cannot start from:
// missing binaries and a Postgres URL without a Unix socket. (make bench-server runs it for real.)
func TestStartTemporalServerRefusesBadOptions(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "temporal-server")
	tool := filepath.Join(dir, "temporal-sql-tool")
	for _, tc := range []struct {
		name   string
		create []string
		url    string
		want   string
	}{
		{"no server binary", nil, "postgres://postgres@/postgres?host=%2Ftmp", "make bin/temporal-server"},
		{"no sql tool", []string{bin}, "postgres://postgres@/postgres?host=%2Ftmp", "make bin/temporal-server"},
		{"no socket", []string{bin, tool}, "postgres://postgres@localhost/postgres", "Unix socket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, f := range tc.create {
				require.NoError(t, os.WriteFile(f, []byte("#!/bin/sh\n"), 0o755))
			}
			_, err := localenv.StartTemporalServer(context.Background(), localenv.TemporalServerOptions{
				Bin: bin, SQLTool: tool, Dir: filepath.Join(dir, "run"), PostgresURL: tc.url,
				Address: "127.0.0.1:21000", Shards: 4}, zap.NewNop())
			require.ErrorContains(t, err, tc.want)
		})
	}
}
