package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/signoff/signoff/api"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// givingUpClient is a Temporal client whose caller gives up while a decision is being made. Armed,
// its next Update reaches the server and completes whatever happens to the caller (as it does in
// production once sent); then gaveUp runs (the test cancels the client's HTTP request there); then
// it waits until hold closes or the caller's context ends, and answers as the SDK would: the
// caller's context error if it ended, else the outcome.
type givingUpClient struct {
	client.Client
	mu     sync.Mutex
	gaveUp func()
	hold   chan struct{}
}

// arm makes the next Update behave as described; later ones pass through.
func (g *givingUpClient) arm(gaveUp func(), hold chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gaveUp, g.hold = gaveUp, hold
}

func (g *givingUpClient) UpdateWorkflow(ctx context.Context, opts client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	g.mu.Lock()
	gaveUp, hold := g.gaveUp, g.hold
	g.gaveUp, g.hold = nil, nil
	g.mu.Unlock()
	if gaveUp == nil {
		return g.Client.UpdateWorkflow(ctx, opts)
	}
	h, err := g.Client.UpdateWorkflow(context.WithoutCancel(ctx), opts)
	gaveUp()
	select {
	case <-hold:
	case <-ctx.Done():
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return h, err
}

// keyedDecisionEnv is an approval env whose server talks to Temporal through a givingUpClient, with
// a pending request of A's collaborator assigned to A's approver and admin.
type keyedDecisionEnv struct {
	*env
	tc       *givingUpClient
	approver string // token
	admin    string // token
}

func newKeyedDecisionEnv(t *testing.T) *keyedDecisionEnv {
	t.Helper()
	e := newApprovalEnv(t, time.Hour)
	tc := &givingUpClient{Client: e.server.App.Temporal}
	e.server.App.Temporal = tc
	return &keyedDecisionEnv{env: e, tc: tc, approver: e.A.Tokens[storage.RoleApprover], admin: e.A.Tokens[storage.RoleAdmin]}
}

// pending submits a new campaign of A's collaborator to A's approver and admin.
func (ke *keyedDecisionEnv) pending(t *testing.T, name string) storage.ApprovalRequest {
	t.Helper()
	camp := ke.laterCampaign(t, ke.A.Users[storage.RoleCollaborator], name)
	return ke.submit(t, camp.ID, ke.A.Tokens[storage.RoleCollaborator],
		ke.A.Users[storage.RoleApprover].ID, ke.A.Users[storage.RoleAdmin].ID)
}

// decide sends a keyed decision as token; ctx is the client's.
func (ke *keyedDecisionEnv) decide(ctx context.Context, id, action, token, key string) *httptest.ResponseRecorder {
	req := newRequest(http.MethodPost, "/v1/approval-requests/"+id+"/"+action, token, `{"note":"not this quarter"}`)
	req.Header.Set(api.IdempotencyKeyHeader, key)
	return serve(ke.env, req.WithContext(ctx))
}

// giveUp sends a keyed decision whose client gives up while the decision is made (see givingUpClient)
// and returns the answer the server wrote to the gone client, once the handler is done.
func (ke *keyedDecisionEnv) giveUp(id, action, token, key string, hold chan struct{}) <-chan *httptest.ResponseRecorder {
	ctx, cancel := context.WithCancel(context.Background())
	ke.tc.arm(cancel, hold)
	out := make(chan *httptest.ResponseRecorder, 1)
	go func() { out <- ke.decide(ctx, id, action, token, key) }()
	return out
}

// decisionEvents counts the request's history events of type typ.
func (ke *keyedDecisionEnv) decisionEvents(t *testing.T, id, typ string) int {
	t.Helper()
	n := 0
	for _, ev := range ke.history(t, "/v1/approval-requests/"+id+"/history", ke.admin) {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

// awaitAttempt returns the first attempt's answer, failing after a generous deadline.
func awaitAttempt(t *testing.T, first <-chan *httptest.ResponseRecorder) *httptest.ResponseRecorder {
	t.Helper()
	select {
	case rec := <-first:
		return rec
	case <-time.After(time.Minute):
		t.Fatal("the first attempt never finished")
		return nil
	}
}

// TestKeyedDecisionRetryAnswersOriginalOutcome checks that a client which gives up on a keyed
// reject and retries with the same Idempotency-Key is answered its own decision, not 409
// already_handled: while the first attempt still runs it is told to retry in
// a moment; once that attempt answered (its client gone), the retry replays that answer; and when
// the first attempt stopped waiting before the outcome came, the retry finds the same Update.
// Anyone else still gets 409 already_handled (R-APPR-5).
func TestKeyedDecisionRetryAnswersOriginalOutcome(t *testing.T) {
	t.Parallel()
	ke := newKeyedDecisionEnv(t)
	ctx := context.Background()

	t.Run("the first attempt answers after its client left", func(t *testing.T) {
		r := ke.pending(t, "Keyed reject, client gone")
		hold := make(chan struct{})
		first := ke.giveUp(r.ID, "reject", ke.approver, "reject-1", hold)
		require.Eventually(t, func() bool { return ke.storedRequest(t, ke.A.Account.ID, r.ID).Status == storage.RequestStatusRejected },
			30*time.Second, 20*time.Millisecond, "the decision is made")

		rec := ke.decide(ctx, r.ID, "reject", ke.approver, "reject-1")
		requireError(t, rec.Code, decodeObject(t, rec), http.StatusConflict, "idempotency_in_progress")
		require.Equal(t, "1", rec.Header().Get("Retry-After"))

		close(hold)
		awaitAttempt(t, first)
		rec = ke.decide(ctx, r.ID, "reject", ke.approver, "reject-1")
		require.Equal(t, http.StatusOK, rec.Code, "the retry is answered its own decision: %s", rec.Body.String())
		require.Equal(t, "true", rec.Header().Get("Idempotent-Replayed"))
		body := decodeObject(t, rec)
		require.Equal(t, r.ID, body["id"])
		require.Equal(t, storage.RequestStatusRejected, body["status"])
		require.Equal(t, 1, ke.decisionEvents(t, r.ID, storage.EventRejected))

		rec = ke.decide(ctx, r.ID, "reject", ke.admin, "admin-reject-1")
		requireError(t, rec.Code, decodeObject(t, rec), http.StatusConflict, string(errs.AlreadyHandled))
	})

	t.Run("the first attempt gave up before the outcome came", func(t *testing.T) {
		ke.server.DecisionGrace = time.Millisecond
		defer func() { ke.server.DecisionGrace = 0 }()
		r := ke.pending(t, "Keyed reject, attempt gave up")
		rec := awaitAttempt(t, ke.giveUp(r.ID, "reject", ke.approver, "reject-2", make(chan struct{})))
		require.Equal(t, 499, rec.Code, "the first attempt ends as cancelled: %s", rec.Body.String())
		require.Equal(t, storage.RequestStatusRejected, ke.storedRequest(t, ke.A.Account.ID, r.ID).Status, "the decision was made")

		rec = ke.decide(ctx, r.ID, "reject", ke.approver, "reject-2")
		require.Equal(t, http.StatusOK, rec.Code, "the retry is answered its own decision: %s", rec.Body.String())
		body := decodeObject(t, rec)
		require.Equal(t, r.ID, body["id"])
		require.Equal(t, storage.RequestStatusRejected, body["status"])
		require.Equal(t, 1, ke.decisionEvents(t, r.ID, storage.EventRejected))

		rec = ke.decide(ctx, r.ID, "reject", ke.admin, "admin-reject-2")
		requireError(t, rec.Code, decodeObject(t, rec), http.StatusConflict, string(errs.AlreadyHandled))
	})
}

// TestCancelledRequestNotStoredAsAnswer checks that a keyed request cut short because its client
// left (499) keeps no answer under its key: the key is released, and a retry runs at once (not told
// the key is in progress), here finding the approval its first attempt sent, made once.
func TestCancelledRequestNotStoredAsAnswer(t *testing.T) {
	t.Parallel()
	ke := newKeyedDecisionEnv(t)
	ke.server.DecisionGrace = time.Millisecond
	r := ke.pending(t, "Keyed approve, attempt gave up")

	rec := awaitAttempt(t, ke.giveUp(r.ID, "approve", ke.approver, "approve-1", make(chan struct{})))
	require.Equal(t, 499, rec.Code, rec.Body.String())
	stored := storedAnswer(t, ke.env, ke.A.Users[storage.RoleApprover].ID, "approve-1")
	require.Nil(t, stored, "a cancelled request is stored as the answer: %s", stored)
	var answered int
	require.NoError(t, ke.pool.QueryRow(context.Background(), `SELECT count(*) FROM idempotency_keys
		WHERE key = 'approve-1' AND status_code IS NOT NULL`).Scan(&answered))
	require.Zero(t, answered, "a status is stored for the cancelled request")

	rec = ke.decide(context.Background(), r.ID, "approve", ke.approver, "approve-1")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Empty(t, rec.Header().Get("Idempotent-Replayed"), "the retry ran")
	require.Equal(t, storage.RequestStatusApproved, decodeObject(t, rec)["status"])
	require.Equal(t, 1, ke.decisionEvents(t, r.ID, storage.EventApproved), "approved once")
}
