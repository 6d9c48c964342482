package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/workflows"
)

// drafts measures Ask → ready and Ask → all leads personalised for 20 and 100 contacts against the
// floor of a no-op workflow of six local activities.
func (b *bench) drafts(ctx context.Context, n int) error {
	var fl []time.Duration
	for i := 0; i < n; i++ {
		t := time.Now()
		run, err := b.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: testenv.NewName("floor-"), TaskQueue: b.queue}, floorWorkflow)
		if err != nil {
			return err
		}
		if err := run.Get(ctx, nil); err != nil {
			return err
		}
		fl = append(fl, time.Since(t))
	}
	floorMed := median(fl)
	rows = append(rows, row{Name: "floor: no-op workflow of 6 local activities", N: n, Median: floorMed, P99: pct(fl, 99), Baseline: "—", Target: "—", Met: "—"})

	ready := map[int][]time.Duration{}
	done := map[int][]time.Duration{}
	for _, size := range []int{20, 100} {
		for i := 0; i < n; i++ {
			t := time.Now()
			var d struct{ ID string }
			if _, err := b.call("POST", "/v1/campaigns/"+b.camp.ID+"/approval-drafts", storage.RoleCSM, map[string]any{
				"source": map[string]any{"type": "saved_search", "saved_search_id": b.search.ID}, "contact_count": size}, &d); err != nil {
				return err
			}
			var readyAt, doneAt *time.Time
			deadline := time.Now().Add(2 * time.Minute)
			for doneAt == nil {
				var status string
				if err := b.store.Pool.QueryRow(ctx, `SELECT status, ready_at, ai_done_at FROM approval_drafts WHERE id = $1`, d.ID).
					Scan(&status, &readyAt, &doneAt); err != nil {
					return err
				}
				if status == storage.DraftStatusFailed {
					return fmt.Errorf("draft %s failed", d.ID)
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("draft %s not done within 2 minutes", d.ID)
				}
				time.Sleep(2 * time.Millisecond)
			}
			// BENCH_TRACE=1 prints each build's figures and the last build's history timeline.
			if os.Getenv("BENCH_TRACE") != "" {
				fmt.Printf("draft %d: ready %s, done %s\n", size, readyAt.Sub(t), doneAt.Sub(t))
				if i == n-1 {
					b.trace(ctx, "approval-draft/"+d.ID, t)
				}
			}
			ready[size] = append(ready[size], readyAt.Sub(t))
			done[size] = append(done[size], doneAt.Sub(t))
		}
	}
	for _, size := range []int{20, 100} {
		r := ratio(median(ready[size]), floorMed)
		rows = append(rows, row{Name: fmt.Sprintf("draft %d contacts: Ask → ready", size), N: n, Median: median(ready[size]), P99: pct(ready[size], 99),
			Baseline: "floor " + fmtD(floorMed), Ratio: r, Target: "≤ 4× floor", Met: met(r <= 4)})
		rows = append(rows, row{Name: fmt.Sprintf("draft %d contacts: Ask → all leads personalised", size), N: n, Median: median(done[size]), P99: pct(done[size], 99),
			Baseline: "floor " + fmtD(floorMed), Ratio: ratio(median(done[size]), floorMed), Target: "—", Met: "—"})
	}
	r := ratio(median(done[100]), median(done[20]))
	rows = append(rows, row{Name: "draft 100 vs 20 contacts (Ask → all personalised)", N: n, Median: median(done[100]), Baseline: "20 contacts " + fmtD(median(done[20])),
		Ratio: r, Target: "≤ 1.5×", Met: met(r <= 1.5)})
	return nil
}

// newRequestCampaign makes a campaign that may be submitted: active, starting in an hour.
func (b *bench) newRequestCampaign(ctx context.Context, i int) (storage.Campaign, error) {
	start := time.Now().Add(time.Hour).UTC()
	end := start.Add(24 * time.Hour)
	return b.store.CreateCampaign(ctx, b.acct.ID, b.users[storage.RoleCollaborator].ID, storage.NewCampaign{
		Name: "Bench " + strconv.Itoa(i), Kind: storage.CampaignKindCampaign, Mode: storage.CampaignModeActive, StartAt: &start, EndAt: &end})
}

// decisions measures POST …/approve against a bare Update round trip on a no-op workflow, at 1 and
// 32 concurrent requests, and, to split the difference, the approve Update sent straight to
// other requests' workflows (no HTTP API). The three alternate in rounds of 8 calls (one at a time)
// or of one wave of conc calls, so all see the same machine: it is shared and its speed drifts.
func (b *bench) decisions(ctx context.Context, n int) error {
	for _, conc := range []int{1, 32} {
		// Baseline: one no-op workflow per call, each updated once; and one request per approve, n of
		// them approved over HTTP (reqs[:n]) and n by the Update alone (reqs[n:]).
		ids := make([]string, n)
		for i := range ids {
			ids[i] = testenv.NewName("noop-")
			if _, err := b.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: ids[i], TaskQueue: b.queue}, noopWorkflow); err != nil {
				return err
			}
		}
		if err := b.pgStatsReset(ctx); err != nil {
			return err
		}
		reqs := make([]string, 2*n)
		wfIDs := make([]string, 2*n)
		for i := range reqs {
			c, err := b.newRequestCampaign(ctx, i)
			if err != nil {
				return err
			}
			var r struct{ ID string }
			if _, err := b.call("POST", "/v1/campaigns/"+c.ID+"/approval-requests", storage.RoleCollaborator,
				map[string]any{"approver_ids": []string{b.users[storage.RoleApprover].ID}}, &r); err != nil {
				return err
			}
			reqs[i], wfIDs[i] = r.ID, workflows.ApprovalRequestWorkflowID(r.ID)
		}
		if err := b.settle(ctx, append(slices.Clone(ids), wfIDs...)); err != nil {
			return err
		}

		bareOne := func(i int) error {
			h, err := b.tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: ids[i], UpdateName: noopUpdate, Args: []any{i},
				WaitForStage: client.WorkflowUpdateStageCompleted})
			if err != nil {
				return err
			}
			return h.Get(ctx, nil)
		}
		approveOne := func(i int) error {
			_, err := b.call("POST", "/v1/approval-requests/"+reqs[i]+"/approve", storage.RoleApprover, map[string]any{"note": "ok"}, nil)
			return err
		}
		directOne := func(i int) error {
			h, err := b.tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: wfIDs[n+i], UpdateName: workflows.UpdateApprove,
				Args: []any{workflows.DecisionInput{ActorID: b.users[storage.RoleApprover].ID, Note: "ok"}}, WaitForStage: client.WorkflowUpdateStageCompleted})
			if err != nil {
				return err
			}
			return h.Get(ctx, nil)
		}
		round := max(8, conc)
		var bare, lat, direct []time.Duration
		var bareCPU, approveCPU, directCPU cpuTimes
		for from := 0; from < n; from += round {
			k := min(round, n-from)
			for _, side := range []struct {
				fn  func(int) error
				out *[]time.Duration
				cpu *cpuTimes
			}{{bareOne, &bare, &bareCPU}, {approveOne, &lat, &approveCPU}, {directOne, &direct, &directCPU}} {
				cpu0 := readCPU()
				d, err := parallel(k, conc, func(i int) error { return side.fn(from + i) })
				if err != nil {
					return err
				}
				*side.out = append(*side.out, d...)
				side.cpu.add(readCPU(), cpu0)
			}
		}
		for _, id := range ids {
			_ = b.tc.SignalWorkflow(ctx, id, "", "stop", nil)
		}
		if err := b.pgStatsPrint(ctx, fmt.Sprintf("setup and decisions, %d concurrent", conc)); err != nil {
			return err
		}
		if os.Getenv("BENCH_TRACE") != "" {
			fmt.Printf("%d bare Updates, %d concurrent: %s\n", n, conc, bareCPU)
			fmt.Printf("%d approves, %d concurrent: %s\n", n, conc, approveCPU)
			b.trace(ctx, ids[n-1], time.Time{})
			b.trace(ctx, wfIDs[n-1], time.Time{})
		}
		if conc == 1 {
			if err := b.decisionParts(ctx, n, reqs); err != nil {
				return err
			}
		}
		r := ratio(median(lat), median(bare))
		rows = append(rows, row{Name: fmt.Sprintf("bare Update round trip, %d concurrent", conc), N: n, Median: median(bare), P99: pct(bare, 99), Baseline: "—", Target: "—", Met: "—",
			Note: bareCPU.perOp(n)})
		rows = append(rows, row{Name: fmt.Sprintf("part: the approve Update alone (no HTTP API), %d concurrent", conc), N: n, Median: median(direct), P99: pct(direct, 99),
			Baseline: "bare Update " + fmtD(median(bare)), Ratio: ratio(median(direct), median(bare)), Target: "—", Met: "—", Note: directCPU.perOp(n)})
		rows = append(rows, row{Name: fmt.Sprintf("POST …/approve → answer, %d concurrent", conc), N: n, Median: median(lat), P99: pct(lat, 99),
			Baseline: "bare Update " + fmtD(median(bare)), Ratio: r, Target: "median ≤ 1.5× bare", Met: met(r <= 1.5), Note: approveCPU.perOp(n)})
	}
	return nil
}

// settle waits until every workflow of ids has finished its first workflow task, so a decision
// meets a request that is waiting for it (as in real use, minutes or days after submission) rather
// than one still starting.
func (b *bench) settle(ctx context.Context, ids []string) error {
	deadline := time.Now().Add(time.Minute)
	for _, id := range ids {
		for {
			d, err := b.tc.DescribeWorkflowExecution(ctx, id, "")
			if err != nil {
				return err
			}
			if d.PendingWorkflowTask == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("workflow %s still has a pending workflow task", id)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// decisionParts measures, one at a time, the parts of a decision outside Temporal: the API's reads
// (GET of a request: authentication, the request, its campaign) and the decision's transaction
// alone (Store.Decide on requests that have no workflow).
func (b *bench) decisionParts(ctx context.Context, n int, decided []string) error {
	reads, err := parallel(n, 1, func(i int) error {
		_, err := b.call("GET", "/v1/approval-requests/"+decided[i], storage.RoleApprover, nil, nil)
		return err
	})
	if err != nil {
		return err
	}
	ids := make([]string, n)
	for i := range ids {
		c, err := b.newRequestCampaign(ctx, 200000+i)
		if err != nil {
			return err
		}
		r, err := b.store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: b.acct.ID,
			CampaignID: c.ID, SubmittedBy: b.users[storage.RoleCollaborator].ID,
			ApproverIDs: []string{b.users[storage.RoleApprover].ID}, DeadlineAt: time.Now().Add(time.Hour)})
		if err != nil {
			return err
		}
		ids[i] = r.ID
	}
	actor := b.users[storage.RoleApprover].ID
	tx, err := parallel(n, 1, func(i int) error {
		_, err := b.store.Decide(ctx, b.acct.ID, storage.Decision{RequestID: ids[i], Type: storage.EventApproved, ActorID: &actor, Note: "ok"})
		return err
	})
	if err != nil {
		return err
	}
	rows = append(rows, row{Name: "part: API reads of a decision (GET request), 1 concurrent", N: n, Median: median(reads), P99: pct(reads, 99),
		Baseline: "—", Target: "—", Met: "—"})
	rows = append(rows, row{Name: "part: decision transaction alone (Store.Decide), 1 concurrent", N: n, Median: median(tx), P99: pct(tx, 99),
		Baseline: "—", Target: "—", Met: "—"})
	return nil
}

// timers measures deadline timers when n are due at one instant: first the floor, n no-op
// workflows that each wait for one timer and end; then n pending approval requests whose deadline
// timers all fall due together, with the worker's memory while they wait. For both: how late the
// timers fire (TimerFired in a sample of histories) and how late each outcome is recorded (the
// workflow's close, or the request's timed_out row).
func (b *bench) timers(ctx context.Context, n int) error {
	setupBudget := time.Duration(n)*20*time.Millisecond + 30*time.Second

	// The floor.
	due := time.Now().Add(setupBudget).UTC().Truncate(time.Second)
	floorIDs := make([]string, n)
	setupStart := time.Now()
	if _, err := parallel(n, 16, func(i int) error {
		floorIDs[i] = testenv.NewName("timer-")
		_, err := b.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: floorIDs[i], TaskQueue: b.queue}, timerWorkflow, due)
		return err
	}); err != nil {
		return err
	}
	if time.Now().After(due) {
		return fmt.Errorf("starting %d timer workflows took %s, past their due time; lower -timers", n, time.Since(setupStart))
	}
	var closed []time.Duration
	for _, id := range floorIDs {
		if err := b.tc.GetWorkflow(ctx, id, "").Get(ctx, nil); err != nil {
			return err
		}
	}
	for _, id := range floorIDs {
		d, err := b.tc.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			return err
		}
		closed = append(closed, d.WorkflowExecutionInfo.CloseTime.AsTime().Sub(due))
	}
	fired, err := b.firedLateness(ctx, floorIDs, due)
	if err != nil {
		return err
	}
	floorClosed := pct(closed, 100)
	rows = append(rows, firedRow(fmt.Sprintf("floor: %d no-op timer workflows due together", n), fired))
	rows = append(rows, row{Name: fmt.Sprintf("floor: %d no-op timer workflows due together: closed late by", n), N: len(closed),
		Median: median(closed), P99: pct(closed, 99), Baseline: "due time", Target: "—", Met: "—", Note: fmt.Sprintf("max %s", fmtD(floorClosed))})

	if *timersFloorOnly {
		return nil
	}

	// The approval requests.
	rssBefore := rss()
	due = time.Now().Add(setupBudget).UTC().Truncate(time.Second)
	reqIDs := make([]string, n)
	created := time.Now()
	if _, err := parallel(n, 16, func(i int) error {
		c, err := b.newRequestCampaign(ctx, 100000+i)
		if err != nil {
			return err
		}
		r, err := b.store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: b.acct.ID,
			CampaignID: c.ID, SubmittedBy: b.users[storage.RoleCollaborator].ID,
			ApproverIDs: []string{b.users[storage.RoleApprover].ID}, DeadlineAt: due})
		if err != nil {
			return err
		}
		reqIDs[i] = workflows.ApprovalRequestWorkflowID(r.ID)
		return app.StartApprovalRequest(ctx, b.tc, b.queue, r, "bench")
	}); err != nil {
		return err
	}
	setup := time.Since(created)
	if time.Now().After(due) {
		return fmt.Errorf("setting up %d requests took %s, past their deadline; lower -timers", n, setup)
	}
	time.Sleep(time.Until(due) - time.Second)
	rssPending := rss()
	deadline := due.Add(5 * time.Minute)
	var decided int
	for time.Now().Before(deadline) {
		if err := b.store.Pool.QueryRow(ctx, `SELECT count(*) FROM approval_requests WHERE deadline_at = $1 AND status = 'timed_out'`, due).Scan(&decided); err != nil {
			return err
		}
		if decided == n {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	rows2, err := b.store.Pool.Query(ctx, `SELECT (extract(epoch FROM decided_at - deadline_at) * 1000000)::bigint FROM approval_requests WHERE deadline_at = $1 AND status = 'timed_out'`, due)
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
	fired, err = b.firedLateness(ctx, reqIDs, due)
	if err != nil {
		return err
	}
	maxLate := pct(late, 100)
	rows = append(rows, firedRow(fmt.Sprintf("%d deadline timers due together", n), fired))
	rows = append(rows, row{Name: fmt.Sprintf("%d deadline timers due together: timeout recorded late by", n), N: len(late),
		Median: median(late), P99: pct(late, 99), Baseline: fmt.Sprintf("floor closed max %s", fmtD(floorClosed)), Ratio: ratio(maxLate, floorClosed),
		Target: "all ≤ 5s late", Met: met(len(late) == n && maxLate <= 5*time.Second),
		Note: fmt.Sprintf("max %s; %d/%d timed out; setup %s", fmtD(maxLate), len(late), n, setup.Round(time.Second))})
	rows = append(rows, row{Name: fmt.Sprintf("%d pending requests: process RSS (worker+API+bench)", n), N: n, Baseline: fmt.Sprintf("%d MiB before", rssBefore>>20),
		Target: "—", Met: "—", Note: fmt.Sprintf("%d MiB while pending (+%d MiB, %.1f KiB per request)", rssPending>>20, (rssPending-rssBefore)>>20,
			float64(rssPending-rssBefore)/1024/float64(n))})
	return nil
}

// firedRow is the table row of a sample of TimerFired lateness.
func firedRow(what string, s firedSample) row {
	return row{Name: what + ": timer fired late by", N: len(s.late), Median: median(s.late), P99: pct(s.late, 99),
		Baseline: "due time", Target: "—", Met: "—",
		Note: fmt.Sprintf("max %s (sample); %d workflow tasks timed out in the sample; first workflow task started %s after the start (median), %s (max)",
			fmtD(pct(s.late, 100)), s.taskTimeouts, fmtD(median(s.firstTask)), fmtD(pct(s.firstTask, 100)))}
}

// firedSample is what firedLateness read from a sample of histories.
type firedSample struct {
	late         []time.Duration // TimerFired time of the first timer, against due
	taskTimeouts int             // WorkflowTaskTimedOut events (a sticky task not started in time is one)
	firstTask    []time.Duration // the first WorkflowTaskStarted, against the workflow's start
}

// firedLateness reads, in a sample of up to 200 of the workflows ids, the TimerFired time of the
// first timer to fire as lateness against due, and counts the workflow tasks that timed out.
func (b *bench) firedLateness(ctx context.Context, ids []string, due time.Time) (firedSample, error) {
	step := max(1, len(ids)/200)
	var out firedSample
	for i := 0; i < len(ids); i += step {
		it := b.tc.GetWorkflowHistory(ctx, ids[i], "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		fired, tasked := false, false
		var started time.Time
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return firedSample{}, err
			}
			switch {
			case ev.EventType == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
				started = ev.EventTime.AsTime()
			case ev.EventType == enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED && !tasked:
				out.firstTask = append(out.firstTask, ev.EventTime.AsTime().Sub(started))
				tasked = true
			case ev.EventType == enumspb.EVENT_TYPE_TIMER_FIRED && !fired:
				out.late = append(out.late, ev.EventTime.AsTime().Sub(due))
				fired = true
			case ev.EventType == enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
				out.taskTimeouts++
			}
		}
	}
	return out, nil
}

// rss is this process's resident set size in bytes.
func rss() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "VmRSS:") {
			fields := strings.Fields(sc.Text())
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// trace prints a workflow's history with each event's time since t (BENCH_TRACE=1).
func (b *bench) trace(ctx context.Context, id string, t time.Time) {
	it := b.tc.GetWorkflowHistory(ctx, id, "", false, 0)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return
		}
		if t.IsZero() {
			t = ev.EventTime.AsTime()
		}
		fmt.Printf("  %s %-40s %6.1fms\n", id[len(id)-6:], ev.EventType.String(), float64(ev.EventTime.AsTime().Sub(t))/1e6)
	}
}

// pgStats turns on the -pgstats report: the statements that cost Postgres most in each decisions
// round. It needs the test cluster started with pg_stat_statements loaded:
// SIGNOFF_TEST_POSTGRES_CONFIG="shared_preload_libraries=pg_stat_statements pg_stat_statements.track_planning=on".
var pgStats = flag.Bool("pgstats", false, "print the costliest Postgres statements of each decisions round (needs pg_stat_statements loaded)")

// pgStatsReset creates the extension when missing and forgets what it counted so far.
func (b *bench) pgStatsReset(ctx context.Context) error {
	if !*pgStats {
		return nil
	}
	if _, err := b.store.Pool.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		return fmt.Errorf("pgstats: %w", err)
	}
	_, err := b.store.Pool.Exec(ctx, "SELECT pg_stat_statements_reset()")
	return err
}

// pgStatsPrint prints the ten statements with the most execution and planning time since the reset.
// With pg_stat_statements.track_planning off (the default) the planning time counts as nothing.
func (b *bench) pgStatsPrint(ctx context.Context, what string) error {
	if !*pgStats {
		return nil
	}
	rows, err := b.store.Pool.Query(ctx, `SELECT calls, total_exec_time / greatest(calls, 1),
		shared_blks_hit::float8 / greatest(calls, 1), left(regexp_replace(query, '\s+', ' ', 'g'), 100)
		FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT 10`)
	if err != nil {
		return fmt.Errorf("pgstats: %w", err)
	}
	defer rows.Close()
	// Buffer hits per call do not depend on how busy the machine is; times do.
	fmt.Printf("Postgres statements, %s: calls, mean exec ms, buffer hits per call, statement\n", what)
	for rows.Next() {
		var calls int64
		var exec, blks float64
		var q string
		if err := rows.Scan(&calls, &exec, &blks, &q); err != nil {
			return err
		}
		fmt.Printf("%7d %8.3f %8.1f  %s\n", calls, exec, blks, q)
	}
	return rows.Err()
}
