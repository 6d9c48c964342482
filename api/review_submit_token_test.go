package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/signoff/signoff/api"
	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

// rotateBeforeSubmit is a Temporal client that runs rotate just before it sends a review's submit
// Update: the link is rotated after the API looked the token up and before the database write.
type rotateBeforeSubmit struct {
	client.Client
	rotate func()
}

func (c rotateBeforeSubmit) UpdateWorkflow(ctx context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	if o.UpdateName == workflows.UpdateSubmitReview {
		c.rotate()
	}
	return c.Client.UpdateWorkflow(ctx, o)
}

// TestReviewSubmitTiedToTokenHash: the submit's database write is tied to the share token's hash like
// every other review write, so a link rotated between the token's lookup and the write answers the
// old token's 404 and submits nothing (R-REVIEW-2, R-DRAFT-11); the new link then submits as usual.
func TestReviewSubmitTiedToTokenHash(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	d := re.reviewReadyDraft(t)
	var newToken string
	rotated := 0
	s := re.server
	h := (&api.Server{App: &app.App{Store: s.App.Store, PublicURL: s.App.PublicURL, TaskQueue: s.App.TaskQueue, Sealer: s.App.Sealer, Temporal: rotateBeforeSubmit{Client: s.App.Temporal, rotate: func() {
		rotated++
		var out draftJSON
		re.doJSON(t, http.StatusOK, http.MethodPost, "/v1/approval-drafts/"+d.ID+"/rotate-link", re.admin, nil, &out)
		require.NotNil(t, out.ShareURL)
		newToken = reviewTokenOf(t, *out.ShareURL)
	}}}, Log: s.Log}).Handler()

	before := dbState(t, re.pool)
	rec := reviewSend(h, http.MethodPost, reviewPath(d.Token, "/submit"), `{"author":"Late Larry"}`, "")
	require.Equal(t, 1, rotated, "the link was rotated between the lookup and the Update")
	require.Equal(t, http.StatusNotFound, rec.Code, "the rotated token's submit: %s", rec.Body.String())
	assert.Equal(t, string(errs.NotFound), reviewErrorBody(t, rec)["error"].(map[string]any)["code"])
	reviewRequireHeaders(t, "rotated submit", rec.Header())

	got := re.reviewGetDraft(t, d.ID)
	assert.Equal(t, storage.DraftStatusReady, got.Status, "the draft is still in review")
	assert.Nil(t, got.SubmittedAt, "nothing was submitted")
	after := dbState(t, re.pool)
	for table := range before {
		if table != "approval_drafts" { // the rotation itself changed the draft's token
			assert.Equal(t, before[table], after[table], "the refused submit wrote nothing to %s", table)
		}
	}

	// The new link still works: the workflow was not closed by the refused submit.
	var ok struct {
		Status      string  `json:"status"`
		SubmittedAt *string `json:"submitted_at"`
	}
	re.doJSON(t, http.StatusOK, http.MethodPost, reviewPath(newToken, "/submit"), "", map[string]any{"author": "Ana"}, &ok)
	assert.Equal(t, storage.DraftStatusApproved, ok.Status)
	assert.NotNil(t, ok.SubmittedAt)
	rec = reviewSend(h, http.MethodPost, reviewPath(d.Token, "/submit"), "", "")
	assert.Equal(t, http.StatusNotFound, rec.Code, "the old token stays dead: %s", rec.Body.String())
}
