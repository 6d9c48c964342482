package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/api"
	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/storage"
)

// TestReviewHidesSavedSearchName: the review shows the audience by its description and segments,
// never by the name of the saved search the sample came from, which is internal to the CSM's account
// (R-REVIEW-7): not in the JSON, not on the page, also for snapshots frozen while the build still
// wrote the name into the description.
func TestReviewHidesSavedSearchName(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	const secret = `Q3 whales – do not share "internal": list`
	ss, err := re.store.CreateSavedSearch(context.Background(), re.A.Account.ID, re.A.Users[storage.RoleCSM].ID, secret,
		re.search.Filters)
	require.NoError(t, err)
	re.search = ss
	drafts := re.reviewDrafts(t, 2)
	filters := re.search.Filters.Describe()
	want := storage.SavedSearchAudience(reviewLeadCount, re.search.Filters)
	require.Contains(t, want, filters)

	// The second draft's snapshot is made to look like one frozen before the name was dropped.
	legacy := drafts[1]
	named, err := json.Marshal(secret)
	require.NoError(t, err)
	re.fx.LegacyAudienceDescription(t, legacy.ID, "Sample of 5 from the saved search "+string(named)+": "+filters+".")

	// A server with a cache of its own, so the legacy snapshot is read from the database.
	s := re.server
	h := (&api.Server{App: &app.App{Store: s.App.Store, Temporal: s.App.Temporal, PublicURL: s.App.PublicURL, TaskQueue: s.App.TaskQueue, Sealer: s.App.Sealer}, Log: s.Log}).Handler()
	for _, d := range []struct {
		name  string
		token string
	}{{"fresh build", drafts[0].Token}, {"legacy snapshot", legacy.Token}} {
		t.Run(d.name, func(t *testing.T) {
			rec := reviewSend(h, http.MethodGet, reviewPath(d.token, ""), "", "")
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			var v reviewView
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v))
			assert.Equal(t, want, v.Audience.Description, "the audience is described by its filters")
			require.NotEmpty(t, v.Audience.Segments)
			page := reviewSend(h, http.MethodGet, "/r/"+d.token, "", "")
			require.Equal(t, http.StatusOK, page.Code)
			for what, body := range map[string]string{"JSON": rec.Body.String(), "page": page.Body.String()} {
				for _, part := range []string{"Q3 whales", "do not share", re.search.ID} {
					assert.NotContains(t, body, part, "%s: the saved search's name and id stay internal", what)
				}
			}
			assert.Contains(t, page.Body.String(), strings.TrimSuffix(want, "."), "the page shows the description")
		})
	}
}

// TestAudienceForClient: a description written while builds named the saved search loses the name,
// whatever characters the name holds; other descriptions are left as they are.
func TestAudienceForClient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{`Sample of 20 from the saved search "Whales": In Software.`, "Sample of 20 contacts from a saved search: In Software."},
		{`Sample of 5 from the saved search "a \"b\": c": Titles CTO; based in DE.`,
			"Sample of 5 contacts from a saved search: Titles CTO; based in DE."},
		{`Sample of 5 from the saved search "x\\": Everyone in the directory.`,
			"Sample of 5 contacts from a saved search: Everyone in the directory."},
		{"Sample of 20 contacts from an uploaded list.", "Sample of 20 contacts from an uploaded list."},
		{"Sample of 20 leads from another campaign.", "Sample of 20 leads from another campaign."},
		{"Sample of 20 contacts from a saved search: In Software.", "Sample of 20 contacts from a saved search: In Software."},
	} {
		a := storage.SnapshotAudience{Description: tc.in, Segments: []storage.SnapshotSegment{{ID: "segment-1"}}}
		got := a.ForClient()
		assert.Equal(t, tc.want, got.Description, tc.in)
		assert.Equal(t, a.Segments, got.Segments)
	}
}
