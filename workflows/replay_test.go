package workflows_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/signoff/signoff/workers"
	"github.com/signoff/signoff/workflows"
)

// TestReplayRecordedHistories replays every recorded history under testdata against the current
// workflow code (SPEC §7): a change that breaks determinism for runs in flight fails here. Every
// workflow type the worker registers must have at least one committed history, so a new type (or a
// lost file) cannot go unreplayed. The histories are recorded from real runs by
// workers.TestRealHistoriesReplay with SIGNOFF_RECORD_HISTORY=$PWD/workflows/testdata.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(t, err)
	registered := registeredWorkflowTypes(t)
	require.NotEmpty(t, registered, "workers.Register registers no workflow")

	byType := map[string][]string{}
	for _, f := range files {
		typ := historyWorkflowType(t, f)
		require.Containsf(t, registered, typ, "%s is a history of workflow type %q, which the worker does not register", f, typ)
		byType[typ] = append(byType[typ], filepath.Base(f))
	}
	for _, typ := range registered {
		require.NotEmptyf(t, byType[typ], "no committed history of workflow type %q under workflows/testdata: record one with "+
			"SIGNOFF_RECORD_HISTORY=$PWD/workflows/testdata (workers.TestRealHistoriesReplay)", typ)
	}
	t.Logf("committed histories by workflow type: %v", byType)

	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(workflows.ApprovalRequest, workflow.RegisterOptions{Name: workflows.ApprovalRequestWorkflowName})
			r.RegisterWorkflowWithOptions(workflows.ApprovalDraft, workflow.RegisterOptions{Name: workflows.ApprovalDraftWorkflowName})
			r.RegisterWorkflowWithOptions(workflows.WebhookDelivery, workflow.RegisterOptions{Name: workflows.WebhookDeliveryWorkflowName})
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(nil, f))
		})
	}
}

// historyWorkflowType is the workflow type a recorded history started.
func historyWorkflowType(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	require.NoError(t, err, path)
	require.NotEmpty(t, h.GetEvents(), "%s holds no event", path)
	start := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes()
	require.NotNil(t, start, "%s does not begin with WorkflowExecutionStarted", path)
	return start.GetWorkflowType().GetName()
}

// workflowTypeRecorder is a worker.Registry that only notes the names of the workflows registered
// with it; any other registration panics (the embedded interface is nil).
type workflowTypeRecorder struct {
	worker.Registry
	t     *testing.T
	names []string
}

func (r *workflowTypeRecorder) RegisterWorkflow(any) {
	r.t.Error("workers.Register registers a workflow without a name: its type would be the Go function's name")
}

func (r *workflowTypeRecorder) RegisterWorkflowWithOptions(_ any, o workflow.RegisterOptions) {
	r.names = append(r.names, o.Name)
}

func (r *workflowTypeRecorder) RegisterActivity(any) {}

// registeredWorkflowTypes lists the workflow types the real worker registers (workers.Register).
func registeredWorkflowTypes(t *testing.T) []string {
	t.Helper()
	r := &workflowTypeRecorder{t: t}
	workers.Register(r, nil)
	slices.Sort(r.names)
	return r.names
}
