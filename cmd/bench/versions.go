package main

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/signoff/signoff/changes"
	"github.com/signoff/signoff/demodata"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/workflows"
)

// versions measures what versions cost (issue 14): a submit with the freeze of the working copy
// against the same submit with the freeze switched off (Store.SetFreezeVersions, the bench's switch),
// and the diff of two versions of the demo fintech campaign.
func (b *bench) versions(ctx context.Context, n, diffs int) error {
	if err := b.submitFreeze(ctx, n); err != nil {
		return err
	}
	return b.diffFintech(diffs)
}

// versionCampaign makes a copy of the demo fintech campaign that a submit must freeze in full: it
// was submitted once (version 1 frozen), the request cancelled, and its name edited since, so the
// working copy differs from its latest version. Without the freeze the submit pins version 1.
func (b *bench) versionCampaign(ctx context.Context, label string, i int) (string, error) {
	nc := demodata.Campaigns(time.Now())[0]
	nc.Name += " " + label + " " + strconv.Itoa(i)
	c, err := b.store.CreateCampaign(ctx, b.acct.ID, b.users[storage.RoleCollaborator].ID, nc)
	if err != nil {
		return "", err
	}
	collab := b.users[storage.RoleCollaborator].ID
	r, err := b.store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: b.acct.ID,
		CampaignID: c.ID, SubmittedBy: collab, ApproverIDs: []string{b.users[storage.RoleApprover].ID},
		DeadlineAt: time.Now().Add(time.Hour)})
	if err != nil {
		return "", err
	}
	if _, err := b.store.Decide(ctx, b.acct.ID, storage.Decision{RequestID: r.ID, Type: storage.EventCancelled, ActorID: &collab}); err != nil {
		return "", err
	}
	name := nc.Name + " (rev. 2)"
	if _, _, err := b.store.UpdateCampaign(ctx, b.acct.ID, c.ID, storage.CampaignPatch{Name: &name}); err != nil {
		return "", err
	}
	return c.ID, nil
}

// submitFreeze measures POST /v1/campaigns/{id}/approval-requests, one at a time, with the freeze
// and without it, alternating the two call by call (which goes first swaps every pair) so both meet
// the same machine. Each call submits a fresh campaign prepared beforehand; after each call the
// request's workflow is left to finish its first task, outside the timing. The same comparison is
// then made on CreateApprovalRequest alone (no HTTP API, no workflow start).
func (b *bench) submitFreeze(ctx context.Context, n int) error {
	const warm = 4
	defer b.store.SetFreezeVersions(true)
	camps := map[bool][]string{}
	for _, freeze := range []bool{true, false} {
		for i := 0; i < 2*(n+warm); i++ {
			id, err := b.versionCampaign(ctx, fmt.Sprintf("freeze=%t", freeze), i)
			if err != nil {
				return fmt.Errorf("prepare campaigns: %w", err)
			}
			camps[freeze] = append(camps[freeze], id)
		}
	}
	approver := b.users[storage.RoleApprover].ID
	collab := b.users[storage.RoleCollaborator].ID
	submitAPI := func(campID string) (time.Duration, error) {
		var r struct{ ID string }
		t := time.Now()
		if _, err := b.call("POST", "/v1/campaigns/"+campID+"/approval-requests", storage.RoleCollaborator,
			map[string]any{"approver_ids": []string{approver}}, &r); err != nil {
			return 0, err
		}
		d := time.Since(t)
		return d, b.settle(ctx, []string{workflows.ApprovalRequestWorkflowID(r.ID)})
	}
	submitStore := func(campID string) (time.Duration, error) {
		t := time.Now()
		_, err := b.store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: b.acct.ID,
			CampaignID: campID, SubmittedBy: collab, ApproverIDs: []string{approver}, DeadlineAt: time.Now().Add(time.Hour)})
		return time.Since(t), err
	}
	type result struct {
		lat map[bool][]time.Duration
		cpu map[bool]*cpuTimes
	}
	measure := func(submit func(string) (time.Duration, error), from int) (result, error) {
		res := result{lat: map[bool][]time.Duration{}, cpu: map[bool]*cpuTimes{true: {}, false: {}}}
		for i := 0; i < n+warm; i++ {
			order := []bool{true, false}
			if i%2 == 1 {
				order = []bool{false, true}
			}
			for _, freeze := range order {
				b.store.SetFreezeVersions(freeze)
				cpu0 := readCPU()
				d, err := submit(camps[freeze][from+i])
				if err != nil {
					return res, fmt.Errorf("submit (freeze %t): %w", freeze, err)
				}
				if i >= warm {
					res.lat[freeze] = append(res.lat[freeze], d)
					res.cpu[freeze].add(readCPU(), cpu0)
				}
			}
		}
		return res, nil
	}
	api, err := measure(submitAPI, 0)
	if err != nil {
		return err
	}
	alone, err := measure(submitStore, n+warm)
	if err != nil {
		return err
	}
	base, with := median(alone.lat[false]), median(alone.lat[true])
	rows = append(rows,
		row{Name: "part: submit transaction alone (CreateApprovalRequest), freeze off (bench switch: pins the latest version)", N: n,
			Median: base, P99: pct(alone.lat[false], 99), Baseline: "—", Target: "—", Met: "—"},
		row{Name: "part: submit transaction alone (CreateApprovalRequest), with the freeze", N: n,
			Median: with, P99: pct(alone.lat[true], 99), Baseline: "freeze off " + fmtD(base), Ratio: ratio(with, base),
			Target: "—", Met: "—", Note: fmt.Sprintf("freeze costs %s per submit (medians)", fmtD(with-base))})
	base, with = median(api.lat[false]), median(api.lat[true])
	r := ratio(with, base)
	rows = append(rows,
		row{Name: "POST …/approval-requests → answer, freeze off (bench switch), 1 concurrent", N: n,
			Median: base, P99: pct(api.lat[false], 99), Baseline: "—", Target: "—", Met: "—", Note: "CPU incl. the workflow's first task; " + api.cpu[false].perOp(n)},
		row{Name: "POST …/approval-requests → answer, with the freeze, 1 concurrent", N: n,
			Median: with, P99: pct(api.lat[true], 99), Baseline: "freeze off " + fmtD(base), Ratio: r,
			Target: "median ≤ 1.2×", Met: met(r <= 1.2), Note: api.cpu[true].perOp(n)})
	return nil
}

// fintechFrozen are the frozen fields of two versions of the demo fintech campaign: as created, and
// with its name, one paragraph of its first email and one filter of its second segment edited.
func fintechFrozen() (v1, v2 storage.FrozenFields, err error) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	frozen := func(c storage.NewCampaign) storage.FrozenFields {
		return storage.FrozenFields{Name: c.Name, Kind: c.Kind, Mode: c.Mode, StartAt: c.StartAt, EndAt: c.EndAt, Content: c.Content}
	}
	v1 = frozen(demodata.Campaigns(now)[0])
	c := demodata.Campaigns(now)[0] // fresh values to edit
	c.Name += " (rev. 2)"
	seg := &c.Content.Segments[1].Filters
	seg.Industries = append(seg.Industries, "Banking")
	step := &c.Content.Sequences[0].Steps[0]
	ps := changes.Paragraphs(step.Body)
	edited := strings.Replace(ps[2], "three days instead of ten", "three days instead of twelve", 1)
	if edited == ps[2] {
		return v1, v2, fmt.Errorf("the demo fintech campaign's first email changed: no paragraph to edit")
	}
	ps[2] = edited
	step.Body = strings.Join(ps, "\n\n")
	return v1, frozen(c), nil
}

// diffFintech times diffs single calls of changes.BetweenJSON on the canonical JSON of two versions
// of the demo fintech campaign: what GET /v1/approval-requests/{id}/changes computes.
func (b *bench) diffFintech(diffs int) error {
	f1, f2, err := fintechFrozen()
	if err != nil {
		return err
	}
	v1, v2 := f1.JSON(), f2.JSON()
	got, err := changes.BetweenJSON(v1, v2)
	if err != nil {
		return err
	}
	if len(got) != 3 {
		return fmt.Errorf("fintech diff: %d changes, want 3 (name, filter, paragraph)", len(got))
	}
	for range 100 { // warm up
		_, _ = changes.BetweenJSON(v1, v2)
	}
	// Wall clock is what a caller waits; the CPU time of the calling thread leaves out the time other
	// processes of the shared machine held the core (the goroutine is locked to its thread).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	lat := make([]time.Duration, diffs)
	cpu := make([]time.Duration, diffs)
	_, cpuOK := threadCPU()
	for i := range lat {
		c0, _ := threadCPU()
		t := time.Now()
		_, _ = changes.BetweenJSON(v1, v2)
		lat[i] = time.Since(t)
		c1, _ := threadCPU()
		cpu[i] = c1 - c0
	}
	p99 := pct(lat, 99)
	note := fmt.Sprintf("canonical JSON %d and %d bytes, %d changes; wall max %s", len(v1), len(v2), len(got), fmtD(pct(lat, 100)))
	if cpuOK {
		note += fmt.Sprintf("; thread CPU p50 %s, p99 %s", fmtD(median(cpu)), fmtD(pct(cpu, 99)))
	}
	rows = append(rows, row{Name: "changes.BetweenJSON: demo fintech campaign, 2 versions (name, filter, paragraph), wall clock", N: diffs,
		Median: median(lat), P99: p99, Baseline: "—", Target: "p99 < 2ms", Met: met(p99 < 2*time.Millisecond), Note: note})
	return nil
}
