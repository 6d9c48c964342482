package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/workflows"
)

// drafts measures Ask → ready and Ask → all leads personalised for 20 and 100 contacts against the
// floor of a no-op workflow of six local activities (issue 3).
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
				if status == storage.DraftFailed {
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
		Name: "Bench " + strconv.Itoa(i), Kind: storage.KindCampaign, Mode: storage.ModeActive, StartAt: &start, EndAt: &end})
}

// decisions measures POST …/approve against a bare Update round trip on a no-op workflow, at 1 and
// 32 concurrent requests (issue 5).
func (b *bench) decisions(ctx context.Context, n int) error {
	for _, conc := range []int{1, 32} {
		// Baseline: one no-op workflow per call, each updated once.
		ids := make([]string, n)
		for i := range ids {
			ids[i] = testenv.NewName("noop-")
			if _, err := b.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: ids[i], TaskQueue: b.queue}, noopWorkflow); err != nil {
				return err
			}
		}
		bare, err := parallel(n, conc, func(i int) error {
			h, err := b.tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: ids[i], UpdateName: noopUpdate, Args: []any{i},
				WaitForStage: client.WorkflowUpdateStageCompleted})
			if err != nil {
				return err
			}
			return h.Get(ctx, nil)
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			_ = b.tc.SignalWorkflow(ctx, id, "", "stop", nil)
		}
		// Requests to approve.
		reqs := make([]string, n)
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
			reqs[i] = r.ID
		}
		lat, err := parallel(n, conc, func(i int) error {
			_, err := b.call("POST", "/v1/approval-requests/"+reqs[i]+"/approve", storage.RoleApprover, map[string]any{"note": "ok"}, nil)
			return err
		})
		if err != nil {
			return err
		}
		r := ratio(median(lat), median(bare))
		rows = append(rows, row{Name: fmt.Sprintf("bare Update round trip, %d concurrent", conc), N: n, Median: median(bare), P99: pct(bare, 99), Baseline: "—", Target: "—", Met: "—"})
		rows = append(rows, row{Name: fmt.Sprintf("POST …/approve → answer, %d concurrent", conc), N: n, Median: median(lat), P99: pct(lat, 99),
			Baseline: "bare Update " + fmtD(median(bare)), Ratio: r, Target: "median ≤ 1.5× bare", Met: met(r <= 1.5)})
	}
	return nil
}

// timers holds n pending requests whose deadline timers are all due at one instant and measures
// the worker's memory and how late each timeout is recorded (issue 5).
func (b *bench) timers(ctx context.Context, n int) error {
	rssBefore := rss()
	setupBudget := time.Duration(n)*8*time.Millisecond + 20*time.Second
	due := time.Now().Add(setupBudget).UTC().Truncate(time.Second)
	var mu sync.Mutex
	var firstErr error
	created := time.Now()
	_, _ = parallel(n, 16, func(i int) error {
		c, err := b.newRequestCampaign(ctx, 100000+i)
		if err == nil {
			var r storage.ApprovalRequest
			r, err = b.store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: b.acct.ID,
				CampaignID: c.ID, SubmittedBy: b.users[storage.RoleCollaborator].ID,
				ApproverIDs: []string{b.users[storage.RoleApprover].ID}, DeadlineAt: due})
			if err == nil {
				err = workflows.StartApprovalRequest(ctx, b.tc, b.queue, r)
			}
		}
		if err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}
		return nil
	})
	if firstErr != nil {
		return firstErr
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
	maxLate := pct(late, 100)
	rows = append(rows, row{Name: fmt.Sprintf("%d deadline timers due together: lateness of the recorded timeout", n), N: len(late),
		Median: median(late), P99: pct(late, 99), Baseline: "due time", Target: "all ≤ 5s late", Met: met(len(late) == n && maxLate <= 5*time.Second),
		Note: fmt.Sprintf("max %s; %d/%d timed out; setup %s", fmtD(maxLate), len(late), n, setup.Round(time.Second))})
	rows = append(rows, row{Name: fmt.Sprintf("%d pending requests: process RSS (worker+API+bench)", n), N: n, Baseline: fmt.Sprintf("%d MiB before", rssBefore>>20),
		Target: "—", Met: "—", Note: fmt.Sprintf("%d MiB while pending (+%d MiB, %.1f KiB per request)", rssPending>>20, (rssPending-rssBefore)>>20,
			float64(rssPending-rssBefore)/1024/float64(n))})
	return nil
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
		fmt.Printf("  %s %-40s %6.1fms\n", id[len(id)-6:], ev.EventType.String(), float64(ev.EventTime.AsTime().Sub(t))/1e6)
	}
}
