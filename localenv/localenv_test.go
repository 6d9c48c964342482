package localenv_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/signoff/signoff/localenv"
	"github.com/signoff/signoff/testenv"
)

// TestStartTemporal starts the dev server the way `make dev` does (SQLite file, Web UI on port+1000,
// search attributes registered), checks each, and checks state survives a restart on the same file.
func TestStartTemporal(t *testing.T) {
	ctx := context.Background()
	port := testenv.FreePortWithOffsets(t, 1000, 2000)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	dir := t.TempDir()
	opts := localenv.TemporalOptions{CLI: testenv.TemporalCLI(t), Address: addr,
		DBFile: filepath.Join(dir, "temporal.db"), LogFile: filepath.Join(dir, "temporal.log")}
	srv, err := localenv.StartTemporal(ctx, opts, testenv.Logger(t))
	require.NoError(t, err)
	defer srv.Stop()
	require.Equal(t, "http://127.0.0.1:"+strconv.Itoa(port+1000), srv.UIURL)

	c, err := client.Dial(client.Options{HostPort: addr})
	require.NoError(t, err)
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorListRequest)
	require.NoError(t, err)
	for _, sa := range localenv.SearchAttributes {
		require.Contains(t, resp.CustomAttributes, sa)
	}
	require.Eventually(t, func() bool {
		r, err := http.Get(srv.UIURL)
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == http.StatusOK
	}, 30*time.Second, 200*time.Millisecond, "Web UI answers")

	// A workflow started before a restart is still there after it (SQLite persistence).
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "persist-me", TaskQueue: "nobody-polls"}, "SomeWorkflow")
	require.NoError(t, err)
	c.Close()
	srv.Stop()
	_, err = os.Stat(opts.DBFile)
	require.NoError(t, err, "SQLite file written")

	srv2, err := localenv.StartTemporal(ctx, opts, testenv.Logger(t))
	require.NoError(t, err)
	defer srv2.Stop()
	c2, err := client.Dial(client.Options{HostPort: addr})
	require.NoError(t, err)
	defer c2.Close()
	desc, err := c2.DescribeWorkflowExecution(ctx, "persist-me", run.GetRunID())
	require.NoError(t, err)
	require.Equal(t, "SomeWorkflow", desc.WorkflowExecutionInfo.Type.Name)
}

var operatorListRequest = operatorservice.ListSearchAttributesRequest{Namespace: "default"}
