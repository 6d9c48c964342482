package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/workflows"
)

// reminderEvery is the reminder interval of the requests of the reminders case: long enough that only
// the first reminder falls due while the case runs.
const reminderEvery = time.Hour

// reminderDeadline is how long after the first reminder the requests' deadline (and the floor's second
// timer) falls due: never while the case runs.
const reminderDeadline = 2 * time.Hour

const twoTimersWorkflowName = "BenchTwoTimers"

// twoTimersWorkflow holds two durable timers, due at first and at second, and ends when both have
// fired: the floor of the reminders case, a workflow with the timers of a pending request and no code.
func twoTimersWorkflow(ctx workflow.Context, first, second time.Time) error {
	now := workflow.Now(ctx)
	a := workflow.NewTimer(ctx, max(0, first.Sub(now)))
	b := workflow.NewTimer(ctx, max(0, second.Sub(now)))
	if err := a.Get(ctx, nil); err != nil {
		return err
	}
	return b.Get(ctx, nil)
}

// reminders measures R-ACT-2's timers at scale: n pending approval requests, each holding a reminder
// timer and a deadline timer, whose first reminders all fall due in the same second, against a floor
// of n no-op workflows holding two timers each, due at the same offsets, in the same run. For both: the
// worker process's memory per workflow while they wait (Go heap in use after a GC, and RSS), and how
// late the first timer fires (TimerFired in a sample of histories); for the requests also how late the
// reminder is recorded (the reminded event, every request). Each phase ends by terminating its workflows.
func (b *bench) reminders(ctx context.Context, n int) error {
	// Room for the starts and for the first workflow task of every workflow: under a burst of starts
	// some request workflows' first task waits about half a minute on this machine (see the note's
	// "first workflow task started"), and a reminder is only due once its timer is set.
	setupBudget := time.Duration(n)*40*time.Millisecond + 60*time.Second

	// The floor.
	heapBefore, rssBefore := heapInUse(), rss()
	due := time.Now().Add(setupBudget).UTC().Truncate(time.Second)
	floorIDs := make([]string, n)
	start := time.Now()
	if _, err := parallel(n, 16, func(i int) error {
		floorIDs[i] = testenv.NewName("two-timers-")
		_, err := b.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: floorIDs[i], TaskQueue: b.queue}, twoTimersWorkflowName,
			due, due.Add(reminderDeadline))
		return err
	}); err != nil {
		return err
	}
	floorSetup := time.Since(start)
	if time.Now().After(due.Add(-2 * time.Second)) {
		return fmt.Errorf("starting %d two-timer workflows took %s, past their due time; lower -reminders", n, floorSetup)
	}
	time.Sleep(time.Until(due) - 2*time.Second)
	floorHeap, floorRSS := heapInUse()-heapBefore, rss()-rssBefore
	cpuFrom := readCPU()
	floorFired, err := b.waitFired(ctx, floorIDs, due)
	if err != nil {
		return err
	}
	var floorCPU cpuTimes
	floorCPU.add(readCPU(), cpuFrom)
	if err := b.terminate(ctx, floorIDs); err != nil {
		return err
	}

	// What the reminders add to a pending request's memory: the same requests with reminders off
	// (their deadline timer only), measured once their first workflow tasks ran, then terminated.
	heapBefore, rssBefore = heapInUse(), rss()
	plainIDs := make([]string, n)
	if _, err := parallel(n, 16, func(i int) error {
		r, err := b.newPendingRequest(ctx, 300000+i, time.Now().Add(reminderDeadline), storage.RequestReminders{})
		if err != nil {
			return err
		}
		plainIDs[i] = workflows.ApprovalRequestWorkflowID(r.ID)
		return app.StartApprovalRequest(ctx, b.tc, b.queue, r, "bench")
	}); err != nil {
		return err
	}
	if err := b.waitFirstTasks(ctx, plainIDs); err != nil {
		return err
	}
	plainHeap, plainRSS := heapInUse()-heapBefore, rss()-rssBefore
	if err := b.terminate(ctx, plainIDs); err != nil {
		return err
	}

	// The approval requests: submitted (through the store, as the API does) with reminders every
	// reminderEvery counted so that the first one of every request falls due at due.
	heapBefore, rssBefore = heapInUse(), rss()
	due = time.Now().Add(setupBudget).UTC().Truncate(time.Second)
	ids := make([]string, n)
	reqIDs := make([]string, n)
	start = time.Now()
	if _, err := parallel(n, 16, func(i int) error {
		r, err := b.newPendingRequest(ctx, 200000+i, due.Add(reminderDeadline), storage.RequestReminders{ReminderAfter: reminderEvery})
		if err != nil {
			return err
		}
		in := app.RequestWorkflowInput(r)
		in.Reminders.From = due.Add(-reminderEvery)
		reqIDs[i], ids[i] = r.ID, workflows.ApprovalRequestWorkflowID(r.ID)
		return workflows.StartApprovalRequest(ctx, b.tc, b.queue, in, app.RequestRunView(r, "bench"))
	}); err != nil {
		return err
	}
	setup := time.Since(start)
	if time.Now().After(due.Add(-2 * time.Second)) {
		return fmt.Errorf("setting up %d requests took %s, past their first reminder; lower -reminders", n, setup)
	}
	time.Sleep(time.Until(due) - 2*time.Second)
	reqHeap, reqRSS := heapInUse()-heapBefore, rss()-rssBefore
	cpuFrom = readCPU()
	var recorded int
	for limit := due.Add(5 * time.Minute); time.Now().Before(limit); time.Sleep(500 * time.Millisecond) {
		if err := b.store.Pool.QueryRow(ctx, `SELECT count(*) FROM approval_events WHERE type = 'reminded' AND request_id = ANY($1::uuid[])`,
			reqIDs).Scan(&recorded); err != nil {
			return err
		}
		if recorded == n {
			break
		}
	}
	var reqCPU cpuTimes
	reqCPU.add(readCPU(), cpuFrom)
	rows2, err := b.store.Pool.Query(ctx, `SELECT (extract(epoch FROM at - $2::timestamptz) * 1000000)::bigint FROM approval_events
		WHERE type = 'reminded' AND request_id = ANY($1::uuid[])`, reqIDs, due)
	if err != nil {
		return err
	}
	var late []time.Duration
	for rows2.Next() {
		var us int64
		if err := rows2.Scan(&us); err != nil {
			return err
		}
		late = append(late, time.Duration(us)*time.Microsecond)
	}
	rows2.Close()
	reqFired, err := b.waitFired(ctx, ids, due)
	if err != nil {
		return err
	}
	if os.Getenv("BENCH_TRACE") != "" {
		traced := 0
		for _, id := range ids {
			if traced < 3 && !b.timerFired(ctx, id) {
				b.trace(ctx, id, time.Time{})
				traced++
			}
		}
	}
	if err := b.terminate(ctx, ids); err != nil {
		return err
	}

	perKiB := func(bytes int64) float64 { return float64(bytes) / 1024 / float64(n) }
	rows = append(rows,
		withNote(firedRow(fmt.Sprintf("floor: %d no-op workflows holding two timers, first due together", n), floorFired),
			"from 2s before due until the sample fired: "+floorCPU.perOp(n)),
		row{Name: fmt.Sprintf("%d reminder timers due together (requests also holding a deadline timer)", n) + ": timer fired late by",
			N: len(reqFired.late), Median: median(reqFired.late), P99: pct(reqFired.late, 99),
			Baseline: fmt.Sprintf("floor %s / %s", fmtD(median(floorFired.late)), fmtD(pct(floorFired.late, 99))),
			Ratio:    ratio(pct(reqFired.late, 99), pct(floorFired.late, 99)), Target: "p99 ≤ 1.2× floor",
			Met: met(pct(reqFired.late, 99) <= pct(floorFired.late, 99)*6/5),
			Note: fmt.Sprintf("median %.2f× the floor's; max %s (sample); %d workflow tasks timed out in the sample (floor %d); "+
				"first workflow task started %s after the start (median), %s (max)",
				ratio(median(reqFired.late), median(floorFired.late)), fmtD(pct(reqFired.late, 100)), reqFired.taskTimeouts, floorFired.taskTimeouts,
				fmtD(median(reqFired.firstTask)), fmtD(pct(reqFired.firstTask, 100)))},
		row{Name: fmt.Sprintf("%d reminder timers due together: reminder recorded late by", n), N: len(late),
			Median: median(late), P99: pct(late, 99), Baseline: "due time", Target: "—", Met: "—",
			Note: fmt.Sprintf("max %s; %d/%d reminded; setup %s (floor %s); from 2s before due until all were recorded: %s", fmtD(pct(late, 100)), len(late), n,
				setup.Round(time.Second), floorSetup.Round(time.Second), reqCPU.perOp(n))},
		row{Name: fmt.Sprintf("%d pending requests with a reminder and a deadline timer: worker memory per request", n), N: n,
			Baseline: fmt.Sprintf("floor %.1f KiB heap, %.1f KiB RSS", perKiB(floorHeap), perKiB(floorRSS)),
			Ratio:    float64(reqHeap) / float64(max(floorHeap, 1)), Target: "—", Met: "—",
			Note: fmt.Sprintf("%.1f KiB Go heap live after GC, %.1f KiB process RSS (worker+API+bench) per request; ratio of heap. "+
				"Reminders off (deadline timer only): %.1f KiB heap, %.1f KiB RSS", perKiB(reqHeap), perKiB(reqRSS), perKiB(plainHeap), perKiB(plainRSS))},
	)
	return nil
}

// withNote is r with more appended to its note.
func withNote(r row, more string) row {
	r.Note += "; " + more
	return r
}

// newPendingRequest stores a pending request (through the store, as the API does) of a new campaign
// numbered i, to the bench's approver, due at deadline, with reminders rm.
func (b *bench) newPendingRequest(ctx context.Context, i int, deadline time.Time, rm storage.RequestReminders) (storage.ApprovalRequest, error) {
	c, err := b.newRequestCampaign(ctx, i)
	if err != nil {
		return storage.ApprovalRequest{}, err
	}
	return b.store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: b.acct.ID,
		CampaignID: c.ID, SubmittedBy: b.users[storage.RoleCollaborator].ID, ApproverIDs: []string{b.users[storage.RoleApprover].ID},
		DeadlineAt: deadline, Reminders: rm})
}

// waitFirstTasks waits (up to 5 minutes) until the first workflow task of each of a sample of the
// workflows ids has completed, then a few seconds more for the rest.
func (b *bench) waitFirstTasks(ctx context.Context, ids []string) error {
	step := max(1, len(ids)/50)
	for limit := time.Now().Add(5 * time.Minute); time.Now().Before(limit); time.Sleep(2 * time.Second) {
		done := true
		for i := 0; i < len(ids) && done; i += step {
			d, err := b.tc.DescribeWorkflowExecution(ctx, ids[i], "")
			if err != nil {
				return err
			}
			done = d.WorkflowExecutionInfo.GetHistoryLength() > 3 // started, task scheduled, task started: not yet
		}
		if done {
			time.Sleep(5 * time.Second)
			return nil
		}
	}
	return fmt.Errorf("the first workflow tasks of %d workflows did not all run within 5 minutes", len(ids))
}

// waitFired waits (up to 5 minutes) until the first timer of each sampled workflow of ids has fired,
// then answers firedLateness's sample.
func (b *bench) waitFired(ctx context.Context, ids []string, due time.Time) (firedSample, error) {
	want := (len(ids) + max(1, len(ids)/200) - 1) / max(1, len(ids)/200)
	limit := time.Now().Add(5 * time.Minute)
	for {
		time.Sleep(time.Until(due.Add(2 * time.Second)))
		s, err := b.firedLateness(ctx, ids, due)
		if err != nil || len(s.late) >= want || time.Now().After(limit) {
			return s, err
		}
		time.Sleep(2 * time.Second)
	}
}

// timerFired says whether a timer of workflow id has fired.
func (b *bench) timerFired(ctx context.Context, id string) bool {
	it := b.tc.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return false
		}
		if ev.EventType == enumspb.EVENT_TYPE_TIMER_FIRED {
			return true
		}
	}
	return false
}

// terminate ends the workflows ids, so the next phase starts with an empty worker cache.
func (b *bench) terminate(ctx context.Context, ids []string) error {
	_, err := parallel(len(ids), 16, func(i int) error {
		return b.tc.TerminateWorkflow(ctx, ids[i], "", "bench: phase over")
	})
	return err
}

// heapInUse is the Go heap's live bytes after a garbage collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
