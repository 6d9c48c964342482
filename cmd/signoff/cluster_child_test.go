package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestClusterCommand: `signoff cluster` alone runs until Ctrl-C; `signoff cluster -- command args`
// names a command to run once the cluster is ready; anything else is a usage error.
func TestClusterCommand(t *testing.T) {
	then, err := clusterCommand(nil)
	require.NoError(t, err)
	require.Nil(t, then)
	then, err = clusterCommand([]string{"--", "bin/bench", "-cluster", "-pending", "5000"})
	require.NoError(t, err)
	require.Equal(t, []string{"bin/bench", "-cluster", "-pending", "5000"}, then)
	for _, bad := range [][]string{{"--"}, {"bin/bench"}, {"-x", "--", "bin/bench"}} {
		_, err = clusterCommand(bad)
		require.ErrorContains(t, err, "usage: signoff cluster", "%q", bad)
	}
}

// TestClusterChild: the command of `signoff cluster -- command` gets the cluster's environment plus
// the API URLs, the process ids of the API and worker processes and the workers' metrics addresses, in
// process order, and its exit
// status decides the supervisor's.
func TestClusterChild(t *testing.T) {
	var procs []*clusterProc
	for i, kind := range []string{"api", "api", "worker", "worker"} {
		p := &clusterProc{kind: kind, n: i%2 + 1, cmd: exec.Command("sleep", "30")}
		if kind == "api" {
			p.http = "127.0.0.1:" + strconv.Itoa(18080+i)
		}
		p.metrics = "127.0.0.1:" + strconv.Itoa(19090+i)
		require.NoError(t, p.cmd.Start())
		t.Cleanup(func() { _ = p.cmd.Process.Kill(); _ = p.cmd.Wait() })
		procs = append(procs, p)
	}
	out := filepath.Join(t.TempDir(), "env")
	script := `printf '%s\n%s\n%s\n%s\n%s\n' "$SIGNOFF_CLUSTER_APIS" "$SIGNOFF_CLUSTER_API_PIDS" "$SIGNOFF_CLUSTER_WORKER_PIDS" "$SIGNOFF_CLUSTER_WORKER_METRICS" "$DATABASE_URL" > ` + out
	err := runClusterChild(context.Background(), []string{"sh", "-c", script}, []string{"DATABASE_URL=postgres://cluster", "PATH=" + os.Getenv("PATH")}, procs)
	require.NoError(t, err)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	pid := func(i int) string { return strconv.Itoa(procs[i].pid()) }
	require.Equal(t, []string{"http://127.0.0.1:18080,http://127.0.0.1:18081", pid(0) + "," + pid(1), pid(2) + "," + pid(3), "127.0.0.1:19092,127.0.0.1:19093", "postgres://cluster"},
		strings.Split(strings.TrimSpace(string(b)), "\n"))

	err = runClusterChild(context.Background(), []string{"sh", "-c", "exit 3"}, nil, procs)
	require.ErrorContains(t, err, "exit status 3")
}
