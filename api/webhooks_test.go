package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/ai"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/testenv/testworker"
	"github.com/signoff/signoff/webhooks"
	"github.com/signoff/signoff/workflows"
)

// Tests of webhooks (SPEC §6c, R-HOOK-1..5), end to end: the API registers an endpoint, the state changes
// write the outbox, the worker's dispatcher starts the delivery workflows, and a local receiver gets the
// signed POSTs.

// hookTimeout bounds each wait for a delivery.
const hookTimeout = 60 * time.Second

// hookEvent is a delivery's body (R-HOOK-2).
type hookEvent struct {
	ID        string         `json:"id"`
	Type      string         `json:"type"`
	CreatedAt time.Time      `json:"created_at"`
	AccountID string         `json:"account_id"`
	Data      map[string]any `json:"data"`
}

// received is one POST the receiver got.
type received struct {
	Header http.Header
	Body   []byte
	Event  hookEvent
}

// receiver is a local webhook receiver: answer decides each answer from the number of the request (from 1).
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(n int) (status int, delay time.Duration)
}

func newReceiver(t *testing.T, answer func(n int) (int, time.Duration)) *receiver {
	t.Helper()
	rc := &receiver{t: t, answer: answer}
	if rc.answer == nil {
		rc.answer = func(int) (int, time.Duration) { return http.StatusOK, 0 }
	}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev hookEvent
		_ = json.Unmarshal(body, &ev)
		rc.mu.Lock()
		rc.got = append(rc.got, received{Header: r.Header.Clone(), Body: body, Event: ev})
		n := len(rc.got)
		rc.mu.Unlock()
		status, delay := rc.answer(n)
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// requests is a copy of what the receiver got so far.
func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// waitFor waits until the receiver got n requests and answers them.
func (rc *receiver) waitFor(t *testing.T, n int) []received {
	t.Helper()
	eventually(t, hookTimeout, func() bool { return len(rc.requests()) >= n },
		func() string {
			return "the receiver got " + strconv.Itoa(len(rc.requests())) + " requests, want " + strconv.Itoa(n)
		})
	return rc.requests()
}

// requireSigned checks R-HOOK-2's headers and signature of a received request with the endpoint's secret.
func requireSigned(t *testing.T, secret string, r received) {
	t.Helper()
	id := r.Header.Get("webhook-id")
	require.Equal(t, r.Event.ID, id, "webhook-id is the event id")
	ts, err := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
	require.NoError(t, err)
	require.InDelta(t, time.Now().Unix(), ts, 120, "webhook-timestamp is Unix seconds of the attempt")
	require.True(t, webhooks.Verify(secret, id, ts, r.Body, r.Header.Get("webhook-signature")),
		"the signature verifies with the endpoint secret: %s", r.Header.Get("webhook-signature"))
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
}

// hookEnv is the drafts fixture with a worker that also runs the webhook dispatcher, with short retries.
type hookEnv struct {
	*draftEnv
	admin string
}

// newHookEnv starts the worker; delivery sets the delivery workflows' timing (zero: the defaults).
func newHookEnv(t *testing.T, delivery workflows.WebhookDeliveryInput, allowPrivate bool) *hookEnv {
	t.Helper()
	de := newDraftEnv(t)
	de.server.App.WebhookAllowPrivate = true
	testworker.Start(t, testenv.Temporal(t), de.server.App.TaskQueue, &activities.Activities{Store: de.store, Sealer: de.sealer,
		AI: ai.NewPipeline(&ai.Local{}, nil), BuildCapacity: 10, PublicURL: "http://example.test", WebhookAllowPrivate: allowPrivate},
		testworker.Options{Webhooks: &delivery})
	return &hookEnv{draftEnv: de, admin: de.A.Tokens[storage.RoleAdmin]}
}

// fastRetries are delivery timings for tests: retries after 200 ms, 400 ms, … up to 1 s, for a minute.
var fastRetries = workflows.WebhookDeliveryInput{FirstRetry: 200 * time.Millisecond, MaxRetry: time.Second, RetryFor: time.Minute}

// createHook registers url for events as A's admin and answers the endpoint's id and secret.
func (h *hookEnv) createHook(t *testing.T, url string, events ...string) (id, secret string) {
	t.Helper()
	var out map[string]any
	h.doJSON(t, http.StatusCreated, http.MethodPost, "/v1/webhooks", h.admin,
		map[string]any{"url": url, "events": events, "description": "scheduler"}, &out)
	secret, _ = out["secret"].(string)
	id, _ = out["id"].(string)
	require.NotEmpty(t, id)
	return id, secret
}

// deliveries lists an endpoint's deliveries through the API.
func (h *hookEnv) deliveries(t *testing.T, hookID string) []webhookDeliveryView {
	t.Helper()
	var out struct {
		Items []webhookDeliveryView `json:"items"`
	}
	h.doJSON(t, http.StatusOK, http.MethodGet, "/v1/webhooks/"+hookID+"/deliveries", h.admin, nil, &out)
	return out.Items
}

// webhookDeliveryView is a delivery as GET /v1/webhooks/{id}/deliveries answers it.
type webhookDeliveryView struct {
	ID           string     `json:"id"`
	EventID      string     `json:"event_id"`
	EventType    string     `json:"event_type"`
	RedeliveryOf *string    `json:"redelivery_of"`
	Status       string     `json:"status"`
	ResponseCode *int       `json:"response_code"`
	NextTryAt    *time.Time `json:"next_try_at"`
	Attempts     []struct {
		Attempt      int        `json:"attempt"`
		Outcome      string     `json:"outcome"`
		ResponseCode *int       `json:"response_code"`
		Error        string     `json:"error"`
		DurationMS   int        `json:"duration_ms"`
		NextTryAt    *time.Time `json:"next_try_at"`
		AttemptedAt  time.Time  `json:"attempted_at"`
	} `json:"attempts"`
}

// waitDelivery waits until the endpoint's delivery of eventType has status and answers it.
func (h *hookEnv) waitDelivery(t *testing.T, hookID, eventType, status string) webhookDeliveryView {
	t.Helper()
	var found webhookDeliveryView
	eventually(t, hookTimeout, func() bool {
		for _, d := range h.deliveries(t, hookID) {
			if d.EventType == eventType && d.Status == status {
				found = d
				return true
			}
		}
		return false
	}, func() string { return "no " + status + " delivery of " + eventType })
	return found
}

// TestWebhookCRUD checks R-HOOK-1 and R-HOOK-5's registration rules: 201 with a whsec_ secret shown
// once, stored sealed; unknown event types and bad URLs answer 422; list, get and delete.
func TestWebhookCRUD(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.server.App.Sealer = testenv.Sealer(t)
	admin := e.A.Tokens[storage.RoleAdmin]
	code, body := e.do(t, http.MethodPost, "/v1/webhooks", admin, map[string]any{"url": "https://hooks.example.com/in",
		"events": []string{"approval_request.approved", "campaign.launched"}, "description": "scheduler"})
	require.Equal(t, http.StatusCreated, code, body)
	secret, _ := body["secret"].(string)
	require.Regexp(t, `^whsec_[A-Za-z0-9+/]{43}=$`, secret)
	id := body["id"].(string)
	var sealed []byte
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT secret_sealed FROM webhook_endpoints WHERE id = $1`, id).Scan(&sealed))
	require.NotContains(t, string(sealed), secret[len("whsec_"):], "the secret is stored sealed")
	opened, err := e.server.App.Sealer.Open(sealed)
	require.NoError(t, err)
	require.Equal(t, secret, opened)

	code, got := e.do(t, http.MethodGet, "/v1/webhooks/"+id, admin, nil)
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, got, "secret", "the secret is shown once")
	require.Equal(t, true, got["enabled"])
	require.Equal(t, []any{"approval_request.approved", "campaign.launched"}, got["events"])
	list := e.listItems(t, "/v1/webhooks", admin)
	require.Len(t, list, 1)
	require.NotContains(t, list[0], "secret")

	for _, bad := range []map[string]any{
		{"url": "https://hooks.example.com/in", "events": []string{"approval_request.approved", "campaign.exploded"}},
		{"url": "https://hooks.example.com/in", "events": []string{}},
		{"url": "https://hooks.example.com/in"},
		{"url": "http://hooks.example.com/in", "events": []string{"campaign.launched"}},
		{"url": "https://127.0.0.1/in", "events": []string{"campaign.launched"}},
		{"url": "https://169.254.169.254/latest", "events": []string{"campaign.launched"}},
		{"url": "not a url", "events": []string{"campaign.launched"}},
	} {
		code, out := e.do(t, http.MethodPost, "/v1/webhooks", admin, bad)
		require.Equal(t, http.StatusUnprocessableEntity, code, "%v: %v", bad, out)
	}
	code, _ = e.do(t, http.MethodDelete, "/v1/webhooks/"+id, admin, nil)
	require.Equal(t, http.StatusNoContent, code)
	code, _ = e.do(t, http.MethodGet, "/v1/webhooks/"+id, admin, nil)
	require.Equal(t, http.StatusNotFound, code)
	code, _ = e.do(t, http.MethodPost, "/v1/webhooks", e.A.Tokens[storage.RoleCSM], map[string]any{"url": "https://hooks.example.com/in",
		"events": []string{"campaign.launched"}})
	require.Equal(t, http.StatusForbidden, code, "settings.manage is needed")
}

// TestWebhookApprovalFlow: submit → approve → launch sends approval_request.submitted, .approved and
// campaign.launched for that campaign, signed, each the subject as its GET answers it; the deliveries
// are listed as delivered with their attempt; a redelivery sends the same webhook-id again.
func TestWebhookApprovalFlow(t *testing.T) {
	t.Parallel()
	h := newHookEnv(t, fastRetries, true)
	rc := newReceiver(t, nil)
	hookID, secret := h.createHook(t, rc.srv.URL+"/hooks", "approval_request.submitted", "approval_request.approved", "campaign.launched")
	collab, approver := h.A.Tokens[storage.RoleCollaborator], h.A.Users[storage.RoleApprover]
	camp := h.laterCampaign(t, h.A.Users[storage.RoleCollaborator], "Webhook campaign")
	req := h.submit(t, camp.ID, collab, approver.ID)
	code, body := h.act(t, req.ID, "approve", h.A.Tokens[storage.RoleApprover], "ship it")
	require.Equal(t, http.StatusOK, code, body)
	code, body = h.do(t, http.MethodPost, "/v1/campaigns/"+camp.ID+"/launch", h.admin, nil)
	require.Equal(t, http.StatusCreated, code, body)

	got := rc.waitFor(t, 3)
	byType := map[string]received{}
	for _, r := range got {
		requireSigned(t, secret, r)
		require.Equal(t, h.A.Account.ID, r.Event.AccountID)
		byType[r.Event.Type] = r
	}
	sub, appr, launch := byType["approval_request.submitted"], byType["approval_request.approved"], byType["campaign.launched"]
	require.True(t, sub.Event.CreatedAt.Before(appr.Event.CreatedAt) && appr.Event.CreatedAt.Before(launch.Event.CreatedAt),
		"the events are in the order of the state changes: %v %v %v", sub.Event.CreatedAt, appr.Event.CreatedAt, launch.Event.CreatedAt)
	require.Equal(t, req.ID, sub.Event.Data["id"])
	require.Equal(t, "pending", sub.Event.Data["status"], "data is the request as it was when submitted")
	require.Equal(t, camp.ID, appr.Event.Data["campaign_id"])
	require.Equal(t, "approved", appr.Event.Data["status"])
	require.Equal(t, "ship it", appr.Event.Data["decision_note"])
	// The approved event's data is the request as GET answers it, field for field.
	_, getAnswer := h.do(t, http.MethodGet, "/v1/approval-requests/"+req.ID, collab, nil)
	for _, k := range []string{"id", "account_id", "campaign_id", "campaign_version", "content_hash", "submitted_by", "note",
		"status", "decided_by", "decision_note", "decided_at", "deadline_at", "created_at", "approvers"} {
		require.Equal(t, getAnswer[k], appr.Event.Data[k], "data.%s is what GET answers", k)
	}
	require.Equal(t, camp.ID, launch.Event.Data["campaign_id"])
	require.Equal(t, body["launch"].(map[string]any)["id"], launch.Event.Data["id"], "campaign.launched carries the launch record")
	require.NotEmpty(t, launch.Event.Data["content_hash"])

	d := h.waitDelivery(t, hookID, "campaign.launched", storage.DeliveryDelivered)
	require.Len(t, d.Attempts, 1)
	require.Equal(t, 200, *d.Attempts[0].ResponseCode)
	require.Nil(t, d.Attempts[0].NextTryAt)

	var again webhookDeliveryView
	h.doJSON(t, http.StatusAccepted, http.MethodPost, "/v1/webhooks/"+hookID+"/deliveries/"+d.ID+"/redeliver", h.admin, nil, &again)
	require.Equal(t, d.ID, *again.RedeliveryOf)
	got = rc.waitFor(t, 4)
	require.Equal(t, launch.Event.ID, got[3].Header.Get("webhook-id"), "a redelivery keeps the webhook-id")
	require.Equal(t, launch.Body, got[3].Body, "and the body")
	requireSigned(t, secret, got[3])
}

// TestWebhookDraftEvents: a draft sends approval_draft.ready (with its share_url) and, after the client
// submits, approval_draft.submitted; an endpoint that does not subscribe to an event does not get it.
func TestWebhookDraftEvents(t *testing.T) {
	t.Parallel()
	h := newHookEnv(t, fastRetries, true)
	rc := newReceiver(t, nil)
	_, secret := h.createHook(t, rc.srv.URL, "approval_draft.ready", "approval_draft.submitted")
	other := newReceiver(t, nil)
	h.createHook(t, other.srv.URL, "approval_request.approved")
	d := draftCreate(t, h.env, h.camp.ID, h.csm, map[string]any{"source": draftSearchSource(h.search.ID), "contact_count": 3})
	built := draftWaitAIDone(t, h.env, d.ID, h.csm)
	require.NotNil(t, built.ShareURL)
	got := rc.waitFor(t, 1)
	requireSigned(t, secret, got[0])
	require.Equal(t, "approval_draft.ready", got[0].Event.Type)
	require.Equal(t, d.ID, got[0].Event.Data["id"])
	require.Equal(t, "ready", got[0].Event.Data["status"])
	require.Equal(t, *built.ShareURL, got[0].Event.Data["share_url"], "data is the draft as its GET answers it, link included")

	var sub map[string]any
	h.doJSON(t, http.StatusOK, http.MethodPost, reviewPath(reviewTokenOf(t, *built.ShareURL), "/submit"), "", map[string]any{"author": "Ana"}, &sub)
	got = rc.waitFor(t, 2)
	requireSigned(t, secret, got[1])
	require.Equal(t, "approval_draft.submitted", got[1].Event.Type)
	require.Equal(t, storage.DraftStatusApproved, got[1].Event.Data["status"])
	require.NotNil(t, got[1].Event.Data["submitted_at"])
	require.Empty(t, other.requests(), "the other endpoint subscribes to none of these")
}

// TestWebhookReceiverDown: a receiver answering 503 then 200 gets the event once it recovers; both
// attempts are recorded, the failed one with its next try.
func TestWebhookReceiverDown(t *testing.T) {
	t.Parallel()
	h := newHookEnv(t, fastRetries, true)
	rc := newReceiver(t, func(n int) (int, time.Duration) {
		if n <= 2 {
			return http.StatusServiceUnavailable, 0
		}
		return http.StatusOK, 0
	})
	hookID, secret := h.createHook(t, rc.srv.URL, "approval_request.submitted")
	h.submit(t, h.laterCampaign(t, h.A.Users[storage.RoleCollaborator], "Down").ID, h.A.Tokens[storage.RoleCollaborator], h.A.Users[storage.RoleApprover].ID)
	d := h.waitDelivery(t, hookID, "approval_request.submitted", storage.DeliveryDelivered)
	got := rc.requests()
	require.Len(t, got, 3, "two 503s, then delivered, then nothing more")
	for _, r := range got {
		requireSigned(t, secret, r)
		require.Equal(t, got[0].Event.ID, r.Header.Get("webhook-id"), "the same webhook-id on every retry")
		require.Equal(t, got[0].Body, r.Body, "the same body on every retry")
	}
	require.Len(t, d.Attempts, 3)
	for i, a := range d.Attempts[:2] {
		require.Equal(t, "failed", a.Outcome)
		require.Equal(t, 503, *a.ResponseCode)
		require.NotNil(t, a.NextTryAt, "attempt %d has its next try", i+1)
		require.True(t, d.Attempts[i+1].AttemptedAt.After(*a.NextTryAt) || d.Attempts[i+1].AttemptedAt.Equal(*a.NextTryAt) ||
			a.NextTryAt.Sub(d.Attempts[i+1].AttemptedAt) < 100*time.Millisecond, "the next attempt came at its next try")
	}
	require.Equal(t, "delivered", d.Attempts[2].Outcome)
	require.Equal(t, 200, *d.ResponseCode)
	require.Nil(t, d.NextTryAt)
}

// TestWebhookGoneDisables: a 410 disables the endpoint at once; later events are not sent to it.
func TestWebhookGoneDisables(t *testing.T) {
	t.Parallel()
	h := newHookEnv(t, fastRetries, true)
	rc := newReceiver(t, func(int) (int, time.Duration) { return http.StatusGone, 0 })
	hookID, _ := h.createHook(t, rc.srv.URL, "approval_request.submitted")
	collab, approver := h.A.Tokens[storage.RoleCollaborator], h.A.Users[storage.RoleApprover].ID
	h.submit(t, h.laterCampaign(t, h.A.Users[storage.RoleCollaborator], "Gone 1").ID, collab, approver)
	d := h.waitDelivery(t, hookID, "approval_request.submitted", storage.DeliveryFailed)
	require.Len(t, d.Attempts, 1, "410 is not retried")
	require.Equal(t, "gone", d.Attempts[0].Outcome)
	_, ep := h.do(t, http.MethodGet, "/v1/webhooks/"+hookID, h.admin, nil)
	require.Equal(t, false, ep["enabled"])
	require.NotEmpty(t, ep["disabled_reason"])

	h.submit(t, h.laterCampaign(t, h.A.Users[storage.RoleCollaborator], "Gone 2").ID, collab, approver)
	time.Sleep(2 * time.Second)
	require.Len(t, rc.requests(), 1, "a disabled endpoint gets no later event")
	require.Len(t, h.deliveries(t, hookID), 1)
	code, _ := h.do(t, http.MethodPost, "/v1/webhooks/"+hookID+"/deliveries/"+d.ID+"/redeliver", h.admin, nil)
	require.Equal(t, http.StatusConflict, code, "no redelivery to a disabled endpoint")
}

// TestWebhookDeleteCancelsWaitingDeliveries: deleting an endpoint cancels the run of a delivery that
// waits on its hour-long retry timer, instead of leaving it until its next attempt.
func TestWebhookDeleteCancelsWaitingDeliveries(t *testing.T) {
	t.Parallel()
	h := newHookEnv(t, workflows.WebhookDeliveryInput{FirstRetry: time.Hour, RetryFor: 24 * time.Hour}, true)
	rc := newReceiver(t, func(int) (int, time.Duration) { return http.StatusServiceUnavailable, 0 })
	hookID, _ := h.createHook(t, rc.srv.URL, "approval_request.submitted")
	h.submit(t, h.laterCampaign(t, h.A.Users[storage.RoleCollaborator], "Deleted endpoint").ID,
		h.A.Tokens[storage.RoleCollaborator], h.A.Users[storage.RoleApprover].ID)
	rc.waitFor(t, 1)
	var id string
	require.Eventually(t, func() bool {
		ds := h.deliveries(t, hookID)
		if len(ds) == 1 && len(ds[0].Attempts) == 1 {
			id = ds[0].ID
		}
		return id != ""
	}, 30*time.Second, 20*time.Millisecond, "the first attempt was never recorded")
	code, _ := h.do(t, http.MethodDelete, "/v1/webhooks/"+hookID, h.admin, nil)
	require.Equal(t, http.StatusNoContent, code)
	tc := testenv.Temporal(t)
	require.Eventually(t, func() bool {
		desc, err := tc.DescribeWorkflowExecution(context.Background(), workflows.WebhookDeliveryWorkflowID(id), "")
		return err == nil && desc.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED
	}, 30*time.Second, 50*time.Millisecond, "the waiting delivery's run was not cancelled")
	require.Len(t, rc.requests(), 1, "no attempt after the delete")
}

// TestWebhookSlowReceiverTimesOut: a receiver that takes 15 s is cut off at the 10 s timeout and the
// delivery is retried; the answer that comes in time delivers it.
func TestWebhookSlowReceiverTimesOut(t *testing.T) {
	t.Parallel()
	h := newHookEnv(t, workflows.WebhookDeliveryInput{FirstRetry: 200 * time.Millisecond, MaxRetry: time.Second, RetryFor: time.Minute}, true)
	rc := newReceiver(t, func(n int) (int, time.Duration) {
		if n == 1 {
			return http.StatusOK, 15 * time.Second
		}
		return http.StatusOK, 0
	})
	hookID, _ := h.createHook(t, rc.srv.URL, "approval_request.submitted")
	h.submit(t, h.laterCampaign(t, h.A.Users[storage.RoleCollaborator], "Slow").ID, h.A.Tokens[storage.RoleCollaborator], h.A.Users[storage.RoleApprover].ID)
	d := h.waitDelivery(t, hookID, "approval_request.submitted", storage.DeliveryDelivered)
	require.Len(t, d.Attempts, 2)
	first := d.Attempts[0]
	require.Equal(t, "failed", first.Outcome)
	require.Nil(t, first.ResponseCode, "no answer came in time")
	require.Contains(t, first.Error, "Client.Timeout")
	require.InDelta(t, 10_000, first.DurationMS, 1500, "cut off at 10 s")
	require.Equal(t, "delivered", d.Attempts[1].Outcome)
}

// TestWebhookGuardAtDelivery: with private addresses not allowed in the worker, a delivery to the local
// receiver is refused at connect time (after resolving "localhost") and the receiver never sees it.
func TestWebhookGuardAtDelivery(t *testing.T) {
	t.Parallel()
	h := newHookEnv(t, workflows.WebhookDeliveryInput{FirstRetry: 100 * time.Millisecond, MaxRetry: 100 * time.Millisecond, RetryFor: time.Second}, false)
	rc := newReceiver(t, nil)
	// https, so the worker's scheme rule lets it through to the dialer, which refuses the resolved address.
	hookID, _ := h.createHook(t, "https://localhost:"+rc.srv.URL[len("http://127.0.0.1:"):], "approval_request.submitted")
	h.submit(t, h.laterCampaign(t, h.A.Users[storage.RoleCollaborator], "Guarded").ID, h.A.Tokens[storage.RoleCollaborator], h.A.Users[storage.RoleApprover].ID)
	d := h.waitDelivery(t, hookID, "approval_request.submitted", storage.DeliveryFailed)
	require.NotEmpty(t, d.Attempts)
	for _, a := range d.Attempts {
		require.Equal(t, "failed", a.Outcome)
		require.Nil(t, a.ResponseCode)
		require.Contains(t, a.Error, "address refused")
	}
	require.Empty(t, rc.requests(), "nothing reached the private address")
}

// TestWebhookAutoApprovedByToggle: turning approvals off for the account (R-APPR-1) auto-approves the
// pending request through its workflow, and that path writes the outbox too.
func TestWebhookAutoApprovedByToggle(t *testing.T) {
	t.Parallel()
	h := newHookEnv(t, fastRetries, true)
	rc := newReceiver(t, nil)
	_, secret := h.createHook(t, rc.srv.URL, "approval_request.auto_approved")
	req := h.submit(t, h.laterCampaign(t, h.A.Users[storage.RoleCollaborator], "Toggled").ID, h.A.Tokens[storage.RoleCollaborator],
		h.A.Users[storage.RoleApprover].ID)
	code, body := h.do(t, http.MethodPatch, "/v1/account/settings", h.admin, map[string]any{"approval_enabled": false})
	require.Equal(t, http.StatusOK, code, body)
	got := rc.waitFor(t, 1)
	requireSigned(t, secret, got[0])
	require.Equal(t, "approval_request.auto_approved", got[0].Event.Type)
	require.Equal(t, req.ID, got[0].Event.Data["id"])
	require.Equal(t, storage.RequestStatusApproved, got[0].Event.Data["status"])
}
