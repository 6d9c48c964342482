package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

// draftStateOf asks the harness's finished run its state query (SPEC §7).
func draftStateOf(t *testing.T, h *draftHarness) workflows.DraftState {
	t.Helper()
	v, err := h.env.QueryWorkflow(workflows.QueryState)
	require.NoError(t, err)
	var st workflows.DraftState
	require.NoError(t, v.Get(&st))
	return st
}

// TestApprovalDraft_StateQuery: the state query answers a built draft's step, lead count and copy,
// and a failed build's reason (SPEC §7).
func TestApprovalDraft_StateQuery(t *testing.T) {
	h := newDraftHarness(t)
	h.barrier = (draftLeadCount + draftBatchSize - 1) / draftBatchSize
	require.Equal(t, workflows.ResultReviewWindowClosed, h.run())
	st := draftStateOf(t, h)
	assert.Equal(t, storage.DraftStatusReady, st.Status)
	assert.Equal(t, "done", st.Step)
	assert.Equal(t, draftLeadCount, st.Leads)
	assert.NotEmpty(t, st.CopyCampaignID)
	assert.Empty(t, st.FailureReason)
	assert.False(t, st.Submitted)

	h = newDraftHarness(t)
	reason := "Build capacity reached: 5 drafts are already building for this account. Retry in a few minutes."
	h.stepErr[stepCapacity] = func(int) error { return buildFailedErr(reason) }
	h.requireFailedDraft(h.run(), reason)
	st = draftStateOf(t, h)
	assert.Equal(t, storage.DraftStatusFailed, st.Status)
	assert.Equal(t, reason, st.FailureReason)
	assert.Zero(t, st.Leads)
}
