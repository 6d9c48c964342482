package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/api"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/workflows"
)

// Integration tests of client approval drafts (SPEC §4): they drive the API over HTTP with a
// real Temporal worker running the build, and read Postgres to check what was stored.

// TestDraftBuildFromSavedSearch builds a 20-contact draft from a saved search end to end
// (R-DRAFT-1, 7, 8, R-REVIEW-1, §7).
func TestDraftBuildFromSavedSearch(t *testing.T) {
	t.Parallel()
	de := newDraftEnv(t)
	ctx := context.Background()

	// Asked before any worker runs: 202 processing at once, nothing built yet (R-DRAFT-1).
	status, d, raw := draftPost(t, de.env, de.camp.ID, de.csm, map[string]any{"source": draftSearchSource(de.search.ID), "contact_count": 20})
	require.Equal(t, http.StatusAccepted, status, "answer: %v", raw)
	require.Equal(t, storage.DraftStatusProcessing, d.Status)
	require.Equal(t, 1, d.Number)
	require.Equal(t, "Draft 1", d.Name)
	require.Equal(t, 20, d.ContactCount)
	require.Equal(t, de.camp.ID, d.CampaignID)
	require.Equal(t, de.A.Account.ID, d.AccountID)
	require.Contains(t, raw, "share_url")
	require.Nil(t, raw["share_url"], "share_url is null until the draft is ready (R-DRAFT-8)")
	require.IsType(t, map[string]any{}, raw["progress"], "the first answer has a progress object (R-DRAFT-8)")
	require.Nil(t, d.FailureReason)
	_, err := uuid.Parse(d.ID)
	require.NoError(t, err)

	// While no worker runs it stays processing, with a progress object and no link.
	got := draftGet(t, de.env, d.ID, de.csm)
	require.Equal(t, storage.DraftStatusProcessing, got.Status)
	require.NotNil(t, got.Progress)
	require.Nil(t, got.ShareURL)
	row := draftDBRow(t, de.env, d.ID)
	require.Nil(t, row.TokenHash)
	require.Nil(t, row.Snapshot)

	// The build runs on the worker; every poll is checked against R-DRAFT-8 on the way. The AI
	// provider holds the first lead it is given, so the build stays part-way through the AI step
	// (the other batches done, that one not) until the test has seen it (R-DRAFT-8: progress is
	// visible while it builds).
	gate := newDraftAIGate()
	draftStartWorker(t, de, draftWorkerOpts{provider: gate})
	t.Cleanup(gate.release) // before the worker stops (cleanups run last first)
	mid, steps := draftWait(t, de.env, d.ID, de.csm, "part-way through its AI step", func(d draftJSON) bool {
		return d.Status == storage.DraftStatusFailed || (d.Progress != nil && d.Progress.Step == "personalising" &&
			d.Progress.Done > 0 && d.Progress.Done < d.Progress.Total)
	})
	require.Equal(t, storage.DraftStatusReady, mid.Status, "failure_reason: %v", mid.FailureReason)
	require.Equal(t, 20, mid.Progress.Total, "progress while personalising: %+v", *mid.Progress)
	require.Less(t, mid.Progress.Done, mid.Progress.Total, "progress while personalising: %+v", *mid.Progress)
	gate.release()
	built, more := draftWait(t, de.env, d.ID, de.csm, "ready with its AI done", func(d draftJSON) bool {
		return d.Status == storage.DraftStatusFailed || (d.Progress != nil && d.Progress.Step == "done")
	})
	t.Logf("progress steps seen while building: %v, then %v; held at %+v", steps, more, *mid.Progress)
	require.Equal(t, storage.DraftStatusReady, built.Status, "failure_reason: %v", built.FailureReason)
	require.Equal(t, storage.Progress{Step: "done", Done: 20, Total: 20}, *built.Progress)
	require.NotNil(t, built.ReadyAt)
	require.NotNil(t, built.AIDoneAt)
	require.Nil(t, built.FailureReason)
	require.Equal(t, "Draft 1", built.Name)

	// The share URL: {PublicURL}/r/{token}, token of 32 random bytes (R-REVIEW-1).
	require.NotNil(t, built.ShareURL)
	prefix := de.server.App.PublicURL + "/r/"
	require.True(t, strings.HasPrefix(*built.ShareURL, prefix), "share_url %q", *built.ShareURL)
	token := strings.TrimPrefix(*built.ShareURL, prefix)
	require.Len(t, token, 43, "32 bytes of base64url without padding")
	tokBytes, err := base64.RawURLEncoding.DecodeString(token)
	require.NoError(t, err)
	require.Len(t, tokBytes, 32)
	require.Equal(t, *built.ShareURL, *draftGet(t, de.env, d.ID, de.admin).ShareURL, "the link can be copied again")

	// Stored as its hash, and sealed (not in clear) so the CSM can copy it again.
	row = draftDBRow(t, de.env, d.ID)
	require.Equal(t, storage.DraftStatusReady, row.Status)
	sum := sha256.Sum256([]byte(token))
	require.Equal(t, sum[:], row.TokenHash)
	require.NotEmpty(t, row.TokenSealed)
	require.False(t, bytes.Contains(row.TokenSealed, []byte(token)), "token_sealed must not hold the token in clear")
	require.False(t, bytes.Contains(row.TokenSealed, tokBytes), "token_sealed must not hold the token's bytes in clear")
	opened, err := de.sealer.Open(row.TokenSealed)
	require.NoError(t, err)
	require.Equal(t, token, opened)

	// The hidden copy: a deep copy of the campaign's content (R-DRAFT-7).
	require.NotNil(t, row.CopyID)
	copyID := *row.CopyID
	require.NotEqual(t, de.camp.ID, copyID)
	var hidden bool
	require.NoError(t, de.pool.QueryRow(ctx, `SELECT hidden FROM campaigns WHERE id = $1`, copyID).Scan(&hidden))
	require.True(t, hidden, "the copy must be hidden")
	src, err := de.store.Campaign(ctx, de.A.Account.ID, de.camp.ID)
	require.NoError(t, err)
	cp, err := de.store.Campaign(ctx, de.A.Account.ID, copyID)
	require.NoError(t, err)
	require.Equal(t, *src.Content, *cp.Content, "segments, prompts, AI model configs, sequences and tracking links are copied")
	require.Len(t, cp.Content.AIModelConfigs, 4)
	require.Len(t, cp.Content.TrackingLinks, 2)

	// 20 leads of A's directory that the saved search matches, each with its AI result.
	usable := map[string]storage.Contact{}
	for _, c := range draftUsableMatches(t, de.env, de.A.Account.ID, de.search.Filters) {
		usable[c.ID] = c
	}
	leads := draftLeads(t, de.env, copyID)
	require.Len(t, leads, 20)
	seen := map[string]bool{}
	for _, l := range leads {
		require.True(t, strings.HasPrefix(l.SourceRef, "contact:"), "source_ref %q", l.SourceRef)
		cid := strings.TrimPrefix(l.SourceRef, "contact:")
		c, ok := usable[cid]
		require.True(t, ok, "lead %s is not a usable match of the saved search in account A", l.SourceRef)
		require.False(t, seen[cid], "contact %s imported twice", cid)
		seen[cid] = true
		require.Equal(t, c.FirstName, l.FirstName)
		require.Equal(t, c.LastName, l.LastName)
		require.Equal(t, c.CompanyName, l.CompanyName)
		require.NotNil(t, l.AI, "lead %s has no AI result", l.ID)
		var res map[string]any
		require.NoError(t, json.Unmarshal([]byte(*l.AI), &res))
		require.NotEmpty(t, res)
	}

	// The frozen snapshot (R-DRAFT-7, R-REVIEW-3).
	snap := draftSnapshot(t, row)
	require.Equal(t, de.camp.Name, snap.Campaign.Name)
	require.NotEmpty(t, snap.Audience.Description)
	require.Len(t, snap.Audience.Segments, 2)
	require.Equal(t, "Software leaders", snap.Audience.Segments[0].Name)
	require.Equal(t, "Fintech finance", snap.Audience.Segments[1].Name)
	require.Len(t, snap.Leads, 20)
	for i, l := range snap.Leads {
		require.Equal(t, leads[i].ID, l.ID)
		require.Equal(t, leads[i].FirstName, l.FirstName)
	}
	require.Len(t, snap.Emails, 2)
	require.Equal(t, 1, snap.Emails[0].Step)
	require.Equal(t, "A quick idea for {{company_name}}", snap.Emails[0].Subject)
	require.Equal(t, []storage.Paragraph{
		{ID: "e1-p1", Text: "Hi {{first_name}},"},
		{ID: "e1-p2", Text: "Teams like {{company_name}} lose a day every month to manual reporting."},
		{ID: "e1-p3", Text: "We cut that to an hour for similar teams."},
		{ID: "e1-p4", Text: "Worth a short call next week?"},
	}, snap.Emails[0].Paragraphs)
	require.Equal(t, 2, snap.Emails[1].Step)
	require.Equal(t, []string{"e2-p1", "e2-p2", "e2-p3"}, []string{snap.Emails[1].Paragraphs[0].ID,
		snap.Emails[1].Paragraphs[1].ID, snap.Emails[1].Paragraphs[2].ID})
	require.Len(t, snap.Emails[1].Paragraphs, 3)
	// The raw JSON has the documented keys.
	var rawSnap map[string]any
	require.NoError(t, json.Unmarshal([]byte(*row.Snapshot), &rawSnap))
	for _, k := range []string{"campaign", "audience", "leads", "emails"} {
		require.Contains(t, rawSnap, k)
	}

	// The workflow runs under its documented id with the search attributes of §7.
	var sa map[string]string
	require.Eventually(t, func() bool {
		desc, err := de.server.App.Temporal.DescribeWorkflowExecution(ctx, workflows.ApprovalDraftWorkflowID(d.ID), "")
		if err != nil {
			return false
		}
		sa = map[string]string{}
		for k, p := range desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields() {
			var v string
			if converter.GetDefaultDataConverter().FromPayload(p, &v) == nil {
				sa[k] = v
			}
		}
		return sa[workflows.SearchAttrStatus] == storage.DraftStatusReady
	}, 10*time.Second, 50*time.Millisecond, "search attributes of approval-draft/%s", d.ID)
	require.Equal(t, de.A.Account.ID, sa[workflows.SearchAttrAccountID])
	require.Equal(t, de.camp.ID, sa[workflows.SearchAttrCampaignID])

	// Only CSMs and admins read drafts.
	for _, role := range []string{storage.RoleCollaborator, storage.RoleApprover, storage.RoleEditor} {
		status, body := de.do(t, http.MethodGet, "/v1/approval-drafts/"+d.ID, de.A.Tokens[role], nil)
		requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
	}
	status, body := de.do(t, http.MethodGet, "/v1/approval-drafts/"+d.ID, "", nil)
	require.Equal(t, http.StatusUnauthorized, status, "answer: %v", body)
}

// TestDraftNumberingAndList checks "Draft N" numbering per campaign and the newest-first list (R-DRAFT-5).
func TestDraftNumberingAndList(t *testing.T) {
	t.Parallel()
	de := newDraftEnv(t)
	draftStartWorker(t, de, draftWorkerOpts{})
	list := "/v1/campaigns/" + de.camp.ID + "/approval-drafts"
	require.Empty(t, draftIDs(t, de.env, list, de.csm))

	d1 := draftCreate(t, de.env, de.camp.ID, de.csm, map[string]any{"source": draftSearchSource(de.search.ID), "contact_count": 5})
	require.Equal(t, 1, d1.Number)
	require.Equal(t, "Draft 1", d1.Name)
	draftWaitAIDone(t, de.env, d1.ID, de.csm)

	// The same saved search once the first is ready: a new draft, not the old one (R-DRAFT-6 is for processing drafts).
	d2 := draftCreate(t, de.env, de.camp.ID, de.admin, map[string]any{"source": draftSearchSource(de.search.ID), "contact_count": 5})
	require.NotEqual(t, d1.ID, d2.ID)
	require.Equal(t, 2, d2.Number)
	require.Equal(t, "Draft 2", d2.Name)

	// Another source while the second may still build.
	other := draftSavedSearch(t, de.env, de.A, "Fintech", storage.SearchFilters{Industries: []string{"Fintech"}})
	d3 := draftCreate(t, de.env, de.camp.ID, de.csm, map[string]any{"source": draftSearchSource(other.ID), "contact_count": 3})
	require.Equal(t, 3, d3.Number)
	require.Equal(t, "Draft 3", d3.Name)

	// Numbering is per campaign.
	camp2 := draftCampaign(t, de.env, de.A, "Another campaign")
	e1 := draftCreate(t, de.env, camp2.ID, de.csm, map[string]any{"source": draftSearchSource(de.search.ID), "contact_count": 2})
	require.Equal(t, 1, e1.Number)
	require.Equal(t, "Draft 1", e1.Name)

	for _, id := range []string{d2.ID, d3.ID, e1.ID} {
		draftWaitAIDone(t, de.env, id, de.csm)
	}

	var out struct {
		Items []draftJSON `json:"items"`
	}
	de.doJSON(t, http.StatusOK, http.MethodGet, list, de.csm, nil, &out)
	require.Len(t, out.Items, 3)
	require.Equal(t, []string{d3.ID, d2.ID, d1.ID}, []string{out.Items[0].ID, out.Items[1].ID, out.Items[2].ID}, "newest first")
	for i, it := range out.Items {
		require.Equal(t, 3-i, it.Number)
		require.Equal(t, fmt.Sprintf("Draft %d", 3-i), it.Name)
		require.Equal(t, storage.DraftStatusReady, it.Status)
		require.NotNil(t, it.ShareURL, "ready drafts show their link in the list")
	}
	require.Equal(t, []string{d3.ID, d2.ID, d1.ID}, draftIDs(t, de.env, list, de.admin))
	require.Equal(t, []string{e1.ID}, draftIDs(t, de.env, "/v1/campaigns/"+camp2.ID+"/approval-drafts", de.csm))

	for _, role := range []string{storage.RoleCollaborator, storage.RoleApprover, storage.RoleEditor} {
		status, body := de.do(t, http.MethodGet, list, de.A.Tokens[role], nil)
		requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
	}
	status, body := de.do(t, http.MethodGet, "/v1/campaigns/"+uuid.NewString()+"/approval-drafts", de.csm, nil)
	requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
}

// TestDraftIdempotency runs without a worker, so drafts stay processing (R-DRAFT-6).
func TestDraftIdempotency(t *testing.T) {
	t.Parallel()
	de := newDraftEnv(t)
	ctx := context.Background()
	body := map[string]any{"source": draftSearchSource(de.search.ID), "contact_count": 20}

	first := draftCreate(t, de.env, de.camp.ID, de.csm, body)
	require.Equal(t, 1, first.Number)

	// The same campaign and saved search while the first is processing: 200 with that draft.
	before := dbState(t, de.pool)
	status, again, raw := draftPost(t, de.env, de.camp.ID, de.csm, body)
	require.Equal(t, http.StatusOK, status, "answer: %v", raw)
	require.Equal(t, first.ID, again.ID)
	require.Equal(t, 1, again.Number)
	require.Equal(t, storage.DraftStatusProcessing, again.Status)
	require.Nil(t, raw["share_url"])
	// An admin asking the same is deduplicated too.
	status, again, raw = draftPost(t, de.env, de.camp.ID, de.admin, body)
	require.Equal(t, http.StatusOK, status, "answer: %v", raw)
	require.Equal(t, first.ID, again.ID)
	requireNoWrites(t, de.pool, before)

	// Two requests at the same moment: exactly one builds.
	camp2 := draftCampaign(t, de.env, de.A, "Concurrent")
	buf, err := json.Marshal(body)
	require.NoError(t, err)
	const n = 4
	codes := make([]int, n)
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rec := serve(de.env, newRequest(http.MethodPost, "/v1/campaigns/"+camp2.ID+"/approval-drafts", de.csm, string(buf)))
			codes[i] = rec.Code
			var d draftJSON
			if json.Unmarshal(rec.Body.Bytes(), &d) == nil {
				ids[i] = d.ID
			}
		}(i)
	}
	wg.Wait()
	accepted := 0
	for i := 0; i < n; i++ {
		require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, codes[i])
		if codes[i] == http.StatusAccepted {
			accepted++
		}
		require.Equal(t, ids[0], ids[i], "every concurrent request answers the same draft")
	}
	require.Equal(t, 1, accepted, "exactly one concurrent request builds: %v", codes)
	var count int
	require.NoError(t, de.pool.QueryRow(ctx, `SELECT count(*) FROM approval_drafts WHERE campaign_id = $1`, camp2.ID).Scan(&count))
	require.Equal(t, 1, count)

	// A different saved search: a new draft.
	other := draftSavedSearch(t, de.env, de.A, "Fintech", storage.SearchFilters{Industries: []string{"Fintech"}})
	d2 := draftCreate(t, de.env, de.camp.ID, de.csm, map[string]any{"source": draftSearchSource(other.ID), "contact_count": 20})
	require.NotEqual(t, first.ID, d2.ID)
	require.Equal(t, 2, d2.Number)

	// The same saved search for another campaign: its own draft.
	d3 := draftCreate(t, de.env, draftCampaign(t, de.env, de.A, "Third").ID, de.csm, body)
	require.NotEqual(t, first.ID, d3.ID)
	require.Equal(t, 1, d3.Number)

	// The first draft is older than 10 minutes: a new draft.
	de.fx.AgeDraft(t, first.ID, 11*time.Minute)
	d4 := draftCreate(t, de.env, de.camp.ID, de.csm, body)
	require.NotEqual(t, first.ID, d4.ID)
	require.Equal(t, 3, d4.Number)
	// …and d4 is now the one deduplicated to.
	status, again, raw = draftPost(t, de.env, de.camp.ID, de.csm, body)
	require.Equal(t, http.StatusOK, status, "answer: %v", raw)
	require.Equal(t, d4.ID, again.ID)

	// A draft that is no longer processing is not returned.
	de.fx.FailDraft(t, d4.ID, "test")
	d5 := draftCreate(t, de.env, de.camp.ID, de.csm, body)
	require.Equal(t, 4, d5.Number)
}

// TestDraftContactCountValidation checks contact_count: a whole number 1–100, default 20 (R-DRAFT-2).
func TestDraftContactCountValidation(t *testing.T) {
	t.Parallel()
	de := newDraftEnv(t)
	src := draftSearchSource(de.search.ID)

	before := dbState(t, de.pool)
	for _, v := range []any{0, 101, -1, 20.5, "20", true, []any{20}, 1e9} {
		status, _, raw := draftPost(t, de.env, de.camp.ID, de.csm, map[string]any{"source": src, "contact_count": v})
		errObj := requireInvalid(t, status, raw, "contact_count")
		require.Contains(t, errObj["message"], "contact_count", "value %v", v)
	}
	// Sent as raw JSON: a number with an exponent or a fraction is refused too.
	for _, body := range []string{`{"source":{"type":"saved_search","saved_search_id":"` + de.search.ID + `"},"contact_count":2e1}`,
		`{"source":{"type":"saved_search","saved_search_id":"` + de.search.ID + `"},"contact_count":20.0}`} {
		status, raw := de.do(t, http.MethodPost, "/v1/campaigns/"+de.camp.ID+"/approval-drafts", de.csm, body)
		requireInvalid(t, status, raw, "contact_count")
	}
	requireNoWrites(t, de.pool, before)

	// Omitted: 20.
	d := draftCreate(t, de.env, de.camp.ID, de.csm, map[string]any{"source": src})
	require.Equal(t, 20, d.ContactCount)
	require.Equal(t, 20, draftDBRow(t, de.env, d.ID).ContactCount)

	// The bounds are accepted (each on its own campaign, so no draft is deduplicated).
	for _, v := range []int{1, 100} {
		c := draftCampaign(t, de.env, de.A, fmt.Sprintf("Bound %d", v))
		d := draftCreate(t, de.env, c.ID, de.csm, map[string]any{"source": src, "contact_count": v})
		require.Equal(t, v, d.ContactCount)
	}
}

// TestDraftRefusals checks the refusals of POST /v1/campaigns/{id}/approval-drafts: campaign in error
// (409), unknown or foreign source (422), foreign campaign (404), wrong role (403); nothing is written
// (R-DRAFT-1, 3, R-AUTH-2).
func TestDraftRefusals(t *testing.T) {
	t.Parallel()
	de := newDraftEnv(t)
	errCamp := draftCampaign(t, de.env, de.A, "Broken")
	de.fx.SetCampaignStatus(t, errCamp.ID, storage.CampaignStatusError)
	bSearch := draftSavedSearch(t, de.env, de.B, "B's search", storage.SearchFilters{Industries: []string{"Software"}})
	bCamp := draftCampaign(t, de.env, de.B, "B's campaign")
	hiddenCopy := de.hiddenCopy(t, de.A, draftCampaign(t, de.env, de.A, "Hidden"))
	good := map[string]any{"source": draftSearchSource(de.search.ID), "contact_count": 20}
	post := func(campID, token string, body any) (int, map[string]any) {
		return de.do(t, http.MethodPost, "/v1/campaigns/"+campID+"/approval-drafts", token, body)
	}

	before := dbState(t, de.pool)

	// A campaign in error: 409 campaign_error, for CSMs and admins alike.
	for _, tok := range []string{de.csm, de.admin} {
		status, body := post(errCamp.ID, tok, good)
		errObj := requireError(t, status, body, http.StatusConflict, string(errs.CampaignError))
		require.Contains(t, strings.ToLower(errObj["message"].(string)), "error")
	}

	// Roles other than csm and admin: 403.
	for _, role := range []string{storage.RoleCollaborator, storage.RoleApprover, storage.RoleEditor} {
		status, body := post(de.camp.ID, de.A.Tokens[role], good)
		requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
	}
	status, body := post(de.camp.ID, "", good)
	requireError(t, status, body, http.StatusUnauthorized, string(errs.Unauthorized))

	// Another account's campaign, an unknown one, a hidden copy, a bad id: 404.
	for _, id := range []string{bCamp.ID, uuid.NewString(), hiddenCopy, "not-a-uuid"} {
		status, body := post(id, de.csm, good)
		requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
	}
	// B's CSM on A's campaign, with B's own search: 404.
	status, body = post(de.camp.ID, de.B.Tokens[storage.RoleCSM], map[string]any{"source": draftSearchSource(bSearch.ID)})
	requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))

	// Unknown, foreign or malformed sources: 422 naming the field.
	for _, tc := range []struct {
		name   string
		source any
		field  string
	}{
		{"B's saved search", draftSearchSource(bSearch.ID), "source.saved_search_id"},
		{"unknown saved search", draftSearchSource(uuid.NewString()), "source.saved_search_id"},
		{"saved search id not a uuid", draftSearchSource("nope"), "source.saved_search_id"},
		{"saved search id missing", map[string]any{"type": "saved_search"}, "source.saved_search_id"},
		{"bad type", map[string]any{"type": "ftp", "saved_search_id": de.search.ID}, "source.type"},
		{"no type", map[string]any{"saved_search_id": de.search.ID}, "source.type"},
		{"unknown csv upload", map[string]any{"type": "csv", "csv_upload_id": uuid.NewString()}, "source.csv_upload_id"},
		{"B's campaign as lead source", map[string]any{"type": "campaign_leads", "campaign_id": bCamp.ID}, "source.campaign_id"},
		{"hidden copy as lead source", map[string]any{"type": "campaign_leads", "campaign_id": hiddenCopy}, "source.campaign_id"},
		{"unknown campaign as lead source", map[string]any{"type": "campaign_leads", "campaign_id": uuid.NewString()}, "source.campaign_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(de.camp.ID, de.csm, map[string]any{"source": tc.source, "contact_count": 20})
			requireInvalid(t, status, body, tc.field)
		})
	}
	status, body = post(de.camp.ID, de.csm, map[string]any{"contact_count": 20})
	requireInvalid(t, status, body, "source")
	status, body = post(de.camp.ID, de.csm, map[string]any{"source": nil})
	requireInvalid(t, status, body, "source")
	status, body = post(de.camp.ID, de.csm, map[string]any{"source": draftSearchSource(de.search.ID), "colour": "red"})
	requireInvalid(t, status, body, "colour")
	status, body = post(de.camp.ID, de.csm, `{"source":`)
	requireError(t, status, body, http.StatusBadRequest, string(errs.MalformedJSON))

	requireNoWrites(t, de.pool, before)
}

// TestCSVUpload checks POST /v1/csv-uploads: columns, row count and mapping; bad files are refused
// with a 422 naming the problem and store nothing (R-DRAFT-4).
func TestCSVUpload(t *testing.T) {
	t.Parallel()
	de := newDraftEnv(t)
	ctx := context.Background()
	header := "First Name,Last Name,Email,Company Name,Title"

	id, body := draftUploadOK(t, de.env, de.csm, "people.csv", draftCSV(header, draftCSVPeople(25)...), "")
	require.Equal(t, []any{"First Name", "Last Name", "Email", "Company Name", "Title"}, body["columns"])
	require.EqualValues(t, 25, body["row_count"])
	require.Equal(t, "people.csv", body["filename"])
	require.Equal(t, map[string]any{"first_name": "First Name", "last_name": "Last Name", "email": "Email",
		"company_name": "Company Name", "title": "Title"}, body["mapping"])
	up, err := de.store.CSVUpload(ctx, de.A.Account.ID, id)
	require.NoError(t, err)
	require.Len(t, up.Rows, 25)
	require.Equal(t, []string{"Ada01", "Lovelace01", "ada01@csv.test", "Engines 01 Ltd", "CTO"}, up.Rows[0])
	require.Equal(t, 1, countRows(t, de.pool, "csv_uploads"))

	// An admin may upload too; a BOM and CRLF line ends are fine.
	_, body = draftUploadOK(t, de.env, de.admin, "bom.csv",
		[]byte("\xef\xbb\xbfFirst Name,Last Name,Domain\r\nAda,Lovelace,engines.test\r\n"), "")
	require.Equal(t, []any{"First Name", "Last Name", "Domain"}, body["columns"])
	require.EqualValues(t, 1, body["row_count"])

	// Odd header names work when a mapping is sent.
	mapping := `{"first_name":"Given","last_name":"Family","company_name":"Org","email":"Mail"}`
	_, body = draftUploadOK(t, de.env, de.csm, "odd.csv", draftCSV("Given,Family,Org,Mail", "Ada,Lovelace,Engines,ada@x.test"), mapping)
	require.Equal(t, map[string]any{"first_name": "Given", "last_name": "Family", "company_name": "Org", "email": "Mail"}, body["mapping"])

	before := dbState(t, de.pool)
	for _, tc := range []struct {
		name    string
		content []byte
		mapping string
		field   string
		message string // a substring of the message, lower case
	}{
		{"unterminated quote", []byte("First Name,Last Name,Company Name\n\"Ada,Lovelace,Engines\n"), "", "file", "not a valid csv"},
		{"wrong field count", draftCSV("First Name,Last Name,Company Name", "Ada,Lovelace,Engines", "Grace,Hopper"), "", "file", "not a valid csv"},
		{"empty file", []byte{}, "", "file", "empty"},
		{"blank file", []byte("\n \n"), "", "file", "empty"},
		{"header only", []byte("First Name,Last Name,Company Name\n"), "", "file", "no data rows"},
		{"empty header name", draftCSV("First Name,,Company Name", "Ada,Lovelace,Engines"), "", "file", "no name"},
		{"duplicate header", draftCSV("First Name,First Name,Last Name,Company Name", "Ada,A,Lovelace,Engines"), "", "file", "twice"},
		{"no last name column", draftCSV("First Name,Company Name,Email", "Ada,Engines,ada@x.test"), "", "mapping", "last_name"},
		{"no company nor domain column", draftCSV("First Name,Last Name,Email", "Ada,Lovelace,ada@x.test"), "", "mapping", "company_name or domain"},
		{"odd headers without mapping", draftCSV("Given,Family,Org", "Ada,Lovelace,Engines"), "", "mapping", "first_name"},
		{"mapping not JSON", draftCSV("Given,Family,Org", "Ada,Lovelace,Engines"), "{nope", "mapping", "json"},
		{"mapping to a missing column", draftCSV("Given,Family,Org", "Ada,Lovelace,Engines"),
			`{"first_name":"Given","last_name":"Surname","company_name":"Org"}`, "mapping.last_name", "surname"},
		{"mapping to an unknown field", draftCSV("Given,Family,Org", "Ada,Lovelace,Engines"),
			`{"first_name":"Given","last_name":"Family","company_name":"Org","nickname":"Given"}`, "mapping.nickname", "not a contact field"},
		{"mapping without a required field", draftCSV("Given,Family,Org", "Ada,Lovelace,Engines"),
			`{"first_name":"Given","company_name":"Org"}`, "mapping", "last_name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := draftUpload(t, de.env, de.csm, "bad.csv", tc.content, tc.mapping)
			errObj := requireInvalid(t, status, body, tc.field)
			require.Contains(t, strings.ToLower(errObj["message"].(string)), tc.message)
		})
	}

	// Not a multipart upload, or no field named file.
	status, body := de.do(t, http.MethodPost, "/v1/csv-uploads", de.csm, `{"file":"First Name"}`)
	requireInvalid(t, status, body, "file")
	var buf bytes.Buffer
	buf.WriteString("--XYZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nhello\r\n--XYZ--\r\n")
	rec := de.request(t, http.MethodPost, "/v1/csv-uploads", de.csm, buf.Bytes(), "Content-Type", "multipart/form-data; boundary=XYZ")
	requireInvalid(t, rec.Code, decodeObject(t, rec), "file")

	// Only CSMs and admins upload.
	for _, role := range []string{storage.RoleCollaborator, storage.RoleApprover, storage.RoleEditor} {
		status, body := draftUpload(t, de.env, de.A.Tokens[role], "people.csv", draftCSV(header, draftCSVPeople(2)...), "")
		requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
	}
	status, body = draftUpload(t, de.env, "", "people.csv", draftCSV(header, draftCSVPeople(2)...), "")
	requireError(t, status, body, http.StatusUnauthorized, string(errs.Unauthorized))

	requireNoWrites(t, de.pool, before)
}

// TestCSVUploadSizeLimit checks the size limit (SIGNOFF_CSV_MAX_BYTES): over it, 422 and nothing stored.
func TestCSVUploadSizeLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.server.App.CSVMaxBytes = 1024
	tok := e.A.Tokens[storage.RoleCSM]
	header := "First Name,Last Name,Email,Company Name,Title"

	content := draftCSV(header, draftCSVPeople(45)...)
	require.Greater(t, len(content), 2048)
	before := dbState(t, e.pool)
	status, body := draftUpload(t, e, tok, "big.csv", content, "")
	errObj := requireInvalid(t, status, body, "file")
	require.Contains(t, errObj["message"], "1024")
	require.Contains(t, strings.ToLower(errObj["message"].(string)), "larger")
	requireNoWrites(t, e.pool, before)

	// Just under the limit is fine.
	rows := draftCSVPeople(1)
	for n := 2; len(draftCSV(header, draftCSVPeople(n)...)) <= 1024; n++ {
		rows = draftCSVPeople(n)
	}
	small := draftCSV(header, rows...)
	require.LessOrEqual(t, len(small), 1024)
	_, body = draftUploadOK(t, e, tok, "small.csv", small, "")
	require.EqualValues(t, len(rows), body["row_count"])
}

// TestDraftFromCSV builds drafts from CSV uploads with the default and custom mappings; rows lacking
// required data are skipped (R-DRAFT-4, 7).
func TestDraftFromCSV(t *testing.T) {
	t.Parallel()
	de := newDraftEnv(t)
	draftStartWorker(t, de, draftWorkerOpts{})
	header := "First Name,Last Name,Email,Company Name,Title"

	// The standard headers, with the mapping sent.
	upID, _ := draftUploadOK(t, de.env, de.csm, "people.csv", draftCSV(header, draftCSVPeople(25)...), "")
	d := draftCreate(t, de.env, de.camp.ID, de.csm, map[string]any{"contact_count": 20, "source": map[string]any{
		"type": "csv", "csv_upload_id": upID,
		"mapping": map[string]any{"first_name": "First Name", "last_name": "Last Name", "email": "Email", "company_name": "Company Name", "title": "Title"}}})
	draftWaitAIDone(t, de.env, d.ID, de.csm)
	row := draftDBRow(t, de.env, d.ID)
	leads := draftLeads(t, de.env, *row.CopyID)
	require.Len(t, leads, 20, "contact_count caps the sample")
	for i, l := range leads {
		require.Equal(t, fmt.Sprintf("csv:%d", i), l.SourceRef)
		require.Equal(t, fmt.Sprintf("Ada%02d", i+1), l.FirstName)
		require.Equal(t, fmt.Sprintf("Lovelace%02d", i+1), l.LastName)
		require.Equal(t, fmt.Sprintf("Engines %02d Ltd", i+1), l.CompanyName)
		require.NotNil(t, l.AI)
	}
	require.Len(t, draftSnapshot(t, row).Leads, 20)

	// Odd headers with a custom mapping; incomplete rows are skipped.
	mapping := map[string]any{"first_name": "Given", "last_name": "Family", "company_name": "Org", "domain": "Site", "email": "Mail"}
	mappingJSON, err := json.Marshal(mapping)
	require.NoError(t, err)
	odd := draftCSV("Given,Family,Org,Site,Mail",
		"Grace,Hopper,Navy Labs,,grace@navy.test",
		"Alan,,Bletchley,,alan@b.test",            // no last name
		"Edsger,Dijkstra,,dijkstra.test,e@d.test", // domain only: usable
		",Knuth,Stanford,,k@s.test",               // no first name
		"Barbara,Liskov,,,b@l.test",               // neither company nor domain
		"  ,  ,  ,  ,blank@x.test",                // blanks only
		"Margaret,Hamilton,Apollo,,m@a.test",
	)
	oddID, _ := draftUploadOK(t, de.env, de.csm, "odd.csv", odd, string(mappingJSON))
	d2 := draftCreate(t, de.env, de.camp.ID, de.csm, map[string]any{"contact_count": 50,
		"source": map[string]any{"type": "csv", "csv_upload_id": oddID, "mapping": mapping}})
	require.Equal(t, 2, d2.Number)
	draftWaitAIDone(t, de.env, d2.ID, de.csm)
	row2 := draftDBRow(t, de.env, d2.ID)
	leads2 := draftLeads(t, de.env, *row2.CopyID)
	var names, refs []string
	for _, l := range leads2 {
		names = append(names, l.FirstName+" "+l.LastName)
		refs = append(refs, l.SourceRef)
		require.NotNil(t, l.AI)
	}
	require.Equal(t, []string{"Grace Hopper", "Edsger Dijkstra", "Margaret Hamilton"}, names)
	require.Equal(t, []string{"csv:0", "csv:2", "csv:6"}, refs)
	require.Equal(t, "dijkstra.test", leads2[1].Domain)
	require.Len(t, draftSnapshot(t, row2).Leads, 3)

	// No mapping in the draft request: the upload's headers are recognised.
	autoID, _ := draftUploadOK(t, de.env, de.csm, "auto.csv", draftCSV("first_name,Surname,Website", "Ada,Lovelace,engines.test", "Alan,Turing,bletchley.test"), "")
	d3 := draftCreate(t, de.env, de.camp.ID, de.admin, map[string]any{"source": map[string]any{"type": "csv", "csv_upload_id": autoID}})
	draftWaitAIDone(t, de.env, d3.ID, de.csm)
	leads3 := draftLeads(t, de.env, *draftDBRow(t, de.env, d3.ID).CopyID)
	require.Len(t, leads3, 2)
	require.Equal(t, "Turing", leads3[1].LastName)
	require.Equal(t, "bletchley.test", leads3[1].Domain)

	// A file none of whose rows has the required data fails with the company-data reason.
	noneID, _ := draftUploadOK(t, de.env, de.csm, "none.csv", draftCSV("First Name,Last Name,Company Name", "Ada,Lovelace,", "Alan,Turing, "), "")
	before := dbState(t, de.pool)
	d4 := draftCreate(t, de.env, de.camp.ID, de.csm, map[string]any{"source": map[string]any{"type": "csv", "csv_upload_id": noneID}})
	failed := draftWaitBuilt(t, de.env, d4.ID, de.csm, storage.DraftStatusFailed)
	require.NotNil(t, failed.FailureReason)
	require.Contains(t, strings.ToLower(*failed.FailureReason), "company name or domain")
	draftRequireStateExcept(t, de.env, before, "approval_drafts")

	// Bad mappings in the draft request: 422 naming the field, nothing written.
	before = dbState(t, de.pool)
	for _, tc := range []struct {
		mapping map[string]any
		field   string
	}{
		{map[string]any{"first_name": "Nope", "last_name": "Family", "company_name": "Org"}, "source.mapping.first_name"},
		{map[string]any{"first_name": "Given", "company_name": "Org"}, "source.mapping"},
		{map[string]any{"first_name": "Given", "last_name": "Family"}, "source.mapping"},
		{map[string]any{"first_name": "Given", "last_name": "Family", "org": "Org"}, "source.mapping.org"},
	} {
		status, _, raw := draftPost(t, de.env, de.camp.ID, de.csm, map[string]any{"source": map[string]any{
			"type": "csv", "csv_upload_id": oddID, "mapping": tc.mapping}})
		requireInvalid(t, status, raw, tc.field)
	}
	requireNoWrites(t, de.pool, before)
}

// TestDraftFromCampaignLeads builds a draft from another visible campaign's leads (R-DRAFT-1, 7).
func TestDraftFromCampaignLeads(t *testing.T) {
	t.Parallel()
	de := newDraftEnv(t)
	draftStartWorker(t, de, draftWorkerOpts{})
	ctx := context.Background()

	src := draftCampaign(t, de.env, de.A, "Last quarter's campaign")
	size := 120
	var in []storage.Lead
	for i := 0; i < 8; i++ {
		l := storage.Lead{Position: i, SourceRef: fmt.Sprintf("seed:%d", i), FirstName: fmt.Sprintf("Lead%d", i),
			LastName: "Sample", Email: fmt.Sprintf("lead%d@src.test", i), Title: "CTO", CompanyName: fmt.Sprintf("Source Co %d", i),
			Industry: "Software", Country: "Germany", CompanySize: &size}
		if i == 3 {
			l.CompanyName, l.Domain = "", "" // lacks company data: skipped
		}
		in = append(in, l)
	}
	n, err := de.store.ImportLeads(ctx, de.A.Account.ID, src.ID, in)
	require.NoError(t, err)
	require.Equal(t, 8, n)
	srcLeadsBefore := draftLeads(t, de.env, src.ID)

	d := draftCreate(t, de.env, de.camp.ID, de.csm, map[string]any{"source": map[string]any{"type": "campaign_leads", "campaign_id": src.ID}})
	draftWaitAIDone(t, de.env, d.ID, de.csm)
	row := draftDBRow(t, de.env, d.ID)
	leads := draftLeads(t, de.env, *row.CopyID)
	require.Len(t, leads, 7)
	byID := map[string]draftLead{}
	for _, l := range srcLeadsBefore {
		byID[l.ID] = l
	}
	for _, l := range leads {
		require.True(t, strings.HasPrefix(l.SourceRef, "lead:"), l.SourceRef)
		s, ok := byID[strings.TrimPrefix(l.SourceRef, "lead:")]
		require.True(t, ok, "lead %s does not come from the source campaign", l.SourceRef)
		require.Equal(t, s.FirstName, l.FirstName)
		require.Equal(t, s.CompanyName, l.CompanyName)
		require.NotEqual(t, "Lead3", l.FirstName)
		require.NotNil(t, l.AI)
	}
	require.Len(t, draftSnapshot(t, row).Leads, 7)
	// The source campaign's leads are untouched.
	require.Equal(t, srcLeadsBefore, draftLeads(t, de.env, src.ID))

	// A campaign with no leads: the build fails with the no-contacts reason.
	empty := draftCampaign(t, de.env, de.A, "No leads yet")
	d2 := draftCreate(t, de.env, de.camp.ID, de.csm, map[string]any{"source": map[string]any{"type": "campaign_leads", "campaign_id": empty.ID}})
	failed := draftWaitBuilt(t, de.env, d2.ID, de.csm, storage.DraftStatusFailed)
	require.Contains(t, strings.ToLower(*failed.FailureReason), "no contacts")
}

// TestDraftFailures checks failed builds: a readable reason, and nothing left behind but the failed
// draft (R-DRAFT-9).
func TestDraftFailures(t *testing.T) {
	t.Parallel()
	de := newDraftEnv(t)
	draftStartWorker(t, de, draftWorkerOpts{})

	// Stored through the store, which takes what older versions of the API let through.
	lo, hi := 500, 10
	invalid := draftSavedSearch(t, de.env, de.A, "Broken filters", storage.SearchFilters{CompanySizeMin: &lo, CompanySizeMax: &hi})

	for _, tc := range []struct {
		name    string
		search  storage.SavedSearch
		reasons []string // substrings of the failure reason, lower case
	}{
		{"no contacts", draftSavedSearch(t, de.env, de.A, "Nobody", storage.SearchFilters{Titles: []string{"Chief Nobody Officer"}}),
			[]string{"no contacts"}},
		{"no company data", draftSavedSearch(t, de.env, de.A, "No companies", storage.SearchFilters{Titles: []string{draftNoCompanyTitle}}),
			[]string{"required data", "company name or domain"}},
		{"invalid filters", invalid, []string{"invalid filters"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := dbState(t, de.pool)
			drafts := countRows(t, de.pool, "approval_drafts")
			start := time.Now()
			d := draftCreate(t, de.env, de.camp.ID, de.csm, map[string]any{"source": draftSearchSource(tc.search.ID), "contact_count": 20})
			failed := draftWaitBuilt(t, de.env, d.ID, de.csm, storage.DraftStatusFailed)
			t.Logf("failed after %s: %s", time.Since(start), *failed.FailureReason)
			require.NotNil(t, failed.FailureReason)
			for _, r := range tc.reasons {
				require.Contains(t, strings.ToLower(*failed.FailureReason), r)
			}
			require.Nil(t, failed.ShareURL)
			require.NotNil(t, failed.Progress)
			require.Equal(t, "failed", failed.Progress.Step)
			// The build's run ends Failed with the reason the draft shows (SPEC §7), after its compensation.
			runStatus, runFailure := draftRunEnd(t, de.env, d.ID)
			require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, runStatus, "a failed build fails its workflow")
			require.Equal(t, *failed.FailureReason, runFailure, "the failure message is the human reason")
			// Bad input is not retried.
			attempts := draftActivityAttempts(t, de.env, d.ID)
			require.EqualValues(t, 1, attempts["ResolveContacts"], "attempts per activity: %v", attempts)
			require.NotContains(t, attempts, "CopyCampaign", "nothing is copied when no contact is usable")

			row := draftDBRow(t, de.env, d.ID)
			require.Equal(t, storage.DraftStatusFailed, row.Status)
			require.Nil(t, row.CopyID, "no copy is left")
			require.Nil(t, row.TokenHash)
			require.Nil(t, row.Snapshot)
			require.Equal(t, drafts+1, countRows(t, de.pool, "approval_drafts"))
			// The version the draft's creation froze (R-VER-7) is no part of the build: it stays, pinned by
			// the failed draft, and campaign versions are immutable.
			require.Equal(t, 1, *failed.CampaignVersion)
			draftRequireStateExcept(t, de.env, before, "approval_drafts", "campaign_versions")
			require.Empty(t, draftHiddenCampaigns(t, de.env))

			// A failed draft has no link to rotate.
			b := dbState(t, de.pool)
			status, body := de.do(t, http.MethodPost, "/v1/approval-drafts/"+d.ID+"/rotate-link", de.admin, nil)
			requireError(t, status, body, http.StatusConflict, string(errs.DraftNotReady))
			requireNoWrites(t, de.pool, b)
		})
	}
	// A failed draft stays listed (R-DRAFT-13).
	require.Len(t, draftIDs(t, de.env, "/v1/campaigns/"+de.camp.ID+"/approval-drafts", de.csm), 3)
}

// TestDraftRollbackAfterCopy makes the last build step fail after the copy and its leads exist: the
// compensations remove them, and only the failed draft remains (R-DRAFT-9).
func TestDraftRollbackAfterCopy(t *testing.T) {
	t.Parallel()
	de := newDraftEnv(t)
	var leadsAtFailure, copies atomic.Int64
	const reason = "Injected failure while freezing the snapshot."
	draftStartWorker(t, de, draftWorkerOpts{register: func(w worker.Worker) {
		w.RegisterActivityWithOptions(func(ctx context.Context, in activities.FreezeInput) ([]string, error) {
			var n, c int64
			if err := de.pool.QueryRow(ctx, `SELECT count(*) FROM campaign_leads WHERE campaign_id = $1`, in.CopyID).Scan(&n); err != nil {
				return nil, err
			}
			if err := de.pool.QueryRow(ctx, `SELECT count(*) FROM campaigns WHERE hidden AND id = $1`, in.CopyID).Scan(&c); err != nil {
				return nil, err
			}
			leadsAtFailure.Store(n)
			copies.Store(c)
			return nil, errs.Temporal(errs.New(errs.BuildFailed, reason))
		}, activity.RegisterOptions{Name: "FreezeSnapshot", DisableAlreadyRegisteredCheck: true})
	}})

	before := dbState(t, de.pool)
	drafts := countRows(t, de.pool, "approval_drafts")
	d := draftCreate(t, de.env, de.camp.ID, de.csm, map[string]any{"source": draftSearchSource(de.search.ID), "contact_count": 20})
	failed := draftWaitBuilt(t, de.env, d.ID, de.csm, storage.DraftStatusFailed)
	require.Equal(t, reason, *failed.FailureReason)
	require.EqualValues(t, 1, copies.Load(), "the copy existed when the build failed")
	require.EqualValues(t, 20, leadsAtFailure.Load(), "the leads were imported when the build failed")

	row := draftDBRow(t, de.env, d.ID)
	require.Nil(t, row.CopyID)
	require.Nil(t, row.Snapshot)
	require.Nil(t, row.TokenHash)
	require.Empty(t, draftHiddenCampaigns(t, de.env), "no orphan copy")
	require.Equal(t, drafts+1, countRows(t, de.pool, "approval_drafts"))
	// Every other table (campaigns, their content, campaign_leads, …) is exactly as before, but for the
	// version the draft's creation froze (R-VER-7), no part of the build: the failed draft pins it.
	require.Equal(t, 1, *failed.CampaignVersion)
	require.Equal(t, []int{1}, versionNumbers(de.versions(t, de.camp.ID, de.csm)))
	draftRequireStateExcept(t, de.env, before, "approval_drafts", "campaign_versions")
}

// TestDraftBuildCapacity checks the per-account build capacity: a build over it fails with
// "retry in a few minutes" (R-DRAFT-9).
func TestDraftBuildCapacity(t *testing.T) {
	t.Parallel()
	de := newDraftEnv(t)
	draftStartWorker(t, de, draftWorkerOpts{capacity: 1})

	// One draft of the account is still building (inserted directly: no workflow moves it on).
	busy := draftInsertProcessing(t, de.env, de.A, de.camp.ID)
	before := dbState(t, de.pool)
	d := draftCreate(t, de.env, de.camp.ID, de.csm, map[string]any{"source": draftSearchSource(de.search.ID), "contact_count": 5})
	require.Equal(t, 2, d.Number)
	failed := draftWaitBuilt(t, de.env, d.ID, de.csm, storage.DraftStatusFailed)
	require.Contains(t, strings.ToLower(*failed.FailureReason), "retry in a few minutes")
	draftRequireStateExcept(t, de.env, before, "approval_drafts")
	require.Empty(t, draftHiddenCampaigns(t, de.env))

	// Another account is not limited by A's builds.
	bCamp := draftCampaign(t, de.env, de.B, "B's campaign")
	bSearch := draftSavedSearch(t, de.env, de.B, "B's search", storage.SearchFilters{Industries: []string{"Software"}})
	bd := draftCreate(t, de.env, bCamp.ID, de.B.Tokens[storage.RoleCSM], map[string]any{"source": draftSearchSource(bSearch.ID), "contact_count": 3})
	draftWaitAIDone(t, de.env, bd.ID, de.B.Tokens[storage.RoleCSM])

	// Once the busy build ends, A may build again.
	de.fx.FailDraft(t, busy, "test")
	d2 := draftCreate(t, de.env, de.camp.ID, de.csm, map[string]any{"source": draftSearchSource(de.search.ID), "contact_count": 5})
	draftWaitAIDone(t, de.env, d2.ID, de.csm)
}

// TestDraftCopyNeverListed checks the hidden copy never shows through the campaign endpoints (R-DRAFT-7).
func TestDraftCopyNeverListed(t *testing.T) {
	t.Parallel()
	de := newDraftEnv(t)
	draftStartWorker(t, de, draftWorkerOpts{})
	d := draftCreate(t, de.env, de.camp.ID, de.csm, map[string]any{"source": draftSearchSource(de.search.ID), "contact_count": 5})
	draftWaitAIDone(t, de.env, d.ID, de.csm)
	copyID := *draftDBRow(t, de.env, d.ID).CopyID

	for _, role := range roles {
		tok := de.A.Tokens[role]
		require.Equal(t, []string{de.camp.ID}, draftIDs(t, de.env, "/v1/campaigns", tok), "role %s", role)
		status, body := de.do(t, http.MethodGet, "/v1/campaigns/"+copyID, tok, nil)
		requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
	}
	before := dbState(t, de.pool)
	for _, tc := range []struct{ method, path string }{
		{http.MethodPatch, "/v1/campaigns/" + copyID},
		{http.MethodDelete, "/v1/campaigns/" + copyID},
		{http.MethodGet, "/v1/campaigns/" + copyID + "/approval-drafts"},
		{http.MethodPost, "/v1/campaigns/" + copyID + "/approval-drafts"},
	} {
		var body any
		switch tc.method {
		case http.MethodPatch:
			body = map[string]any{"name": "Renamed copy"}
		case http.MethodPost:
			body = map[string]any{"source": draftSearchSource(de.search.ID)}
		}
		status, raw := de.do(t, tc.method, tc.path, de.admin, body)
		requireError(t, status, raw, http.StatusNotFound, string(errs.NotFound))
	}
	status, _, raw := draftPost(t, de.env, de.camp.ID, de.csm, map[string]any{"source": map[string]any{"type": "campaign_leads", "campaign_id": copyID}})
	requireInvalid(t, status, raw, "source.campaign_id")
	requireNoWrites(t, de.pool, before)
}

// TestDraftSnapshotImmutable checks a change to the campaign after creation changes neither the snapshot
// nor the leads' AI results (R-DRAFT-10).
func TestDraftSnapshotImmutable(t *testing.T) {
	t.Parallel()
	de := newDraftEnv(t)
	draftStartWorker(t, de, draftWorkerOpts{})
	ctx := context.Background()
	d := draftCreate(t, de.env, de.camp.ID, de.csm, map[string]any{"source": draftSearchSource(de.search.ID), "contact_count": 10})
	before := draftWaitAIDone(t, de.env, d.ID, de.csm)
	row := draftDBRow(t, de.env, d.ID)
	leads := draftLeads(t, de.env, *row.CopyID)
	copyBefore, err := de.store.Campaign(ctx, de.A.Account.ID, *row.CopyID)
	require.NoError(t, err)

	content := draftContent()
	content.Segments = content.Segments[:1]
	content.Segments[0].Name = "Only segment"
	content.Sequences[0].Steps[0].Subject = "A changed subject"
	content.Sequences[0].Steps[0].Body = "One new paragraph."
	content.AIModelConfigs[2].Temperature = 0.9
	status, body := de.do(t, http.MethodPatch, "/v1/campaigns/"+de.camp.ID, de.csm, map[string]any{"name": "Renamed campaign", "content": content})
	require.Equal(t, http.StatusOK, status, "answer: %v", body)

	after := draftDBRow(t, de.env, d.ID)
	require.Equal(t, *row.Snapshot, *after.Snapshot, "the snapshot is byte-for-byte unchanged")
	require.Equal(t, row.TokenHash, after.TokenHash)
	require.Equal(t, leads, draftLeads(t, de.env, *row.CopyID), "leads and their AI results are unchanged")
	copyAfter, err := de.store.Campaign(ctx, de.A.Account.ID, *row.CopyID)
	require.NoError(t, err)
	require.Equal(t, copyBefore, copyAfter, "the copy is unchanged")
	got := draftGet(t, de.env, d.ID, de.csm)
	require.Equal(t, before.ShareURL, got.ShareURL)
	require.Equal(t, storage.DraftStatusReady, got.Status)

	// A new draft freezes the campaign as it is now; the first keeps its own snapshot.
	d2 := draftCreate(t, de.env, de.camp.ID, de.csm, map[string]any{"source": draftSearchSource(de.search.ID), "contact_count": 3})
	draftWaitAIDone(t, de.env, d2.ID, de.csm)
	snap2 := draftSnapshot(t, draftDBRow(t, de.env, d2.ID))
	require.Equal(t, "Renamed campaign", snap2.Campaign.Name)
	require.Len(t, snap2.Audience.Segments, 1)
	require.Equal(t, "A changed subject", snap2.Emails[0].Subject)
	require.Equal(t, *row.Snapshot, *draftDBRow(t, de.env, d.ID).Snapshot)
	snap1 := draftSnapshot(t, after)
	require.Equal(t, de.camp.Name, snap1.Campaign.Name)
	require.Len(t, snap1.Audience.Segments, 2)
}

// TestDraftRotateLink checks POST /v1/approval-drafts/{id}/rotate-link (R-DRAFT-11).
func TestDraftRotateLink(t *testing.T) {
	t.Parallel()
	de := newDraftEnv(t)
	draftStartWorker(t, de, draftWorkerOpts{})
	ctx := context.Background()
	d := draftCreate(t, de.env, de.camp.ID, de.csm, map[string]any{"source": draftSearchSource(de.search.ID), "contact_count": 5})
	ready := draftWaitAIDone(t, de.env, d.ID, de.csm)
	oldRow := draftDBRow(t, de.env, d.ID)
	rotate := "/v1/approval-drafts/" + d.ID + "/rotate-link"

	// Refusals write nothing.
	before := dbState(t, de.pool)
	for _, role := range []string{storage.RoleCSM, storage.RoleEditor, storage.RoleCollaborator, storage.RoleApprover} {
		status, body := de.do(t, http.MethodPost, rotate, de.A.Tokens[role], nil)
		requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
	}
	status, body := de.do(t, http.MethodPost, rotate, de.B.Tokens[storage.RoleAdmin], nil)
	requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
	for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
		status, body := de.do(t, http.MethodPost, "/v1/approval-drafts/"+id+"/rotate-link", de.admin, nil)
		requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
	}
	status, body = de.do(t, http.MethodPost, rotate, "", nil)
	requireError(t, status, body, http.StatusUnauthorized, string(errs.Unauthorized))
	requireNoWrites(t, de.pool, before)

	// The admin rotates: a new link, a new hash, the old hash gone.
	var rotated draftJSON
	de.doJSON(t, http.StatusOK, http.MethodPost, rotate, de.admin, nil, &rotated)
	require.Equal(t, d.ID, rotated.ID)
	require.Equal(t, storage.DraftStatusReady, rotated.Status)
	require.NotNil(t, rotated.ShareURL)
	require.NotEqual(t, *ready.ShareURL, *rotated.ShareURL)
	prefix := de.server.App.PublicURL + "/r/"
	require.True(t, strings.HasPrefix(*rotated.ShareURL, prefix))
	token := strings.TrimPrefix(*rotated.ShareURL, prefix)
	require.Len(t, token, 43)
	newRow := draftDBRow(t, de.env, d.ID)
	sum := sha256.Sum256([]byte(token))
	require.Equal(t, sum[:], newRow.TokenHash)
	require.NotEqual(t, oldRow.TokenHash, newRow.TokenHash)
	require.False(t, bytes.Contains(newRow.TokenSealed, []byte(token)))
	var n int
	require.NoError(t, de.pool.QueryRow(ctx, `SELECT count(*) FROM approval_drafts WHERE token_hash = $1`, oldRow.TokenHash).Scan(&n))
	require.Zero(t, n, "the old token no longer resolves")
	require.Equal(t, *oldRow.Snapshot, *newRow.Snapshot, "rotating does not touch the snapshot")
	require.Equal(t, *rotated.ShareURL, *draftGet(t, de.env, d.ID, de.csm).ShareURL, "the CSM copies the new link")

	// The old link answers the same 404 as an unknown token, page and JSON API alike (R-REVIEW-2).
	oldToken := strings.TrimPrefix(*ready.ShareURL, prefix)
	unknown := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	for _, path := range []string{"/r/", "/v1/public/reviews/"} {
		old := de.request(t, http.MethodGet, path+oldToken, "", nil)
		unk := de.request(t, http.MethodGet, path+unknown, "", nil)
		require.Equal(t, http.StatusNotFound, old.Code, "GET %s{old token}", path)
		require.Equal(t, unk.Code, old.Code)
		// The bodies may only differ by their request ids.
		oldBody := strings.ReplaceAll(old.Body.String(), old.Header().Get(api.RequestIDHeader), "")
		unkBody := strings.ReplaceAll(unk.Body.String(), unk.Header().Get(api.RequestIDHeader), "")
		require.Equal(t, unkBody, oldBody, "a rotated token is indistinguishable from an unknown one")
	}

	// Each rotation issues a new token.
	var again draftJSON
	de.doJSON(t, http.StatusOK, http.MethodPost, rotate, de.admin, nil, &again)
	require.NotEqual(t, *rotated.ShareURL, *again.ShareURL)

	// A processing draft, then a failed one: 409 draft_not_ready, nothing written.
	busy := draftInsertProcessing(t, de.env, de.A, de.camp.ID)
	before = dbState(t, de.pool)
	status, body = de.do(t, http.MethodPost, "/v1/approval-drafts/"+busy+"/rotate-link", de.admin, nil)
	requireError(t, status, body, http.StatusConflict, string(errs.DraftNotReady))
	requireNoWrites(t, de.pool, before)
	de.fx.FailDraft(t, busy, "test")
	before = dbState(t, de.pool)
	status, body = de.do(t, http.MethodPost, "/v1/approval-drafts/"+busy+"/rotate-link", de.admin, nil)
	requireError(t, status, body, http.StatusConflict, string(errs.DraftNotReady))
	requireNoWrites(t, de.pool, before)
}

// TestDraftTenantIsolation checks another account's drafts, campaigns and uploads answer 404 or 422
// exactly as unknown ones (R-AUTH-2, R-DRAFT-3).
func TestDraftTenantIsolation(t *testing.T) {
	t.Parallel()
	de := newDraftEnv(t)
	draftStartWorker(t, de, draftWorkerOpts{})
	d := draftCreate(t, de.env, de.camp.ID, de.csm, map[string]any{"source": draftSearchSource(de.search.ID), "contact_count": 3})
	draftWaitAIDone(t, de.env, d.ID, de.csm)

	bCSM, bAdmin := de.B.Tokens[storage.RoleCSM], de.B.Tokens[storage.RoleAdmin]
	bCamp := draftCampaign(t, de.env, de.B, "B's campaign")
	bUpload, _ := draftUploadOK(t, de.env, bCSM, "b.csv", draftCSV("First Name,Last Name,Company Name", "Bea,Bee,B Corp"), "")

	before := dbState(t, de.pool)
	for _, tok := range []string{bCSM, bAdmin} {
		status, body := de.do(t, http.MethodGet, "/v1/approval-drafts/"+d.ID, tok, nil)
		requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
		status, body = de.do(t, http.MethodGet, "/v1/campaigns/"+de.camp.ID+"/approval-drafts", tok, nil)
		requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
		status, body = de.do(t, http.MethodPost, "/v1/campaigns/"+de.camp.ID+"/approval-drafts", tok,
			map[string]any{"source": map[string]any{"type": "csv", "csv_upload_id": bUpload}})
		requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
	}
	status, body := de.do(t, http.MethodPost, "/v1/approval-drafts/"+d.ID+"/rotate-link", bAdmin, nil)
	requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))

	// A's CSM cannot use B's upload or B's campaign as a source.
	status, _, raw := draftPost(t, de.env, de.camp.ID, de.csm, map[string]any{"source": map[string]any{"type": "csv", "csv_upload_id": bUpload}})
	requireInvalid(t, status, raw, "source.csv_upload_id")
	status, _, raw = draftPost(t, de.env, de.camp.ID, de.csm, map[string]any{"source": map[string]any{"type": "campaign_leads", "campaign_id": bCamp.ID}})
	requireInvalid(t, status, raw, "source.campaign_id")
	requireNoWrites(t, de.pool, before)

	// B's own draft from its upload: numbered in B's campaign, listed only to B, and A does not see it.
	bd := draftCreate(t, de.env, bCamp.ID, bCSM, map[string]any{"source": map[string]any{"type": "csv", "csv_upload_id": bUpload}})
	require.Equal(t, 1, bd.Number)
	draftWaitAIDone(t, de.env, bd.ID, bCSM)
	require.Equal(t, []string{bd.ID}, draftIDs(t, de.env, "/v1/campaigns/"+bCamp.ID+"/approval-drafts", bCSM))
	require.Equal(t, []string{d.ID}, draftIDs(t, de.env, "/v1/campaigns/"+de.camp.ID+"/approval-drafts", de.csm))
	status, body = de.do(t, http.MethodGet, "/v1/approval-drafts/"+bd.ID, de.csm, nil)
	requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
	bLeads := draftLeads(t, de.env, *draftDBRow(t, de.env, bd.ID).CopyID)
	require.Len(t, bLeads, 1)
	require.Equal(t, "Bea", bLeads[0].FirstName)
}

// TestDraftProgressCountsImportedLeads checks the progress counts the leads actually imported when the
// source has fewer usable people than contact_count (R-DRAFT-8): once done, done = total = the leads.
func TestDraftProgressCountsImportedLeads(t *testing.T) {
	t.Parallel()
	de := newDraftEnv(t)
	draftStartWorker(t, de, draftWorkerOpts{})
	rows := draftCSVPeople(25)
	for i := 0; i < 5; i++ {
		rows[i*5] = fmt.Sprintf("Skip%d,,skip%d@csv.test,Co,CTO", i, i) // no last name: skipped
	}
	up, _ := draftUploadOK(t, de.env, de.csm, "partial.csv", draftCSV("First Name,Last Name,Email,Company Name,Title", rows...), "")
	d := draftCreate(t, de.env, de.camp.ID, de.csm, map[string]any{"contact_count": 25, "source": map[string]any{"type": "csv", "csv_upload_id": up}})
	done := draftWaitAIDone(t, de.env, d.ID, de.csm)
	leads := draftLeads(t, de.env, *draftDBRow(t, de.env, d.ID).CopyID)
	require.Len(t, leads, 20, "the 5 incomplete rows are skipped")
	require.Equal(t, storage.Progress{Step: "done", Done: len(leads), Total: len(leads)}, *done.Progress,
		"progress must count the %d leads built, not the %d asked for", len(leads), d.ContactCount)
}

// TestDraftCampaignDeleteLeavesNoOrphanCopy deletes a campaign that has a ready draft: whatever the
// answer, no hidden copy or its leads may be left without a draft (R-DRAFT-9 "no orphan copy",
// R-DRAFT-13).
func TestDraftCampaignDeleteLeavesNoOrphanCopy(t *testing.T) {
	t.Parallel()
	de := newDraftEnv(t)
	draftStartWorker(t, de, draftWorkerOpts{})
	ctx := context.Background()
	d := draftCreate(t, de.env, de.camp.ID, de.csm, map[string]any{"source": draftSearchSource(de.search.ID), "contact_count": 3})
	draftWaitAIDone(t, de.env, d.ID, de.csm)

	// R-DRAFT-13: the drafts are a permanent record, so the campaign is kept.
	status, body := de.do(t, http.MethodDelete, "/v1/campaigns/"+de.camp.ID, de.csm, nil)
	requireError(t, status, body, http.StatusConflict, "campaign_has_drafts")
	var kept int
	require.NoError(t, de.pool.QueryRow(ctx, `SELECT count(*) FROM approval_drafts WHERE campaign_id = $1`, de.camp.ID).Scan(&kept))
	require.Equal(t, 1, kept, "the draft stays as a permanent record")
	var orphans, orphanLeads int
	require.NoError(t, de.pool.QueryRow(ctx, `SELECT count(*) FROM campaigns c WHERE c.hidden
		AND NOT EXISTS (SELECT 1 FROM approval_drafts d WHERE d.copy_campaign_id = c.id)`).Scan(&orphans))
	require.NoError(t, de.pool.QueryRow(ctx, `SELECT count(*) FROM campaign_leads l JOIN campaigns c ON c.id = l.campaign_id
		WHERE c.hidden AND NOT EXISTS (SELECT 1 FROM approval_drafts d WHERE d.copy_campaign_id = c.id)`).Scan(&orphanLeads))
	require.Zero(t, orphans, "hidden copies left without a draft")
	require.Zero(t, orphanLeads, "leads of hidden copies left without a draft")
}

// TestDraftFeedbackBeforeReview checks GET /v1/approval-drafts/{id}/feedback (R-DRAFT-12, §9) on a
// draft nobody has reviewed yet: the status and two empty lists; CSMs and admins only; 404 across accounts.
func TestDraftFeedbackBeforeReview(t *testing.T) {
	t.Parallel()
	de := newDraftEnv(t)
	draftStartWorker(t, de, draftWorkerOpts{})
	d := draftCreate(t, de.env, de.camp.ID, de.csm, map[string]any{"source": draftSearchSource(de.search.ID), "contact_count": 3})
	draftWaitAIDone(t, de.env, d.ID, de.csm)
	path := "/v1/approval-drafts/" + d.ID + "/feedback"

	for _, tok := range []string{de.csm, de.admin} {
		status, body := de.do(t, http.MethodGet, path, tok, nil)
		require.Equal(t, http.StatusOK, status, "answer: %v", body)
		require.Equal(t, storage.DraftStatusReady, body["status"], "answer: %v", body)
		require.Equal(t, []any{}, body["in_review"], "answer: %v", body)
		require.Equal(t, []any{}, body["submitted"], "answer: %v", body)
	}
	for _, role := range []string{storage.RoleCollaborator, storage.RoleApprover, storage.RoleEditor} {
		status, body := de.do(t, http.MethodGet, path, de.A.Tokens[role], nil)
		requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
	}
	status, body := de.do(t, http.MethodGet, path, de.B.Tokens[storage.RoleAdmin], nil)
	requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
}

// TestDraftEndpointsDocumented checks api/openapi.yaml documents the draft and CSV endpoints (§9:
// bodies not named in the SPEC are documented there).
func TestDraftEndpointsDocumented(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rec := e.request(t, http.MethodGet, "/openapi.yaml", "", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	doc := rec.Body.String()
	var missing []string
	for _, p := range []string{"/v1/csv-uploads", "/v1/campaigns/{id}/approval-drafts", "/v1/approval-drafts/{id}",
		"/v1/approval-drafts/{id}/rotate-link", "/v1/approval-drafts/{id}/feedback"} {
		if !strings.Contains(doc, "\n  "+p+":") {
			missing = append(missing, p)
		}
	}
	require.Empty(t, missing, "paths missing from api/openapi.yaml")
}

// TestDraftApprovalNeverLaunches checks R-DRAFT-13: a client approving a draft changes nothing of
// the campaign (no status, approval or launch), starts no approval request, and the approved draft
// stays in the campaign's list as a permanent record. It looks once the draft's workflow has ended,
// so nothing it could still do is missed.
func TestDraftApprovalNeverLaunches(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	ctx := context.Background()
	d := re.reviewReadyDraft(t)
	campBefore := rowJSON(t, re.pool, "campaigns", d.CampaignID)
	copyBefore := rowJSON(t, re.pool, "campaigns", d.CopyID)

	var sub map[string]any
	re.doJSON(t, http.StatusOK, http.MethodPost, reviewPath(d.Token, "/submit"), "", map[string]any{"author": "Ana"}, &sub)
	require.Equal(t, storage.DraftStatusApproved, sub["status"], "no feedback: the client approves the draft")
	wctx, cancel := context.WithTimeout(ctx, draftTimeout)
	defer cancel()
	var result string
	require.NoError(t, testenv.Temporal(t).GetWorkflow(wctx, workflows.ApprovalDraftWorkflowID(d.ID), "").Get(wctx, &result),
		"the draft's workflow ends after the submit")
	require.Equal(t, storage.DraftStatusApproved, result)

	require.Equal(t, campBefore, rowJSON(t, re.pool, "campaigns", d.CampaignID), "the campaign is untouched by the draft's approval")
	require.Equal(t, copyBefore, rowJSON(t, re.pool, "campaigns", d.CopyID), "the hidden copy is untouched too")
	var launches, requests int
	require.NoError(t, re.pool.QueryRow(ctx, `SELECT count(*) FROM campaign_launches WHERE campaign_id = ANY($1::uuid[])`,
		[]string{d.CampaignID, d.CopyID}).Scan(&launches))
	require.NoError(t, re.pool.QueryRow(ctx, `SELECT count(*) FROM approval_requests WHERE campaign_id = ANY($1::uuid[])`,
		[]string{d.CampaignID, d.CopyID}).Scan(&requests))
	require.Zero(t, launches, "launch records of the campaign or its copy")
	require.Zero(t, requests, "approval requests of the campaign or its copy")
	require.Equal(t, []string{d.ID}, draftIDs(t, re.env, "/v1/campaigns/"+d.CampaignID+"/approval-drafts", re.csm),
		"the approved draft stays in the list")
	require.Equal(t, storage.DraftStatusApproved, re.reviewGetDraft(t, d.ID).Status)
}
