package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/api"
	"github.com/signoff/signoff/logging"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/testenv/testworker"
	"github.com/signoff/signoff/workflows"
)

// TestTemporalUIApprovalRequest reads an approval workflow as an operator does in the Temporal UI
// (SPEC §7) and follows one decision's request id from the HTTP log to the history and the
// activity's log (R-OPS-4): the run starts with a static summary naming the campaign, its version,
// the approvers and the deadline; its timers carry summaries; the state query answers; the submit's
// request id is in the memo; the approve's is the Update's header and the decision's log line; a
// signal (an approver revoked) carries its call's id too.
func TestTemporalUIApprovalRequest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.server.App.ImmediateApprovalWindow = 2 * time.Hour
	apiCore, apiLogs := observer.New(zap.InfoLevel)
	e.server.Log = zap.New(apiCore)
	workerCore, workerLogs := observer.New(zap.InfoLevel)
	testworker.Start(t, testenv.Temporal(t), e.server.App.TaskQueue, &activities.Activities{Store: e.store, Log: zap.New(workerCore)},
		testworker.Options{})
	tc := e.server.App.Temporal
	collab, approver := e.A.Users[storage.RoleCollaborator], e.A.Users[storage.RoleApprover]
	second, _ := e.userWith(t, e.A.Account.ID, "second@a.test", storage.RoleApprover, true)
	camp := e.laterCampaign(t, collab, "Autumn launch")

	rec := e.request(t, http.MethodPost, "/v1/campaigns/"+camp.ID+"/approval-requests", e.A.Tokens[storage.RoleCollaborator],
		submitBody("please review", approver.ID, second.ID), api.RequestIDHeader, "ui-submit-1")
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var r storage.ApprovalRequest
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &r))
	wid := workflows.ApprovalRequestWorkflowID(r.ID)

	// The static summary and details, and the submit's request id in the memo.
	desc, err := tc.DescribeWorkflowExecution(ctx, wid, "")
	require.NoError(t, err)
	summary := payloadString(t, desc.GetExecutionConfig().GetUserMetadata().GetSummary())
	details := payloadString(t, desc.GetExecutionConfig().GetUserMetadata().GetDetails())
	require.Contains(t, summary, `"Autumn launch"`, "the summary names the campaign")
	require.Contains(t, summary, "v1", "and the version it pinned")
	require.Contains(t, summary, approver.Name, "and the approvers by name")
	require.Contains(t, summary, second.Name)
	require.Contains(t, summary, "deadline "+r.DeadlineAt.UTC().Format("2006-01-02 15:04 UTC"), "and the deadline")
	for _, id := range []string{camp.ID, r.ID, approver.ID, second.ID} {
		require.Contains(t, details, id, "the details give the ids")
	}
	require.Equal(t, "ui-submit-1", payloadString(t, desc.GetWorkflowExecutionInfo().GetMemo().GetFields()[workflows.MemoRequestID]),
		"the submit's request id is in the memo")

	// The timers carry summaries: the deadline and the launch at start_at.
	require.Eventually(t, func() bool {
		s := historyTimerSummaries(t, tc, wid)
		return slices.Contains(s, workflows.TimerDeadline) && slices.Contains(s, workflows.TimerLaunch)
	}, 30*time.Second, 50*time.Millisecond, "the deadline and start timers carry their summaries")
	require.NotContains(t, historyTimerSummaries(t, tc, wid), "", "no timer without a summary")

	// The state query.
	st := requestState(t, tc, wid)
	require.Equal(t, storage.RequestStatusPending, st.Status)
	require.ElementsMatch(t, []string{approver.ID, second.ID}, st.Approvers)
	require.True(t, st.Deadline.Equal(r.DeadlineAt), "deadline %s, want %s", st.Deadline, r.DeadlineAt)
	require.NotNil(t, st.LaunchAt)
	require.True(t, st.LaunchAt.Equal(*camp.StartAt))
	require.Equal(t, r.CampaignVersion, st.CampaignVersion)

	// A signal: the second approver loses the right; the signal carries the call's request id.
	rec = e.request(t, http.MethodPatch, "/v1/users/"+second.ID, e.A.Tokens[storage.RoleAdmin], map[string]any{"active": false},
		api.RequestIDHeader, "ui-revoke-1")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Eventually(t, func() bool {
		return slices.Contains(historyHeaderIDs(t, tc, wid, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED), "ui-revoke-1")
	}, 30*time.Second, 50*time.Millisecond, "the signal's header names the revoking call")
	require.Eventually(t, func() bool { return !slices.Contains(requestState(t, tc, wid).Approvers, second.ID) },
		30*time.Second, 50*time.Millisecond, "the state query no longer lists the revoked approver")

	// The decision: its request id is the Update's header in the history, and the activity that
	// recorded it logs it, as the HTTP log does.
	rec = e.request(t, http.MethodPost, "/v1/approval-requests/"+r.ID+"/approve", e.A.Tokens[storage.RoleApprover],
		map[string]any{"note": "fine"}, api.RequestIDHeader, "ui-approve-1")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "ui-approve-1", rec.Header().Get(api.RequestIDHeader))
	require.Contains(t, historyHeaderIDs(t, tc, wid, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED), "ui-approve-1",
		"the approve Update's header names the call")
	httpLines := apiLogs.FilterMessage("request").FilterField(zap.String("request_id", "ui-approve-1")).All()
	require.Len(t, httpLines, 1, "the HTTP log line of the approve")
	decided := workerLogs.FilterMessage("decision recorded").FilterField(zap.String("request_id", "ui-approve-1")).All()
	require.Len(t, decided, 1, "the activity that recorded the decision logs the call's request id; worker logs: %v", workerLogs.All())
	fields := decided[0].ContextMap()
	require.Equal(t, r.ID, fields["approval_request_id"])
	require.Equal(t, storage.EventApproved, fields["decision"])
	require.Equal(t, storage.RequestStatusApproved, requestState(t, tc, wid).Status, "the state query answers the decision")
}

// TestTemporalUIDraft reads a draft build as an operator does in the Temporal UI (SPEC §7): a static
// summary naming the draft, the campaign and the contact count, the create call's request id in the
// memo (R-OPS-4), the state query while the draft awaits its client, and the review window's timer
// summary.
func TestTemporalUIDraft(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	de := newDraftEnv(t)
	draftStartWorker(t, de, draftWorkerOpts{})
	tc := de.server.App.Temporal

	rec := de.request(t, http.MethodPost, "/v1/campaigns/"+de.camp.ID+"/approval-drafts", de.csm,
		map[string]any{"source": draftSearchSource(de.search.ID), "contact_count": 20}, api.RequestIDHeader, "ui-draft-1")
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	var d draftJSON
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &d))
	wid := workflows.ApprovalDraftWorkflowID(d.ID)

	desc, err := tc.DescribeWorkflowExecution(ctx, wid, "")
	require.NoError(t, err)
	summary := payloadString(t, desc.GetExecutionConfig().GetUserMetadata().GetSummary())
	details := payloadString(t, desc.GetExecutionConfig().GetUserMetadata().GetDetails())
	require.Contains(t, summary, d.Name, "the summary names the draft")
	require.Contains(t, summary, de.camp.Name, "and its campaign")
	require.Contains(t, summary, "20 contacts", "and its contact count")
	require.Contains(t, details, de.search.ID, "the details give the source")
	require.Equal(t, "ui-draft-1", payloadString(t, desc.GetWorkflowExecutionInfo().GetMemo().GetFields()[workflows.MemoRequestID]))

	draftWaitAIDone(t, de.env, d.ID, de.csm)
	var st workflows.DraftState
	require.Eventually(t, func() bool {
		st = draftState(t, tc, wid)
		return st.Step == "awaiting_client"
	}, 30*time.Second, 50*time.Millisecond, "the state query answers the draft awaiting its client")
	require.Equal(t, storage.DraftStatusReady, st.Status)
	require.Equal(t, 20, st.ContactCount)
	require.Equal(t, 20, st.Leads)
	require.NotEmpty(t, st.CopyCampaignID)
	require.False(t, st.Submitted)
	require.Contains(t, historyTimerSummaries(t, tc, wid), workflows.TimerReviewWindow, "the review window's timer carries its summary")
}

// payloadString decodes a payload holding a string ("" for none).
func payloadString(t *testing.T, p *commonpb.Payload) string {
	t.Helper()
	if p == nil {
		return ""
	}
	var s string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(p, &s))
	return s
}

// workflowHistory reads the history of workflow id's latest run.
func workflowHistory(t *testing.T, tc client.Client, id string) []*historypb.HistoryEvent {
	t.Helper()
	var out []*historypb.HistoryEvent
	it := tc.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		out = append(out, ev)
	}
	return out
}

// historyTimerSummaries lists the summaries of the timers workflow id started, in order.
func historyTimerSummaries(t *testing.T, tc client.Client, id string) []string {
	t.Helper()
	var out []string
	for _, ev := range workflowHistory(t, tc, id) {
		if ev.GetEventType() == enumspb.EVENT_TYPE_TIMER_STARTED {
			out = append(out, payloadString(t, ev.GetUserMetadata().GetSummary()))
		}
	}
	return out
}

// historyHeaderIDs lists the request ids in the headers of workflow id's events of type typ (a
// signal's, or an accepted Update's request).
func historyHeaderIDs(t *testing.T, tc client.Client, id string, typ enumspb.EventType) []string {
	t.Helper()
	var out []string
	for _, ev := range workflowHistory(t, tc, id) {
		if ev.GetEventType() != typ {
			continue
		}
		var h *commonpb.Header
		switch typ {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
			h = ev.GetWorkflowExecutionSignaledEventAttributes().GetHeader()
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			h = ev.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput().GetHeader()
		}
		out = append(out, payloadString(t, h.GetFields()[logging.RequestIDHeader]))
	}
	return out
}

// requestState asks an approval workflow's state query.
func requestState(t *testing.T, tc client.Client, id string) workflows.RequestState {
	t.Helper()
	v, err := tc.QueryWorkflow(context.Background(), id, "", workflows.QueryState)
	require.NoError(t, err)
	var st workflows.RequestState
	require.NoError(t, v.Get(&st))
	return st
}

// draftState asks a draft workflow's state query.
func draftState(t *testing.T, tc client.Client, id string) workflows.DraftState {
	t.Helper()
	v, err := tc.QueryWorkflow(context.Background(), id, "", workflows.QueryState)
	require.NoError(t, err)
	var st workflows.DraftState
	require.NoError(t, v.Get(&st))
	return st
}
