package workers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/ai"
	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/demodata"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/sharelink"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/webhooks"
	"github.com/signoff/signoff/workers"
	"github.com/signoff/signoff/workflows"
)

// recordEnv is set to a directory to (re)write the recorded histories the replay tests of package
// workflows read: SIGNOFF_RECORD_HISTORY=$PWD/workflows/testdata make test.
const recordEnv = "SIGNOFF_RECORD_HISTORY"

// TestRealHistoriesReplay runs each workflow type to its end on the real dev server and worker,
// replays the recorded history against the current code (SPEC §7), and requires the history
// committed under workflows/testdata by the same name to hold the same commands: replaying what
// the same code recorded moments earlier proves little, but this proves that the histories
// workflows.TestReplayRecordedHistories replays include one of the code as it is now.
func TestRealHistoriesReplay(t *testing.T) {
	ctx := context.Background()
	store := storage.New(testenv.Database(t))
	tc := testenv.Temporal(t)
	queue := testenv.TaskQueue(t)
	key, _ := sharelink.ParseKey(sharelink.NewKey())
	sealer, _ := sharelink.NewSealer(key)
	w := workers.New(tc, queue, &activities.Activities{Store: store, Log: testenv.Logger(t), Sealer: sealer,
		AI: ai.NewPipeline(&ai.Local{}, nil), BuildCapacity: 10, WebhookAllowPrivate: true})
	require.NoError(t, w.Start())
	defer w.Stop()

	tok, hash := storage.NewToken()
	_ = tok
	acct, admin, err := store.CreateAccountWithAdmin(ctx, "History", "admin@history.test", "Ada Admin", hash)
	require.NoError(t, err)
	_, h2 := storage.NewToken()
	approver, err := store.CreateUser(ctx, acct.ID, storage.NewUser{Email: "ap@history.test", Name: "Avery", Role: storage.RoleApprover}, h2)
	require.NoError(t, err)
	camps := demodata.Campaigns(time.Now().UTC())
	camp, err := store.CreateCampaign(ctx, acct.ID, admin.ID, camps[0])
	require.NoError(t, err)
	_, err = store.InsertContacts(ctx, acct.ID, demodata.Contacts(500))
	require.NoError(t, err)
	ss := demodata.SavedSearches()[3]
	search, err := store.CreateSavedSearch(ctx, acct.ID, admin.ID, ss.Name, ss.Filters)
	require.NoError(t, err)

	// An approval request: submitted, approved, launched at start. start is far enough ahead for the
	// approve to come before it (else the run records a launch_skipped and differs from the committed one).
	start := time.Now().Add(historyLaunchMargin).UTC()
	r, err := store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: acct.ID,
		CampaignID: camp.ID, SubmittedBy: admin.ID, ApproverIDs: []string{approver.ID}, DeadlineAt: start.Add(time.Hour), LaunchAt: &start})
	require.NoError(t, err)
	require.NoError(t, app.StartApprovalRequest(ctx, tc, queue, r, camp.Name))
	h, err := tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: workflows.ApprovalRequestWorkflowID(r.ID),
		UpdateName: workflows.UpdateApprove, Args: []any{workflows.DecisionInput{ActorID: approver.ID, Note: "ok"}},
		WaitForStage: client.WorkflowUpdateStageCompleted})
	require.NoError(t, err)
	require.NoError(t, h.Get(ctx, nil))
	require.Truef(t, time.Now().Before(start), "the approve was answered after start_at: this machine needs more than %s", historyLaunchMargin)
	var result string
	require.NoError(t, tc.GetWorkflow(ctx, workflows.ApprovalRequestWorkflowID(r.ID), "").Get(ctx, &result))
	require.Equal(t, "launched", result)

	// A request submitted with reminders every 2s and escalation after 3s (R-ACT-2), which nobody
	// decides: three reminders, one escalation, then the timeout at 9s.
	reminderCamp, err := store.CreateCampaign(ctx, acct.ID, admin.ID, storage.NewCampaign{Name: "Reminded", Kind: storage.CampaignKindJourney,
		Mode: storage.CampaignModeActive, Content: camps[0].Content})
	require.NoError(t, err)
	_, h3 := storage.NewToken()
	escalateTo, err := store.CreateUser(ctx, acct.ID, storage.NewUser{Email: "esc@history.test", Name: "Esme", Role: storage.RoleApprover}, h3)
	require.NoError(t, err)
	reminded, err := store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: acct.ID,
		CampaignID: reminderCamp.ID, SubmittedBy: admin.ID, ApproverIDs: []string{approver.ID}, DeadlineAt: time.Now().Add(9 * time.Second),
		Reminders: storage.RequestReminders{ReminderAfter: 2 * time.Second, EscalateAfter: 3 * time.Second, EscalationUserIDs: []string{escalateTo.ID}}})
	require.NoError(t, err)
	require.NoError(t, app.StartApprovalRequest(ctx, tc, queue, reminded, reminderCamp.Name))
	require.NoError(t, tc.GetWorkflow(ctx, workflows.ApprovalRequestWorkflowID(reminded.ID), "").Get(ctx, &result))
	require.Equal(t, "timed_out", result)
	require.Equal(t, []string{workflows.TimerDeadline, "escalation", "reminder 1 of 3", "reminder 2 of 3", "reminder 3 of 3"},
		timerSummaries(t, fetchHistory(t, tc, workflows.ApprovalRequestWorkflowID(reminded.ID))),
		"the timers carry summaries the Temporal UI shows (SPEC §7)")

	// A draft build of 20 contacts, with a short review window so the run ends.
	d, _, err := store.CreateDraft(ctx, storage.NewDraft{AccountID: acct.ID, CampaignID: camp.ID, CreatedBy: admin.ID,
		Source: []byte(`{"type":"saved_search","saved_search_id":"` + search.ID + `"}`), SourceKey: "saved_search:" + search.ID, ContactCount: 20}, false)
	require.NoError(t, err)
	in := app.DraftWorkflowInput(d, workflows.DraftSource{Type: workflows.SourceSavedSearch, SavedSearchID: search.ID})
	in.ReviewWindow = 2 * time.Second
	require.NoError(t, workflows.StartApprovalDraft(ctx, tc, queue, in, app.DraftRunView(d, camp.Name)))
	require.NoError(t, tc.GetWorkflow(ctx, workflows.ApprovalDraftWorkflowID(d.ID), "").Get(ctx, &result))
	require.Equal(t, "review_window_closed", result)

	// A draft build that fails (its source has no contacts): the run ends Failed with the reason.
	emptyCamp, err := store.CreateCampaign(ctx, acct.ID, admin.ID, storage.NewCampaign{Name: "No leads", Kind: storage.CampaignKindJourney,
		Mode: storage.CampaignModeActive, Content: camps[0].Content})
	require.NoError(t, err)
	failedDraft, _, err := store.CreateDraft(ctx, storage.NewDraft{AccountID: acct.ID, CampaignID: camp.ID, CreatedBy: admin.ID,
		Source: []byte(`{"type":"campaign_leads","campaign_id":"` + emptyCamp.ID + `"}`), SourceKey: "campaign_leads:" + emptyCamp.ID, ContactCount: 20}, false)
	require.NoError(t, err)
	require.NoError(t, app.StartApprovalDraft(ctx, tc, queue, failedDraft, camp.Name))
	buildErr := tc.GetWorkflow(ctx, workflows.ApprovalDraftWorkflowID(failedDraft.ID), "").Get(ctx, nil)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, buildErr, &appErr, "a failed build fails its run")
	failedRow, err := store.Draft(ctx, acct.ID, failedDraft.ID)
	require.NoError(t, err)
	require.Equal(t, storage.DraftStatusFailed, failedRow.Status)
	require.NotNil(t, failedRow.FailureReason)
	require.Equal(t, *failedRow.FailureReason, appErr.Message(), "the run's failure message is the draft's reason")

	// A decision the database holds before the workflow heard of it (a lost workflow task), answered
	// to the Update that asks for it again.
	camp2, err := store.CreateCampaign(ctx, acct.ID, admin.ID, camps[1])
	require.NoError(t, err)
	recordedID, approveErr := recordedDecisionRun(t, ctx, store, tc, queue, acct, admin, approver, camp2)
	require.NoError(t, approveErr, "the Update of the recorded decision is answered with it")

	// A request under an approval policy of two stages (R-POL-2): stage 1 approved by the approver,
	// stage 2 by the admin, then launched at start.
	stagedCamp := camps[0]
	stagedCamp.Name = "Staged campaign"
	stagedC, err := store.CreateCampaign(ctx, acct.ID, admin.ID, stagedCamp)
	require.NoError(t, err)
	stagedStart := time.Now().Add(historyLaunchMargin).UTC()
	staged, err := store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: acct.ID,
		CampaignID: stagedC.ID, SubmittedBy: admin.ID, ApproverIDs: []string{approver.ID, admin.ID}, DeadlineAt: stagedStart.Add(time.Hour),
		LaunchAt: &stagedStart, Policy: &storage.RequestPolicy{Stages: []storage.RequestStage{
			{Name: "marketing", ApproverIDs: []string{approver.ID}, Required: 1}, {Name: "legal", ApproverIDs: []string{admin.ID}, Required: 1}}}})
	require.NoError(t, err)
	require.NoError(t, app.StartApprovalRequest(ctx, tc, queue, staged, stagedC.Name))
	for _, actor := range []string{approver.ID, admin.ID} {
		h, err := tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: workflows.ApprovalRequestWorkflowID(staged.ID),
			UpdateName: workflows.UpdateApprove, Args: []any{workflows.DecisionInput{ActorID: actor, Note: "ok"}},
			WaitForStage: client.WorkflowUpdateStageCompleted})
		require.NoError(t, err)
		require.NoError(t, h.Get(ctx, nil))
	}
	require.Truef(t, time.Now().Before(stagedStart), "the staged approvals were answered after start_at: this machine needs more than %s", historyLaunchMargin)
	require.NoError(t, tc.GetWorkflow(ctx, workflows.ApprovalRequestWorkflowID(staged.ID), "").Get(ctx, &result))
	require.Equal(t, "launched", result)

	hookCamp := camps[0]
	hookCamp.Name = "Webhook campaign"
	deliveryID := webhookDeliveryRun(t, ctx, store, tc, queue, sealer, acct, admin, approver, hookCamp)

	for name, id := range map[string]string{
		"webhook_delivery_retried":           workflows.WebhookDeliveryWorkflowID(deliveryID),
		"approval_request_launched":          workflows.ApprovalRequestWorkflowID(r.ID),
		"approval_request_reminded":          workflows.ApprovalRequestWorkflowID(reminded.ID),
		"approval_draft_built":               workflows.ApprovalDraftWorkflowID(d.ID),
		"approval_draft_failed":              workflows.ApprovalDraftWorkflowID(failedDraft.ID),
		"approval_request_recorded_decision": recordedID,
		"approval_request_stages":            workflows.ApprovalRequestWorkflowID(staged.ID),
	} {
		hist := fetchHistory(t, tc, id)
		b, err := protojson.Marshal(hist)
		require.NoError(t, err)
		path := filepath.Join(t.TempDir(), name+".json")
		if dir := os.Getenv(recordEnv); dir != "" {
			path = filepath.Join(dir, name+".json")
		}
		require.NoError(t, os.WriteFile(path, b, 0o644))
		replayer := worker.NewWorkflowReplayer()
		replayer.RegisterWorkflowWithOptions(workflows.ApprovalRequest, workflow.RegisterOptions{Name: workflows.ApprovalRequestWorkflowName})
		replayer.RegisterWorkflowWithOptions(workflows.ApprovalDraft, workflow.RegisterOptions{Name: workflows.ApprovalDraftWorkflowName})
		replayer.RegisterWorkflowWithOptions(workflows.WebhookDelivery, workflow.RegisterOptions{Name: workflows.WebhookDeliveryWorkflowName})
		require.NoError(t, replayer.ReplayWorkflowHistoryFromJSONFile(nil, path), name)

		committed := filepath.Join("..", "workflows", "testdata", name+".json")
		f, err := os.Open(committed)
		require.NoError(t, err, "the committed history %s", committed)
		old, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
		f.Close()
		require.NoError(t, err, committed)
		require.Equalf(t, historyCommands(t, old), historyCommands(t, hist),
			"%s no longer holds the commands the current code gives: keep it as %s_before_<change>.json (runs in flight "+
				"must still replay) and record the current one with %s=$PWD/workflows/testdata", committed, name, recordEnv)
	}
}

// recordedDecisionRun runs a request whose decision the database holds before the workflow heard of
// it, as when the workflow task that recorded it was lost (a speculative task of an Update dropped by
// the server: the decision's local activity had run, its Update's answer was never kept). The other
// approver's rejection is refused by the database; then the approval by the approver the database
// names comes, as the lost Update is delivered again. It answers the run's workflow id and what
// that approval was answered; the run ends launched.
func recordedDecisionRun(t *testing.T, ctx context.Context, store *storage.Store, tc client.Client, queue string,
	acct storage.Account, admin, approver storage.User, camp storage.Campaign) (string, error) {
	t.Helper()
	start := time.Now().Add(historyLaunchMargin).UTC()
	r, err := store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: acct.ID,
		CampaignID: camp.ID, SubmittedBy: admin.ID, ApproverIDs: []string{approver.ID, admin.ID}, DeadlineAt: start.Add(time.Hour), LaunchAt: &start})
	require.NoError(t, err)
	require.NoError(t, app.StartApprovalRequest(ctx, tc, queue, r, camp.Name))
	id := workflows.ApprovalRequestWorkflowID(r.ID)
	update := func(name, actor, note string) error {
		h, err := tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: name,
			Args: []any{workflows.DecisionInput{ActorID: actor, Note: note}}, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err == nil {
			err = h.Get(ctx, nil)
		}
		return err
	}
	// The workflow is running (its first task done: its timers are set) before the decision lands in
	// the database.
	require.Eventually(t, func() bool {
		return slices.Contains(historyCommands(t, fetchHistory(t, tc, id)), enumspb.EVENT_TYPE_TIMER_STARTED.String())
	}, 30*time.Second, 20*time.Millisecond, "the workflow never set its timers")
	_, err = store.Decide(ctx, acct.ID, storage.Decision{RequestID: r.ID, Type: storage.EventApproved, ActorID: &approver.ID, Note: "ok"})
	require.NoError(t, err)
	err = update(workflows.UpdateReject, admin.ID, "too late")
	require.Truef(t, errs.Is(err, errs.AlreadyHandled), "the database refuses the second decision: %v", err)
	approveErr := update(workflows.UpdateApprove, approver.ID, "ok")
	require.Truef(t, time.Now().Before(start), "the decisions were answered after start_at: this machine needs more than %s", historyLaunchMargin)
	var result string
	require.NoError(t, tc.GetWorkflow(ctx, id, "").Get(ctx, &result))
	require.Equal(t, "launched", result)
	return id, approveErr
}

// webhookDeliveryRun delivers an approval_request.submitted event to a receiver that answers 503, then
// 200: one retry after a durable timer. It answers the delivery's id once its workflow has ended delivered.
func webhookDeliveryRun(t *testing.T, ctx context.Context, store *storage.Store, tc client.Client, queue string,
	sealer *sharelink.Sealer, acct storage.Account, admin, approver storage.User, nc storage.NewCampaign) string {
	t.Helper()
	var calls atomic.Int32
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer rc.Close()
	secret, err := webhooks.NewSecret()
	require.NoError(t, err)
	_, err = store.CreateWebhookEndpoint(ctx, storage.NewWebhookEndpoint{AccountID: acct.ID, URL: rc.URL,
		Events: []string{"approval_request.submitted"}, SecretSealed: sealer.Seal(secret), CreatedBy: admin.ID})
	require.NoError(t, err)
	camp, err := store.CreateCampaign(ctx, acct.ID, admin.ID, nc)
	require.NoError(t, err)
	_, err = store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: acct.ID,
		CampaignID: camp.ID, SubmittedBy: admin.ID, ApproverIDs: []string{approver.ID}, DeadlineAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	keys, err := store.UnstartedDeliveries(ctx, 10)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	d := &workers.WebhookDispatcher{Client: tc, Store: store, TaskQueue: queue,
		Delivery: workflows.WebhookDeliveryInput{FirstRetry: 200 * time.Millisecond, RetryFor: time.Minute}}
	n, err := d.Pass(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	var result string
	require.NoError(t, tc.GetWorkflow(ctx, workflows.WebhookDeliveryWorkflowID(keys[0].ID), "").Get(ctx, &result))
	require.Equal(t, workflows.WebhookResultDelivered, result)
	require.Equal(t, int32(2), calls.Load())
	return keys[0].ID
}

// historyLaunchMargin is how far ahead the recorded request's start_at is.
const historyLaunchMargin = 10 * time.Second

// historyCommands summarises what a workflow's code decided in a history: the activities it
// scheduled, its local activities and version markers, timers, search-attribute upserts and how it
// ended, counted by kind. Sorted, so the interleaving of concurrent work does not matter.
func historyCommands(t *testing.T, h *historypb.History) []string {
	t.Helper()
	var out []string
	for _, ev := range h.GetEvents() {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			out = append(out, "activity "+ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName())
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			a := ev.GetMarkerRecordedEventAttributes()
			what := a.GetMarkerName()
			switch what {
			case "LocalActivity":
				var data struct{ ActivityType string }
				if p := a.GetDetails()["data"].GetPayloads(); len(p) > 0 {
					require.NoError(t, json.Unmarshal(p[0].GetData(), &data), "local activity marker %d", ev.GetEventId())
				}
				what += " " + data.ActivityType
			case "Version":
				var id string
				if p := a.GetDetails()["change-id"].GetPayloads(); len(p) > 0 {
					require.NoError(t, json.Unmarshal(p[0].GetData(), &id), "version marker %d", ev.GetEventId())
				}
				what += " " + id
			}
			out = append(out, "marker "+what)
		case enumspb.EVENT_TYPE_TIMER_STARTED, enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
			enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
			enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED, enumspb.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
			out = append(out, ev.GetEventType().String())
		}
	}
	slices.Sort(out)
	return out
}

// timerSummaries lists the summaries of the timers a history started, sorted ("" for none).
func timerSummaries(t *testing.T, h *historypb.History) []string {
	t.Helper()
	var out []string
	for _, ev := range h.GetEvents() {
		if ev.GetEventType() != enumspb.EVENT_TYPE_TIMER_STARTED {
			continue
		}
		var s string
		if p := ev.GetUserMetadata().GetSummary(); p != nil {
			require.NoError(t, converter.GetDefaultDataConverter().FromPayload(p, &s), "timer summary of event %d", ev.GetEventId())
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func fetchHistory(t *testing.T, c client.Client, id string) *historypb.History {
	it := c.GetWorkflowHistory(context.Background(), id, "", false, 0)
	h := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, ev)
	}
	require.NotEmpty(t, h.Events)
	return h
}
