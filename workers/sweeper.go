package workers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

// Sweeper repairs what a crash between a database commit and a Temporal call, or a workflow that
// ended while its request was still pending, left behind. It reads the database: it starts the
// workflow of every pending request and processing draft whose start was never recorded, repeats
// the signals for revoked approvers and disabled accounts, and starts a new run for every pending
// request whose workflow no longer runs. Each row is repaired on its own, under a lock
// no other worker holds at the same time (storage.WithRepairLock); a row whose repair fails is
// logged with its id and tried again after a backoff that doubles with each failure, while the
// other rows go on. One Sweeper serves one worker process; its methods are safe for concurrent use.
type Sweeper struct {
	// Client starts, signals and describes the workflows.
	Client client.Client
	// Store is the database the sweeper reads the rows to repair from.
	Store *storage.Store
	// TaskQueue is where the workflows it starts run.
	TaskQueue string
	// Log receives a line per repair and per failure; nil logs nothing.
	Log *zap.Logger
	// Grace is how old an unstarted request or draft must be before the sweeper starts it (the API
	// may be starting it right now), and how long a pending request may be past its deadline before
	// its workflow is checked ahead of the round robin.
	Grace time.Duration
	// CheckBatch is how many pending requests one pass checks, round robin, for a running workflow;
	// 0 checks every one.
	CheckBatch int
	// MinBackoff and MaxBackoff bound the wait before a row whose repair failed is tried again
	// (defaults 10 s and 10 min).
	MinBackoff, MaxBackoff time.Duration
	// RowTimeout bounds the repair of one row (default 30 s), so that a call that hangs holds up no
	// other row for long.
	RowTimeout time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time

	mu      sync.Mutex
	failing map[rowKey]*rowFailure
	cursor  string // the last request id the round robin checked; "" starts from the first
}

// rowKey names a row the sweeper repairs: kind "request" or "draft", and its id.
type rowKey struct{ kind, id string }

func (k rowKey) String() string { return k.kind + ":" + k.id }

// rowFailure is the backoff state of a row whose repairs keep failing.
type rowFailure struct {
	attempts int
	retryAt  time.Time
}

// Sweep makes one pass with a fresh Sweeper (no backoff carried over, every pending request
// checked) and returns how many rows it repaired, with the failures of the rows it could not repair.
func Sweep(ctx context.Context, c client.Client, store *storage.Store, taskQueue string, olderThan time.Duration) (int, error) {
	s := &Sweeper{Client: c, Store: store, TaskQueue: taskQueue, Grace: olderThan}
	return s.Pass(ctx)
}

// RunSweeper runs a Sweeper every interval until ctx ends: rows younger than interval are left to
// the API, 100 pending requests are checked per pass, and a failing row waits from interval up to
// 10 minutes before its next try.
func RunSweeper(ctx context.Context, c client.Client, store *storage.Store, taskQueue string, interval time.Duration, log *zap.Logger) {
	s := &Sweeper{Client: c, Store: store, TaskQueue: taskQueue, Log: log, Grace: interval, CheckBatch: 100,
		MinBackoff: interval, MaxBackoff: max(10*time.Minute, interval)}
	s.Run(ctx, interval)
}

// Run makes a pass every interval until ctx ends. Failures are logged as they happen, by Pass.
func (s *Sweeper) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, _ := s.Pass(ctx); n > 0 {
			s.log().Info("sweeper repaired approval workflows", zap.Int("count", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Pass repairs every row that needs it, each on its own, and returns how many it repaired (workflows
// started or signalled) with the failures joined: a row that fails is logged and backs off, and the
// pass goes on with the next one.
func (s *Sweeper) Pass(ctx context.Context) (int, error) {
	p := &pass{s: s, checked: map[string]bool{}}
	p.unstartedRequests(ctx)
	p.unstartedDrafts(ctx)
	p.staleAssignments(ctx)
	p.disabledAccounts(ctx)
	p.overdueRequests(ctx)
	p.roundRobin(ctx)
	return p.n, errors.Join(p.errs...)
}

// pass is one pass of a Sweeper.
type pass struct {
	s         *Sweeper
	n         int
	errs      []error
	listError bool            // a list could not be read: logged once per pass
	checked   map[string]bool // requests whose workflow this pass has already checked
}

// listFailed records a list the pass could not read (the database is down, say): the rows it
// would have named wait for the next pass. Only the first such failure of a pass is logged: while
// the database is down every list fails alike.
func (p *pass) listFailed(ctx context.Context, err error) {
	p.errs = append(p.errs, err)
	if ctx.Err() == nil && !p.listError {
		p.s.log().Warn("sweeper: cannot list rows to repair; trying again next pass", zap.Error(err))
	}
	p.listError = true
}

func (p *pass) unstartedRequests(ctx context.Context) {
	keys, err := p.s.Store.UnstartedRequests(ctx, p.s.now().Add(-p.s.Grace), p.s.backingOff("request"))
	if err != nil {
		p.listFailed(ctx, err)
		return
	}
	for _, k := range keys {
		p.repair(ctx, rowKey{"request", k.ID}, "start workflow", func(ctx context.Context) (bool, error) {
			// Read again under the lock: another worker may have started it since the list was read.
			status, started, err := p.s.Store.RequestWorkflowState(ctx, k.AccountID, k.ID)
			if errors.Is(err, storage.ErrNotFound) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			if status != storage.RequestStatusPending || started {
				return false, nil
			}
			r, err := p.s.Store.ApprovalRequest(ctx, k.AccountID, k.ID)
			if err != nil {
				return false, err
			}
			if err := app.StartApprovalRequest(ctx, p.s.Client, p.s.TaskQueue, r, p.s.campaignName(ctx, r.AccountID, r.CampaignID)); err != nil {
				return false, err
			}
			if err := p.s.Store.MarkWorkflowStarted(ctx, k.ID); err != nil {
				return false, err
			}
			p.checked[k.ID] = true
			p.s.log().Info("sweeper: started the workflow of a request whose start was lost", zap.String("approval_request_id", k.ID))
			return true, nil
		})
	}
}

func (p *pass) unstartedDrafts(ctx context.Context) {
	drafts, err := p.s.Store.UnstartedDrafts(ctx, p.s.now().Add(-p.s.Grace))
	if err != nil {
		p.listFailed(ctx, err)
		return
	}
	for _, d := range drafts {
		p.repair(ctx, rowKey{"draft", d.ID}, "start build", func(ctx context.Context) (bool, error) {
			if err := app.StartApprovalDraft(ctx, p.s.Client, p.s.TaskQueue, d, p.s.campaignName(ctx, d.AccountID, d.CampaignID)); err != nil {
				return false, err
			}
			if err := p.s.Store.MarkDraftWorkflowStarted(ctx, d.ID); err != nil {
				return false, err
			}
			p.s.log().Info("sweeper: started the build of a draft whose start was lost", zap.String("draft_id", d.ID))
			return true, nil
		})
	}
}

func (p *pass) staleAssignments(ctx context.Context) {
	stale, err := p.s.Store.StaleAssignments(ctx, p.s.backingOff("request"))
	if err != nil {
		p.listFailed(ctx, err)
		return
	}
	for _, a := range stale {
		k := storage.RequestKey{AccountID: a.AccountID, ID: a.RequestID}
		p.repair(ctx, rowKey{"request", a.RequestID}, "signal "+workflows.SignalApproverRevoked, func(ctx context.Context) (bool, error) {
			return p.signal(ctx, k, workflows.SignalApproverRevoked, workflows.ApproverRevokedSignal{UserID: a.UserID})
		})
	}
}

func (p *pass) disabledAccounts(ctx context.Context) {
	keys, err := p.s.Store.PendingInDisabledAccounts(ctx, p.s.backingOff("request"))
	if err != nil {
		p.listFailed(ctx, err)
		return
	}
	for _, k := range keys {
		p.repair(ctx, rowKey{"request", k.ID}, "signal "+workflows.SignalApprovalsDisabled, func(ctx context.Context) (bool, error) {
			return p.signal(ctx, k, workflows.SignalApprovalsDisabled, nil)
		})
	}
}

// overdueRequests checks first the workflows of the requests past their deadline: a workflow that
// ended early leaves exactly those pending for good.
func (p *pass) overdueRequests(ctx context.Context) {
	keys, err := p.s.Store.OverdueRequests(ctx, p.s.now().Add(-p.s.Grace), p.s.backingOff("request"))
	if err != nil {
		p.listFailed(ctx, err)
		return
	}
	p.check(ctx, keys)
}

// roundRobin checks the workflows of the pending requests, CheckBatch per pass from where the last
// pass stopped (all of them when CheckBatch is 0), so that every one is checked in turn.
func (p *pass) roundRobin(ctx context.Context) {
	const page = 500
	batch := p.s.CheckBatch
	p.s.mu.Lock()
	after := p.s.cursor
	p.s.mu.Unlock()
	if batch <= 0 {
		batch, after = page, ""
	}
	for {
		keys, err := p.s.Store.StartedPendingRequests(ctx, after, batch, p.s.backingOff("request"))
		if err != nil {
			p.listFailed(ctx, err)
			return
		}
		p.check(ctx, keys)
		if len(keys) < batch {
			after = "" // the end: the next pass starts again from the first
		} else {
			after = keys[len(keys)-1].ID
		}
		if p.s.CheckBatch > 0 || after == "" || ctx.Err() != nil {
			break
		}
	}
	p.s.mu.Lock()
	p.s.cursor = after
	p.s.mu.Unlock()
}

// check makes sure each request's workflow runs, once per pass.
func (p *pass) check(ctx context.Context, keys []storage.RequestKey) {
	for _, k := range keys {
		if p.checked[k.ID] {
			continue
		}
		p.checked[k.ID] = true
		p.repair(ctx, rowKey{"request", k.ID}, "check workflow", func(ctx context.Context) (bool, error) {
			return p.restartIfClosed(ctx, k)
		})
	}
}

// signal sends a signal to a request's workflow; a workflow that no longer runs gets a new run
// instead (the next pass signals that one).
func (p *pass) signal(ctx context.Context, k storage.RequestKey, name string, arg any) (bool, error) {
	err := p.s.Client.SignalWorkflow(ctx, workflows.ApprovalRequestWorkflowID(k.ID), "", name, arg)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		p.checked[k.ID] = true
		return p.restartIfClosed(ctx, k)
	}
	if err != nil {
		return false, fmt.Errorf("signal %s: %w", name, err)
	}
	return true, nil
}

// restartIfClosed starts a new run of a pending request whose workflow no longer runs (it failed,
// was terminated, or is gone), and reports whether it did.
func (p *pass) restartIfClosed(ctx context.Context, k storage.RequestKey) (bool, error) {
	desc, err := p.s.Client.DescribeWorkflowExecution(ctx, workflows.ApprovalRequestWorkflowID(k.ID), "")
	closed := "missing"
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
	case err != nil:
		return false, fmt.Errorf("describe workflow: %w", err)
	default:
		st := desc.GetWorkflowExecutionInfo().GetStatus()
		if st == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return false, nil
		}
		closed = strings.ToLower(strings.TrimPrefix(st.String(), "WORKFLOW_EXECUTION_STATUS_"))
	}
	// Read the row after seeing the workflow closed: a workflow ends only after its decision is
	// committed, so a row still pending now has no workflow left to decide it.
	status, _, err := p.s.Store.RequestWorkflowState(ctx, k.AccountID, k.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if status != storage.RequestStatusPending {
		return false, nil
	}
	r, err := p.s.Store.ApprovalRequest(ctx, k.AccountID, k.ID)
	if err != nil {
		return false, err
	}
	if err := app.RestartApprovalRequest(ctx, p.s.Client, p.s.TaskQueue, r, p.s.campaignName(ctx, r.AccountID, r.CampaignID)); err != nil {
		return false, err
	}
	p.s.log().Warn("sweeper: the workflow of a pending request was no longer running; started a new run",
		zap.String("approval_request_id", k.ID), zap.String("previous_run", closed))
	return true, nil
}

// repair runs fn for one row under the row's repair lock, unless the row is backing off or another
// worker holds the lock; fn reports whether it repaired anything. A failure is logged with the row
// id, and the row backs off.
func (p *pass) repair(ctx context.Context, key rowKey, what string, fn func(ctx context.Context) (bool, error)) {
	if ctx.Err() != nil || p.s.isBackingOff(key) {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, p.s.rowTimeout())
	defer cancel()
	var repaired bool
	locked, err := p.s.Store.WithRepairLock(rctx, key.String(), func() error {
		var err error
		repaired, err = fn(rctx)
		return err
	})
	switch {
	case err != nil && ctx.Err() != nil:
		// Shutting down: not the row's fault.
	case err != nil:
		p.errs = append(p.errs, fmt.Errorf("%s: %s: %w", key, what, err))
		p.s.failed(key, what, err)
	case !locked:
		p.s.log().Debug("sweeper: another worker is repairing this row", zap.String(key.kind+"_id", key.id))
	default:
		p.s.succeeded(key)
		if repaired {
			p.n++
		}
	}
}

// failed records a failed repair of key and logs it with the row id and when it is tried again.
func (s *Sweeper) failed(key rowKey, what string, err error) {
	s.mu.Lock()
	if s.failing == nil {
		s.failing = map[rowKey]*rowFailure{}
	}
	f := s.failing[key]
	if f == nil {
		f = &rowFailure{}
		s.failing[key] = f
	}
	f.attempts++
	wait := s.backoff(f.attempts)
	f.retryAt = s.now().Add(wait)
	attempts := f.attempts
	s.mu.Unlock()
	s.log().Warn("sweeper: repair failed; the other rows go on, this one is tried again after a backoff",
		zap.String(key.kind+"_id", key.id), zap.String("repair", what), zap.Int("attempt", attempts),
		zap.Duration("retry_in", wait), zap.Error(err))
}

// succeeded forgets the failures of key.
func (s *Sweeper) succeeded(key rowKey) {
	s.mu.Lock()
	f := s.failing[key]
	delete(s.failing, key)
	s.mu.Unlock()
	if f != nil {
		s.log().Info("sweeper: repaired a row that had failed", zap.String(key.kind+"_id", key.id), zap.Int("failed_attempts", f.attempts))
	}
}

// backoff is the wait after the n-th failure in a row: MinBackoff doubled n-1 times, at most MaxBackoff.
func (s *Sweeper) backoff(n int) time.Duration {
	lo, hi := s.MinBackoff, s.MaxBackoff
	if lo <= 0 {
		lo = 10 * time.Second
	}
	if hi <= 0 {
		hi = 10 * time.Minute
	}
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

// isBackingOff reports whether key failed and its backoff has not run out.
func (s *Sweeper) isBackingOff(key rowKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.failing[key]
	return f != nil && s.now().Before(f.retryAt)
}

// backingOff lists the ids of the rows of kind that are backing off, for the lists to leave out.
func (s *Sweeper) backingOff(kind string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var ids []string
	for k, f := range s.failing {
		if k.kind == kind && now.Before(f.retryAt) {
			ids = append(ids, k.id)
		}
	}
	return ids
}

func (s *Sweeper) rowTimeout() time.Duration {
	if s.RowTimeout > 0 {
		return s.RowTimeout
	}
	return 30 * time.Second
}

func (s *Sweeper) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// campaignName is the name of campaign id for the Temporal UI's summary of a run the sweeper starts;
// "" (the summary shows the id) when it cannot be read.
func (s *Sweeper) campaignName(ctx context.Context, accountID, id string) string {
	c, err := s.Store.Campaign(ctx, accountID, id)
	if err != nil {
		s.log().Warn("sweeper: campaign name unreadable; the run's summary shows its id", zap.String("campaign_id", id), zap.Error(err))
		return ""
	}
	return c.Name
}

func (s *Sweeper) log() *zap.Logger {
	if s.Log == nil {
		return zap.NewNop()
	}
	return s.Log
}
