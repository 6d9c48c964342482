package workers_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/ai"
	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/demodata"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/workers"
	"github.com/signoff/signoff/workflows"
)

// The sweeper repairs each row on its own (one poisoned row blocks no
// other), backs off from a failing row, never repairs a row in two workers at once, and gives a
// pending request whose workflow closed a new run.

// sweepFixture is an account with an admin, an approver who keeps the approval right and one who
// loses it, and a supply of campaigns.
type sweepFixture struct {
	t          *testing.T
	pool       *pgxpool.Pool
	store      *storage.Store
	tc         client.Client
	queue      string
	accountID  string
	adminID    string
	approverID string
	leaverID   string // loses the approval right when the test says so
	started    []string
}

func newSweepFixture(t *testing.T) *sweepFixture {
	t.Helper()
	ctx := context.Background()
	pool := testenv.Database(t)
	f := &sweepFixture{t: t, pool: pool, store: storage.New(pool), tc: testenv.Temporal(t), queue: testenv.TaskQueue(t)}
	_, hash := storage.NewToken()
	acct, admin, err := f.store.CreateAccountWithAdmin(ctx, "Sweep", "admin@sweep.test", "Sam Admin", hash)
	require.NoError(t, err)
	f.accountID, f.adminID = acct.ID, admin.ID
	for i, id := range []*string{&f.approverID, &f.leaverID} {
		_, h := storage.NewToken()
		u, err := f.store.CreateUser(ctx, acct.ID, storage.NewUser{Email: fmt.Sprintf("approver%d@sweep.test", i),
			Name: fmt.Sprintf("Approver %d", i), Role: storage.RoleApprover, CanApprove: true}, h)
		require.NoError(t, err)
		*id = u.ID
	}
	// Registered before any worker the test starts, so it runs after that worker stopped.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, id := range f.started {
			_ = f.tc.TerminateWorkflow(ctx, id, "", "sweeper test over")
		}
	})
	return f
}

func (f *sweepFixture) campaign(name string) storage.Campaign {
	f.t.Helper()
	nc := demodata.Campaigns(time.Now())[0]
	nc.Name = name
	c, err := f.store.CreateCampaign(context.Background(), f.accountID, f.adminID, nc)
	require.NoError(f.t, err)
	return c
}

// request stores a pending request (no workflow yet) with the given approver and deadline.
func (f *sweepFixture) request(name, approverID string, deadline time.Time) storage.ApprovalRequest {
	f.t.Helper()
	c := f.campaign(name)
	r, err := f.store.CreateApprovalRequest(context.Background(), storage.NewApprovalRequest{ID: testenv.NewUUID(),
		AccountID: f.accountID, CampaignID: c.ID, SubmittedBy: f.adminID, Note: name, ApproverIDs: []string{approverID}, DeadlineAt: deadline})
	require.NoError(f.t, err)
	f.started = append(f.started, workflows.ApprovalRequestWorkflowID(r.ID))
	return r
}

// startRequest starts a request's workflow and records it started, as the API does.
func (f *sweepFixture) startRequest(r storage.ApprovalRequest) {
	f.t.Helper()
	ctx := context.Background()
	require.NoError(f.t, app.StartApprovalRequest(ctx, f.tc, f.queue, r, ""))
	require.NoError(f.t, f.store.MarkWorkflowStarted(ctx, r.ID))
}

// draft stores a processing draft with source (no build yet).
func (f *sweepFixture) draft(name, source string) storage.ApprovalDraft {
	f.t.Helper()
	c := f.campaign(name)
	d, _, err := f.store.CreateDraft(context.Background(), storage.NewDraft{AccountID: f.accountID, CampaignID: c.ID,
		CreatedBy: f.adminID, Source: []byte(source), SourceKey: "sweep:" + name, ContactCount: 5}, false)
	require.NoError(f.t, err)
	f.started = append(f.started, workflows.ApprovalDraftWorkflowID(d.ID))
	return d
}

func (f *sweepFixture) requestStarted(id string) bool {
	f.t.Helper()
	var started bool
	require.NoError(f.t, f.pool.QueryRow(context.Background(),
		`SELECT workflow_started_at IS NOT NULL FROM approval_requests WHERE id = $1`, id).Scan(&started))
	return started
}

func (f *sweepFixture) draftStarted(id string) bool {
	f.t.Helper()
	var started bool
	require.NoError(f.t, f.pool.QueryRow(context.Background(),
		`SELECT workflow_started_at IS NOT NULL FROM approval_drafts WHERE id = $1`, id).Scan(&started))
	return started
}

func (f *sweepFixture) workflowStatus(workflowID string) (enumspb.WorkflowExecutionStatus, string) {
	f.t.Helper()
	desc, err := f.tc.DescribeWorkflowExecution(context.Background(), workflowID, "")
	require.NoError(f.t, err, "describe %s", workflowID)
	info := desc.GetWorkflowExecutionInfo()
	return info.GetStatus(), info.GetExecution().GetRunId()
}

// faultyClient is a Temporal client whose calls fail, or block, for chosen workflow ids: a poisoned
// row, as seen by the sweeper. It counts the start and signal calls it is asked for.
type faultyClient struct {
	client.Client

	mu          sync.Mutex
	failStart   map[string]error
	failSignal  map[string]error
	starts      map[string]int
	signals     map[string]int
	inFlight    map[string]int
	maxInFlight map[string]int
	// blockFirst holds the first start of a workflow id until the channel is closed; entered says it arrived.
	blockFirst map[string]chan struct{}
	entered    chan string
}

func newFaultyClient(c client.Client) *faultyClient {
	return &faultyClient{Client: c, failStart: map[string]error{}, failSignal: map[string]error{}, starts: map[string]int{},
		signals: map[string]int{}, inFlight: map[string]int{}, maxInFlight: map[string]int{},
		blockFirst: map[string]chan struct{}{}, entered: make(chan string, 16)}
}

func (c *faultyClient) ExecuteWorkflow(ctx context.Context, opts client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	c.mu.Lock()
	id := opts.ID
	c.starts[id]++
	c.inFlight[id]++
	c.maxInFlight[id] = max(c.maxInFlight[id], c.inFlight[id])
	var block chan struct{}
	if c.starts[id] == 1 {
		block = c.blockFirst[id]
	}
	err := c.failStart[id]
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inFlight[id]--
		c.mu.Unlock()
	}()
	if block != nil {
		c.entered <- id
		<-block
	}
	if err != nil {
		return nil, err
	}
	return c.Client.ExecuteWorkflow(ctx, opts, wf, args...)
}

func (c *faultyClient) SignalWorkflow(ctx context.Context, workflowID, runID, name string, arg any) error {
	c.mu.Lock()
	c.signals[workflowID]++
	err := c.failSignal[workflowID]
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return c.Client.SignalWorkflow(ctx, workflowID, runID, name, arg)
}

func (c *faultyClient) startCalls(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.starts[id]
}

func (c *faultyClient) signalCalls(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.signals[id]
}

var errPoisoned = errors.New("poisoned row: this call always fails")

// TestSweeperRepairsEachRowOnItsOwn: the oldest unstarted request cannot be started, the
// oldest unstarted draft has a source that does not parse, and a revoked approver's signal cannot be
// delivered to one request. One sweep still starts every other request and draft and signals every
// other request, and reports each poisoned row by id.
func TestSweeperRepairsEachRowOnItsOwn(t *testing.T) {
	f := newSweepFixture(t)
	ctx := context.Background()
	deadline := time.Now().Add(time.Hour)

	poisonedReq := f.request("poisoned request", f.approverID, deadline) // the oldest
	goodReqs := []storage.ApprovalRequest{f.request("request 2", f.approverID, deadline), f.request("request 3", f.approverID, deadline)}
	poisonedDraft := f.draft("poisoned draft", `"not a source object"`) // the oldest
	goodDraft := f.draft("good draft", `{"type":"saved_search","saved_search_id":"`+testenv.NewUUID()+`"}`)
	// Two started requests whose approver lost the right; the signal to the first one always fails.
	stuckSignal, goodSignal := f.request("signal fails", f.leaverID, deadline), f.request("signal ok", f.leaverID, deadline)
	f.startRequest(stuckSignal)
	f.startRequest(goodSignal)
	_, err := f.pool.Exec(ctx, `UPDATE users SET active = false WHERE id = $1`, f.leaverID)
	require.NoError(t, err)

	fc := newFaultyClient(f.tc)
	fc.failStart[workflows.ApprovalRequestWorkflowID(poisonedReq.ID)] = errPoisoned
	fc.failSignal[workflows.ApprovalRequestWorkflowID(stuckSignal.ID)] = errPoisoned

	n, err := workers.Sweep(ctx, fc, f.store, f.queue, 0)
	require.Error(t, err, "the poisoned rows must be reported")
	for _, id := range []string{poisonedReq.ID, poisonedDraft.ID, stuckSignal.ID} {
		assert.ErrorContains(t, err, id, "the failure names the row")
	}
	for _, r := range goodReqs {
		assert.True(t, f.requestStarted(r.ID), "request %s behind the poisoned one was not started", r.Note)
		st, _ := f.workflowStatus(workflows.ApprovalRequestWorkflowID(r.ID))
		assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, st)
	}
	assert.True(t, f.draftStarted(goodDraft.ID), "the draft behind the poisoned one was not started")
	assert.Equal(t, 1, fc.signalCalls(workflows.ApprovalRequestWorkflowID(goodSignal.ID)), "signals to the request behind the failing one")
	assert.False(t, f.requestStarted(poisonedReq.ID))
	assert.False(t, f.draftStarted(poisonedDraft.ID))
	assert.Equal(t, 4, n, "repaired: two requests started, one draft started, one request signalled")
}

// TestSweeperBacksOffAFailingRow: a row whose repair fails is logged with its id, left
// alone until its backoff (doubling with each failure) has run out, and repaired once it can be;
// the other rows are repaired at every pass meanwhile.
func TestSweeperBacksOffAFailingRow(t *testing.T) {
	f := newSweepFixture(t)
	ctx := context.Background()
	deadline := time.Now().Add(time.Hour)
	poisoned := f.request("poisoned request", f.approverID, deadline)
	poisonedID := workflows.ApprovalRequestWorkflowID(poisoned.ID)
	fc := newFaultyClient(f.tc)
	fc.failStart[poisonedID] = errPoisoned

	core, logs := observer.New(zapcore.InfoLevel)
	now := time.Now().Add(time.Hour) // the sweeper's clock, ahead of every row the test stores
	s := &workers.Sweeper{Client: fc, Store: f.store, TaskQueue: f.queue, Log: zap.New(core),
		MinBackoff: 10 * time.Second, MaxBackoff: time.Minute, Now: func() time.Time { return now }}
	failures := func() []observer.LoggedEntry {
		return logs.FilterField(zap.String("request_id", poisoned.ID)).FilterLevelExact(zapcore.WarnLevel).All()
	}

	// Pass 1: the poisoned row fails and is logged with its id; a request stored later is started.
	later := f.request("stored after the poisoned one", f.approverID, deadline)
	n, err := s.Pass(ctx)
	require.ErrorIs(t, err, errPoisoned)
	assert.Equal(t, 1, n)
	assert.True(t, f.requestStarted(later.ID))
	require.Len(t, failures(), 1, "one failure logged with the row id; logs: %v", logs.All())
	assert.Equal(t, 10*time.Second, failures()[0].ContextMap()["retry_in"], "first backoff")
	assert.Equal(t, 1, fc.startCalls(poisonedID))

	// Pass 2, before the backoff ran out: the row is left alone, the new row is repaired.
	now = now.Add(9 * time.Second)
	another := f.request("stored during the backoff", f.approverID, deadline)
	n, err = s.Pass(ctx)
	require.NoError(t, err, "a row backing off is not tried, so it does not fail the pass")
	assert.Equal(t, 1, n)
	assert.True(t, f.requestStarted(another.ID))
	assert.Equal(t, 1, fc.startCalls(poisonedID), "tried again before its backoff ran out")

	// Pass 3, after it: tried again, fails again, and waits twice as long.
	now = now.Add(2 * time.Second)
	_, err = s.Pass(ctx)
	require.ErrorIs(t, err, errPoisoned)
	assert.Equal(t, 2, fc.startCalls(poisonedID))
	require.Len(t, failures(), 2)
	assert.Equal(t, 20*time.Second, failures()[1].ContextMap()["retry_in"], "second backoff")
	assert.EqualValues(t, 2, failures()[1].ContextMap()["attempt"])

	// The fault clears; after the backoff the row is repaired.
	fc.mu.Lock()
	delete(fc.failStart, poisonedID)
	fc.mu.Unlock()
	now = now.Add(19 * time.Second)
	n, err = s.Pass(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "still backing off")
	now = now.Add(2 * time.Second)
	n, err = s.Pass(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.True(t, f.requestStarted(poisoned.ID), "repaired once its fault cleared")
	assert.Equal(t, 3, fc.startCalls(poisonedID))
}

// TestSweepersDoNotRepairTheSameRowAtOnce: while one worker's sweeper is starting a
// request's workflow, a second worker's sweeper passes that row by and repairs the others; no row is
// started twice.
func TestSweepersDoNotRepairTheSameRowAtOnce(t *testing.T) {
	f := newSweepFixture(t)
	ctx := context.Background()
	deadline := time.Now().Add(time.Hour)
	first := f.request("held by the first sweeper", f.approverID, deadline)
	second := f.request("free for either", f.approverID, deadline)
	firstID, secondID := workflows.ApprovalRequestWorkflowID(first.ID), workflows.ApprovalRequestWorkflowID(second.ID)

	fc := newFaultyClient(f.tc)
	release := make(chan struct{})
	fc.blockFirst[firstID] = release

	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := workers.Sweep(ctx, fc, f.store, f.queue, 0)
		done <- result{n, err}
	}()
	select {
	case id := <-fc.entered:
		require.Equal(t, firstID, id)
	case <-time.After(30 * time.Second):
		t.Fatal("the first sweeper never reached the first row")
	}

	// The second worker's sweep runs while the first is inside the first row's repair.
	n, err := workers.Sweep(ctx, fc, f.store, f.queue, 0)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the second sweeper repairs the row nobody holds")
	assert.Equal(t, 1, fc.startCalls(firstID), "the second sweeper started the row the first one holds")
	assert.True(t, f.requestStarted(second.ID))

	close(release)
	var a result
	select {
	case a = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the first sweeper never finished")
	}
	require.NoError(t, a.err)
	assert.Equal(t, 1, a.n, "the first sweeper repairs its row and finds the other one done")
	fc.mu.Lock()
	defer fc.mu.Unlock()
	assert.Equal(t, 1, fc.starts[firstID], "starts of the first row")
	assert.Equal(t, 1, fc.starts[secondID], "starts of the second row")
	assert.Equal(t, 1, fc.maxInFlight[firstID], "concurrent starts of the first row")
	assert.True(t, f.requestStarted(first.ID))
}

// TestSweeperRepairsClosedWorkflowWithPendingRow: a pending request whose workflow ended
// (here: terminated; a run that failed looks the same) gets a new run: one whose deadline is still
// ahead takes an approve, and one whose deadline passed while it had no workflow times out.
func TestSweeperRepairsClosedWorkflowWithPendingRow(t *testing.T) {
	f := newSweepFixture(t)
	ctx := context.Background()
	w := workers.New(f.tc, f.queue, &activities.Activities{Store: f.store, Log: testenv.Logger(t), AI: ai.NewPipeline(&ai.Local{}, nil)})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	open := f.request("deadline ahead", f.approverID, time.Now().Add(time.Hour))
	lapsed := f.request("deadline passes", f.approverID, time.Now().Add(2*time.Second))
	oldRuns := map[string]string{}
	for _, r := range []storage.ApprovalRequest{open, lapsed} {
		f.startRequest(r)
		id := workflows.ApprovalRequestWorkflowID(r.ID)
		st, run := f.workflowStatus(id)
		require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, st)
		oldRuns[r.ID] = run
		require.NoError(t, f.tc.TerminateWorkflow(ctx, id, "", "the workflow ends while the request is pending"))
	}
	for time.Now().Before(lapsed.DeadlineAt) { // the deadline passes while the request has no workflow
		time.Sleep(100 * time.Millisecond)
	}
	for _, r := range []storage.ApprovalRequest{open, lapsed} {
		cur, err := f.store.ApprovalRequest(ctx, f.accountID, r.ID)
		require.NoError(t, err)
		require.Equal(t, storage.RequestStatusPending, cur.Status, "the request is wedged: pending with no workflow")
	}

	n, err := workers.Sweep(ctx, f.tc, f.store, f.queue, 0)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "both wedged requests get a new run")
	for _, r := range []storage.ApprovalRequest{open, lapsed} {
		_, run := f.workflowStatus(workflows.ApprovalRequestWorkflowID(r.ID))
		assert.NotEqual(t, oldRuns[r.ID], run, "request %q: no new run", r.Note)
	}

	// The open request's new run takes a decision.
	h, err := f.tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: workflows.ApprovalRequestWorkflowID(open.ID),
		UpdateName: workflows.UpdateApprove, Args: []any{workflows.DecisionInput{ActorID: f.approverID, Note: "ok"}},
		WaitForStage: client.WorkflowUpdateStageCompleted})
	require.NoError(t, err)
	var approved storage.ApprovalRequest
	require.NoError(t, h.Get(ctx, &approved))
	assert.Equal(t, storage.RequestStatusApproved, approved.Status)

	// The lapsed request's new run times it out at once.
	var res string
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, f.tc.GetWorkflow(rctx, workflows.ApprovalRequestWorkflowID(lapsed.ID), "").Get(rctx, &res))
	assert.Equal(t, storage.RequestStatusTimedOut, res)
	cur, err := f.store.ApprovalRequest(ctx, f.accountID, lapsed.ID)
	require.NoError(t, err)
	assert.Equal(t, storage.RequestStatusTimedOut, cur.Status)

	var decisions int
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM approval_events WHERE request_id = ANY($1::uuid[])
		AND type IN ('approved','rejected','cancelled','timed_out','approver_expired','auto_approved')`,
		[]string{open.ID, lapsed.ID}).Scan(&decisions))
	assert.Equal(t, 2, decisions, "one decision event per request")

	n, err = workers.Sweep(ctx, f.tc, f.store, f.queue, 0)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing left to repair")
}
