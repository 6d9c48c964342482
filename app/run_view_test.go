package app

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/signoff/signoff/storage"
)

// TestRequestRunView: the Temporal UI's summary of a request names the campaign, the pinned version,
// the assigned approvers (not the removed ones) and the deadline; the details give the ids (SPEC §7).
func TestRequestRunView(t *testing.T) {
	deadline := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	start := deadline.Add(-time.Hour)
	r := storage.ApprovalRequest{ID: "req-1", CampaignID: "camp-1", CampaignVersion: 3, ContentHash: "abc", SubmittedBy: "u-0",
		DeadlineAt: deadline, LaunchAt: &start, Approvers: []storage.Approver{
			{UserID: "u-1", Name: "Avery", State: storage.ApproverStateAssigned},
			{UserID: "u-2", Name: "Removed Rita", State: "removed"},
			{UserID: "u-3", State: storage.ApproverStateAssigned},
		},
		Reminders: storage.RequestReminders{ReminderAfter: 24 * time.Hour}}
	v := RequestRunView(r, "Spring launch")
	assert.Equal(t, `Approval of "Spring launch" v3 · approvers: Avery, u-3 · deadline 2026-12-04 10:00 UTC`, v.Summary)
	for _, s := range []string{"camp-1", "req-1", "`u-1`", "`abc`", "2026-12-04T09:00:00Z", "every 24h0m0s"} {
		assert.Contains(t, v.Details, s)
	}
	assert.NotContains(t, v.Details, "Removed Rita", "a removed approver is not listed")

	r.LaunchAt, r.Approvers = nil, nil
	v = RequestRunView(r, "")
	assert.Equal(t, `Approval of "camp-1" v3 · approvers: none · deadline 2026-12-04 10:00 UTC`, v.Summary,
		"without a name the campaign's id")
	assert.Contains(t, v.Details, "as soon as approved")
}

// TestDraftRunView: the Temporal UI's summary of a draft build names the draft, the campaign, its
// version, the contact count and the review window (SPEC §7).
func TestDraftRunView(t *testing.T) {
	version := 2
	d := storage.ApprovalDraft{ID: "d-1", CampaignID: "camp-1", Number: 4, Name: "Draft 4", ContactCount: 20,
		Source: []byte(`{"type":"saved_search","saved_search_id":"s-1"}`), CampaignVersion: &version}
	v := DraftRunView(d, "Spring launch")
	assert.Equal(t, `Draft "Draft 4" of "Spring launch" v2 · 20 contacts · review window 90 days after ready`, v.Summary)
	assert.True(t, strings.Contains(v.Details, "s-1") && strings.Contains(v.Details, "d-1"), v.Details)
	d.CampaignVersion = nil
	assert.Contains(t, DraftRunView(d, "").Summary, `of "camp-1" working copy`)
}
