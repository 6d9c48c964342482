package api_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/storage"
)

// draftCopyHold holds every build of a test's worker before its copy step: its CopyCampaign waits
// until release, then runs the real step. Each build that reaches the step sends its draft id on
// reached first.
type draftCopyHold struct {
	reached chan string
	open    chan struct{}
	once    sync.Once
}

// newDraftCopyHold makes a hold that is released, at the latest, when t ends.
func newDraftCopyHold(t *testing.T) *draftCopyHold {
	h := &draftCopyHold{reached: make(chan string, 16), open: make(chan struct{})}
	t.Cleanup(h.release)
	return h
}

// release lets every held build, and every later one, through the copy step.
func (h *draftCopyHold) release() { h.once.Do(func() { close(h.open) }) }

// register replaces CopyCampaign on w with the held step, which runs real's CopyCampaign once released.
func (h *draftCopyHold) register(real *activities.Activities) func(w worker.Worker) {
	return func(w worker.Worker) {
		w.RegisterActivityWithOptions(func(ctx context.Context, in activities.DraftInput) (string, error) {
			select {
			case h.reached <- in.DraftID:
			default:
			}
			select {
			case <-h.open:
			case <-ctx.Done():
				return "", ctx.Err()
			}
			return real.CopyCampaign(ctx, in)
		}, activity.RegisterOptions{Name: "CopyCampaign", DisableAlreadyRegisteredCheck: true})
	}
}

// waitReached waits until the build of draft id reaches the copy step.
func (h *draftCopyHold) waitReached(t *testing.T, id string) {
	t.Helper()
	select {
	case got := <-h.reached:
		require.Equal(t, id, got, "the build that reached the copy step")
	case <-time.After(draftTimeout):
		t.Fatalf("draft %s: the build did not reach its copy step within %s", id, draftTimeout)
	}
}

// TestDraftBuildsFromFrozenVersion checks R-VER-7 (and R-DRAFT-10 before the copy) on the real servers:
// asking for a draft freezes the campaign's working copy as a version, in the request, and the draft
// reports it as campaign_version; the build is held before its copy step while the campaign's name,
// segments, subject and body are edited; a repeat of the request meanwhile answers the same draft and
// freezes nothing; once released, the copy, the snapshot the client reviews and the emails are those of
// the frozen version, not the edited working copy. The next draft freezes the edit as version 2, and
// the first draft keeps its own.
func TestDraftBuildsFromFrozenVersion(t *testing.T) {
	t.Parallel()
	de := newDraftEnv(t)
	ctx := context.Background()
	hold := newDraftCopyHold(t)
	draftStartWorker(t, de, draftWorkerOpts{register: hold.register(&activities.Activities{Store: de.store})})
	require.Empty(t, de.versions(t, de.camp.ID, de.csm), "nothing is frozen before the draft")
	original := de.storedCampaign(t, de.A.Account.ID, de.camp.ID)
	originalHash := storage.FrozenOf(original).Hash()

	body := map[string]any{"source": draftSearchSource(de.search.ID), "contact_count": 5}
	d := draftCreate(t, de.env, de.camp.ID, de.csm, body)
	require.NotNil(t, d.CampaignVersion, "the new draft reports the version it builds from")
	require.Equal(t, 1, *d.CampaignVersion)
	versions := de.versions(t, de.camp.ID, de.csm)
	require.Equal(t, []int{1}, versionNumbers(versions), "the draft's request froze the working copy")
	require.Equal(t, originalHash, versions[0].ContentHash)
	require.Equal(t, de.A.Users[storage.RoleCSM].ID, *versions[0].CreatedBy, "frozen by the CSM who asked for the draft")
	require.Equal(t, "none", versions[0].ApprovalStatus, "a draft approves nothing")

	hold.waitReached(t, d.ID)
	require.Nil(t, draftDBRow(t, de.env, d.ID).CopyID, "the build waits before its copy step")

	// The campaign is edited while the build waits.
	edited := draftContent()
	edited.Segments = edited.Segments[:1]
	edited.Segments[0].Name = "Edited while building (zq7)"
	edited.Sequences[0].Steps[0].Subject = "An edited subject (zq7)"
	edited.Sequences[0].Steps[0].Body = "One edited paragraph (zq7)."
	edited.Prompts[0].Text = "An edited prompt (zq7)."
	status, raw := de.do(t, http.MethodPatch, "/v1/campaigns/"+de.camp.ID, de.csm, map[string]any{"name": "Renamed while building (zq7)", "content": edited})
	require.Equal(t, http.StatusOK, status, "answer: %v", raw)
	editedHash := storage.FrozenOf(de.storedCampaign(t, de.A.Account.ID, de.camp.ID)).Hash()
	require.NotEqual(t, originalHash, editedHash)

	// The same request while the draft builds answers it, still pinned to version 1, and freezes nothing.
	status, again, raw := draftPost(t, de.env, de.camp.ID, de.csm, body)
	require.Equal(t, http.StatusOK, status, "answer: %v", raw)
	require.Equal(t, d.ID, again.ID)
	require.Equal(t, 1, *again.CampaignVersion)
	require.Equal(t, []int{1}, versionNumbers(de.versions(t, de.camp.ID, de.csm)), "a repeat freezes nothing")

	hold.release()
	built := draftWaitAIDone(t, de.env, d.ID, de.csm)
	require.NotNil(t, built.CampaignVersion)
	require.Equal(t, 1, *built.CampaignVersion)

	// The copy holds version 1's frozen fields (its mode is test; the rest is the version's).
	v1 := de.version(t, de.camp.ID, 1, de.csm)
	row := draftDBRow(t, de.env, d.ID)
	require.NotNil(t, row.CopyID)
	copied, err := de.store.Campaign(ctx, de.A.Account.ID, *row.CopyID)
	require.NoError(t, err)
	require.Equal(t, storage.CampaignModeTest, copied.Mode)
	require.Equal(t, 1, copied.Version)
	copiedFields := storage.FrozenOf(copied)
	copiedFields.Mode = v1.Mode
	require.Equal(t, v1.ContentHash, copiedFields.Hash(), "the copy is version 1, field for field")
	require.Equal(t, original.Name, copied.Name)
	require.Len(t, copied.Content.Segments, 2)
	require.Equal(t, draftContent().Prompts[0].Text, copied.Content.Prompts[0].Text)

	// What the client reviews is the campaign as it was when the draft was asked for.
	snap := draftSnapshot(t, row)
	require.Equal(t, original.Name, snap.Campaign.Name)
	require.Len(t, snap.Audience.Segments, 2)
	require.Equal(t, "Software leaders", snap.Audience.Segments[0].Name)
	require.Equal(t, draftContent().Sequences[0].Steps[0].Subject, snap.Emails[0].Subject)
	var paragraphs []string
	for _, p := range snap.Emails[0].Paragraphs {
		paragraphs = append(paragraphs, p.Text)
	}
	require.Contains(t, strings.Join(paragraphs, "\n"), "lose a day every month to manual reporting")
	require.NotContains(t, *row.Snapshot, "zq7", "nothing of the edit reaches the draft")

	// The next draft freezes the edited working copy as version 2 and shows it; the first keeps version 1.
	d2 := draftCreate(t, de.env, de.camp.ID, de.csm, body)
	require.Equal(t, 2, *d2.CampaignVersion)
	versions = de.versions(t, de.camp.ID, de.csm)
	require.Equal(t, []int{2, 1}, versionNumbers(versions))
	require.Equal(t, editedHash, versions[0].ContentHash)
	draftWaitAIDone(t, de.env, d2.ID, de.csm)
	snap2 := draftSnapshot(t, draftDBRow(t, de.env, d2.ID))
	require.Equal(t, "Renamed while building (zq7)", snap2.Campaign.Name)
	require.Equal(t, "An edited subject (zq7)", snap2.Emails[0].Subject)
	require.Len(t, snap2.Audience.Segments, 1)
	require.Equal(t, *row.Snapshot, *draftDBRow(t, de.env, d.ID).Snapshot, "the first draft's snapshot is unchanged")
	require.Equal(t, 1, *draftGet(t, de.env, d.ID, de.csm).CampaignVersion)

	// The list reports each draft's version too.
	var list struct {
		Items []draftJSON `json:"items"`
	}
	de.doJSON(t, http.StatusOK, http.MethodGet, "/v1/campaigns/"+de.camp.ID+"/approval-drafts", de.csm, nil, &list)
	require.Len(t, list.Items, 2)
	require.Equal(t, 2, *list.Items[0].CampaignVersion)
	require.Equal(t, 1, *list.Items[1].CampaignVersion)
}
