package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/signoff/signoff/demodata"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/webhooks"
	"github.com/signoff/signoff/workers"
	"github.com/signoff/signoff/workflows"
)

// hooks measures webhooks (R-HOOK-3): what the outbox, written by triggers in the submission's
// transaction, adds to a submit (n submits without a subscribed endpoint and n with one, alternating), and
// how long an event takes from its commit to a local receiver (LISTEN/NOTIFY → dispatcher → delivery
// workflow → signed POST), one submit at a time, against the floor measured between them: a workflow
// running one regular activity, from its start to its result (target: within 1.5×, median and p99).
func (b *bench) hooks(ctx context.Context, n int, sealer interface{ Seal(string) []byte }) error {
	var mu sync.Mutex
	got := map[string]time.Time{} // webhook-id → when the receiver got it
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if _, ok := got[r.Header.Get("webhook-id")]; !ok {
			got[r.Header.Get("webhook-id")] = time.Now()
		}
		mu.Unlock()
	}))
	defer rc.Close()
	dctx, stop := context.WithCancel(ctx)
	defer stop()
	d := &workers.WebhookDispatcher{Client: b.tc, Store: b.store, TaskQueue: workflows.WebhookTaskQueue(b.queue), Rate: b.hookRate,
		Log: b.log, Delivery: workflows.WebhookDeliveryInput{}}
	go d.Run(dctx)

	submit := func(i int, label string) (time.Duration, error) {
		nc := demodata.Campaigns(time.Now())[0]
		nc.Name = fmt.Sprintf("Hooks %s %d", label, i)
		start, end := time.Now().Add(time.Hour), time.Now().Add(2*time.Hour)
		nc.StartAt, nc.EndAt = &start, &end
		c, err := b.store.CreateCampaign(ctx, b.acct.ID, b.users[storage.RoleCollaborator].ID, nc)
		if err != nil {
			return 0, err
		}
		t := time.Now()
		_, err = b.call("POST", "/v1/campaigns/"+c.ID+"/approval-requests", storage.RoleCollaborator,
			map[string]any{"approver_ids": []string{b.users[storage.RoleApprover].ID}}, nil)
		return time.Since(t), err
	}
	secret, err := webhooks.NewSecret()
	if err != nil {
		return err
	}
	ep, err := b.store.CreateWebhookEndpoint(ctx, storage.NewWebhookEndpoint{AccountID: b.acct.ID, URL: rc.URL,
		Events: []string{"approval_request.submitted"}, SecretSealed: sealer.Seal(secret), CreatedBy: b.users[storage.RoleAdmin].ID})
	if err != nil {
		return err
	}
	defer func() { _ = b.store.DeleteWebhookEndpoint(context.WithoutCancel(ctx), b.acct.ID, ep.ID) }()
	// The two variants alternate, so the machine's drift weighs on both alike: the endpoint is
	// disabled for the submits without (the outbox trigger then writes nothing).
	var without, with, delivery, floor []time.Duration
	for i := 0; i < 2*n; i++ {
		subscribed := i%2 == 1
		if _, err := b.store.Pool.Exec(ctx, `UPDATE webhook_endpoints SET enabled = $2 WHERE id = $1`, ep.ID, subscribed); err != nil {
			return err
		}
		lat, err := submit(i, "alternating")
		if err != nil {
			return err
		}
		if !subscribed {
			without = append(without, lat)
			continue
		}
		with = append(with, lat)
		// The event of this submit, and when the receiver got it.
		var id string
		var created time.Time
		if err := b.store.Pool.QueryRow(ctx, `SELECT id::text, created_at FROM webhook_events ORDER BY seq DESC LIMIT 1`).Scan(&id, &created); err != nil {
			return err
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			at, ok := got[id]
			mu.Unlock()
			if ok {
				delivery = append(delivery, at.Sub(created))
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("event %s not delivered in 30 s", id)
			}
			time.Sleep(2 * time.Millisecond)
		}
		t := time.Now()
		run, err := b.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("bench-one-activity-%d-%d", t.UnixNano(), i),
			TaskQueue: b.queue}, oneActivityWorkflow)
		if err != nil {
			return err
		}
		if err := run.Get(ctx, nil); err != nil {
			return err
		}
		floor = append(floor, time.Since(t))
	}
	// Let the last deliveries record their attempts before the endpoint goes.
	time.Sleep(500 * time.Millisecond)
	rows = append(rows,
		row{Name: "hooks: submit, no webhook endpoint", N: n, Median: median(without), P99: pct(without, 99), Baseline: "—", Target: "—", Met: "—"},
		row{Name: "hooks: submit with an endpoint subscribed (outbox rows in its transaction)", N: n, Median: median(with), P99: pct(with, 99),
			Baseline: median(without).Round(time.Millisecond).String(), Ratio: float64(median(with)) / float64(median(without)), Target: "—", Met: "—"},
		row{Name: "hooks: floor: one-activity workflow, start → result", N: n, Median: median(floor), P99: pct(floor, 99),
			Baseline: "—", Target: "—", Met: "—", Note: "between the subscribed submits"},
		row{Name: "hooks: event commit → receiver (NOTIFY, dispatcher, workflow, signed POST)", N: n, Median: median(delivery), P99: pct(delivery, 99),
			Baseline: "floor " + median(floor).Round(100*time.Microsecond).String(), Ratio: float64(median(delivery)) / float64(median(floor)),
			Target: "median and p99 ≤ 1.5× floor", Met: met(float64(median(delivery)) <= 1.5*float64(median(floor)) && float64(pct(delivery, 99)) <= 1.5*float64(pct(floor, 99))),
			Note: fmt.Sprintf("one submit at a time, receiver on loopback; p99 ratio %.2f× (floor p99 %s)",
				float64(pct(delivery, 99))/float64(pct(floor, 99)), pct(floor, 99).Round(100*time.Microsecond))})
	return nil
}

// hooksBurst measures a burst (R-HOOK-3): burst events, each to 3 endpoints, written in one transaction,
// the time until every delivery reached the receiver, and approves timed one at a time while it drains
// against the same approves timed just before it (the burst's effect on decision latency).
func (b *bench) hooksBurst(ctx context.Context, burst, approves int, sealer interface{ Seal(string) []byte }) error {
	var mu sync.Mutex
	got := map[string]bool{} // path + webhook-id
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.URL.Path+" "+r.Header.Get("webhook-id")] = true
		mu.Unlock()
	}))
	defer rc.Close()
	dctx, stop := context.WithCancel(ctx)
	defer stop()
	d := &workers.WebhookDispatcher{Client: b.tc, Store: b.store, TaskQueue: workflows.WebhookTaskQueue(b.queue), Rate: b.hookRate,
		Log: b.log, Delivery: workflows.WebhookDeliveryInput{}}
	go d.Run(dctx)

	// Pending requests to approve: a third before the burst, a third spread over its drain, a third
	// after it (before and after give the run's own noise).
	reqs := make([]string, 3*approves)
	wfIDs := make([]string, len(reqs))
	for i := range reqs {
		c, err := b.newRequestCampaign(ctx, 9000+i)
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
	if err := b.settle(ctx, wfIDs); err != nil {
		return err
	}
	approve := func(i int) (time.Duration, error) {
		t := time.Now()
		_, err := b.call("POST", "/v1/approval-requests/"+reqs[i]+"/approve", storage.RoleApprover, map[string]any{"note": "ok"}, nil)
		return time.Since(t), err
	}
	var quiet, during, after []time.Duration
	for i := 0; i < approves; i++ {
		lat, err := approve(i)
		if err != nil {
			return err
		}
		quiet = append(quiet, lat)
	}

	// Three endpoints subscribed to a type nothing else in the bench emits, then the burst.
	const typ = "campaign.launch_skipped"
	var eps []string
	for k := 1; k <= 3; k++ {
		secret, err := webhooks.NewSecret()
		if err != nil {
			return err
		}
		ep, err := b.store.CreateWebhookEndpoint(ctx, storage.NewWebhookEndpoint{AccountID: b.acct.ID, URL: fmt.Sprintf("%s/%d", rc.URL, k),
			Events: []string{typ}, SecretSealed: sealer.Seal(secret), CreatedBy: b.users[storage.RoleAdmin].ID})
		if err != nil {
			return err
		}
		eps = append(eps, ep.ID)
	}
	defer func() {
		for _, id := range eps {
			_ = b.store.DeleteWebhookEndpoint(context.WithoutCancel(ctx), b.acct.ID, id)
		}
	}()
	camp, err := b.newRequestCampaign(ctx, 8999)
	if err != nil {
		return err
	}
	start := time.Now()
	if _, err := b.store.Pool.Exec(ctx, `SELECT webhook_emit($1, $2, $3, gen_random_uuid(), '{"burst":true}'::jsonb)
		FROM generate_series(1, $4)`, b.acct.ID, typ, camp.ID, burst); err != nil {
		return err
	}
	want := 3 * burst
	drained := make(chan time.Duration, 1)
	go func() {
		for {
			mu.Lock()
			n := len(got)
			mu.Unlock()
			if n >= want || ctx.Err() != nil {
				drained <- time.Since(start)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	// Spread over the expected drain (at the pace SIGNOFF_WEBHOOK_RATE sets), at most 5 s apart.
	gap := time.Duration(0)
	if b.hookRate > 0 {
		gap = min(5*time.Second, time.Duration(float64(want)/b.hookRate*float64(time.Second))/time.Duration(approves+1))
	}
	for i := approves; i < 2*approves; i++ {
		time.Sleep(gap)
		lat, err := approve(i)
		if err != nil {
			return err
		}
		during = append(during, lat)
	}
	var drain time.Duration
	select {
	case drain = <-drained:
	case <-time.After(10 * time.Minute):
		mu.Lock()
		n := len(got)
		mu.Unlock()
		return fmt.Errorf("burst: %d of %d deliveries received in 10 minutes", n, want)
	}
	for i := 2 * approves; i < 3*approves; i++ {
		lat, err := approve(i)
		if err != nil {
			return err
		}
		after = append(after, lat)
	}
	var delivered int
	if err := b.store.Pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = ANY($1::uuid[]) AND status = $2`,
		eps, storage.DeliveryDelivered).Scan(&delivered); err != nil {
		return err
	}
	calm := append(append([]time.Duration{}, quiet...), after...)
	r := float64(median(during)) / float64(median(calm))
	noise := float64(max(median(quiet), median(after))) / float64(min(median(quiet), median(after)))
	rows = append(rows,
		row{Name: fmt.Sprintf("hooks burst: %d events × 3 endpoints, written → all received", burst), N: want, Median: drain, P99: drain,
			Baseline: "—", Target: "all delivered", Met: met(delivered == want),
			Note: fmt.Sprintf("%d deliveries recorded delivered; %.1f deliveries/s; SIGNOFF_WEBHOOK_RATE %g/s (0: no limit)",
				delivered, float64(want)/drain.Seconds(), b.hookRate)},
		row{Name: "hooks burst: POST …/approve, 1 concurrent, spread over the drain", N: approves, Median: median(during), P99: pct(during, 99),
			Baseline: "before and after " + fmtD(median(calm)), Ratio: r, Target: "within the run's noise (≤ 1.2× or the before/after ratio)",
			Met:  met(r <= max(1.2, noise)),
			Note: fmt.Sprintf("%s apart; before %s, after %s (noise %.2f×)", gap.Round(time.Millisecond), fmtD(median(quiet)), fmtD(median(after)), noise)})
	return nil
}
