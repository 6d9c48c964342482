package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/storage"
)

// Company size ranges: a `company_size_min: 3000000000` would make a build wait on a step Postgres
// refuses (the integer does not fit) until its retries run out. Ranges are checked at the API (they
// must fit the integer column the directory and the leads keep sizes in, and min ≤ max), and a build
// whose data the database refuses fails at once with a reason a CSM can act on.

// TestFilterRangesRefused: out-of-range company sizes in saved searches and in campaign
// segments (created or edited) answer 422 naming the field and store nothing; the column's own
// bounds are accepted.
func TestFilterRangesRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	csm, admin := e.A.Tokens[storage.RoleCSM], e.A.Tokens[storage.RoleAdmin]
	camp := e.newCampaign(t, e.A, storage.RoleAdmin, "Ranges")

	cases := []struct {
		name  string
		body  string // the filters object
		field string // the field the 422 names, under filters
		say   string // what the message says
	}{
		{"min beyond the integer column", `{"company_size_min":3000000000}`, "company_size_min", "0 to 2147483647"},
		{"max beyond the integer column", `{"company_size_max":3000000000}`, "company_size_max", "0 to 2147483647"},
		{"one past the column", `{"company_size_min":2147483648}`, "company_size_min", "0 to 2147483647"},
		{"negative min", `{"company_size_min":-1}`, "company_size_min", "0 to 2147483647"},
		{"negative max", `{"company_size_max":-5}`, "company_size_max", "0 to 2147483647"},
		{"min above max", `{"company_size_min":600,"company_size_max":500}`, "company_size_max", "company_size_min"},
		{"beyond int64", `{"company_size_min":1e20}`, "company_size_min", "whole number"},
		{"a fraction", `{"company_size_max":10.5}`, "company_size_max", "whole number"},
	}
	before := dbState(t, e.pool)
	for _, tc := range cases {
		status, body := e.do(t, http.MethodPost, "/v1/saved-searches", csm, `{"name":"S","filters":`+tc.body+`}`)
		errObj := requireInvalid(t, status, body, "filters."+tc.field)
		require.Contains(t, errObj["message"], tc.say, tc.name)

		seg := `{"segments":[{"name":"Seg","filters":` + tc.body + `}]}`
		status, body = e.do(t, http.MethodPost, "/v1/campaigns", admin, `{"name":"C","content":`+seg+`}`)
		if tc.say == "whole number" {
			// A number no Go int holds is refused by the decoder, which names the field without indices.
			requireInvalid(t, status, body, "content.segments.filters."+tc.field)
		} else {
			errObj = requireInvalid(t, status, body, "content.segments[0].filters."+tc.field)
			require.Contains(t, errObj["message"], tc.say, tc.name)
		}
		status, body = e.do(t, http.MethodPatch, "/v1/campaigns/"+camp.ID, admin, `{"content":`+seg+`}`)
		require.Equal(t, http.StatusUnprocessableEntity, status, "%s: %v", tc.name, body)
	}
	requireNoWrites(t, e.pool, before)

	// The column's bounds themselves are accepted, and min = max is a range of one.
	for _, f := range []string{`{"company_size_min":0,"company_size_max":2147483647}`, `{"company_size_min":2147483647,"company_size_max":2147483647}`} {
		status, body := e.do(t, http.MethodPost, "/v1/saved-searches", csm, `{"name":"Edge","filters":`+f+`}`)
		require.Equal(t, http.StatusCreated, status, "%s: %v", f, body)
		status, body = e.do(t, http.MethodPatch, "/v1/campaigns/"+camp.ID, admin, `{"content":{"segments":[{"name":"Seg","filters":`+f+`}]}}`)
		require.Equal(t, http.StatusOK, status, "%s: %v", f, body)
	}
}

// TestBuildWithUnstorableFiltersFailsAtOnce: a saved search stored before the API checked
// ranges (written here through the store, which takes it) makes the build fail at its first attempt, well
// within draftTimeout instead of after ten minutes, with a reason naming the saved search and the
// filter, and leaves nothing behind.
func TestBuildWithUnstorableFiltersFailsAtOnce(t *testing.T) {
	t.Parallel()
	de := newDraftEnv(t)
	draftStartWorker(t, de, draftWorkerOpts{})
	giant := 3000000000
	searchID := draftSavedSearch(t, de.env, de.A, "Legacy giants",
		storage.SearchFilters{Industries: []string{"Software"}, CompanySizeMin: &giant}).ID
	hidden := draftHiddenCampaigns(t, de.env)

	d := draftCreate(t, de.env, de.camp.ID, de.csm, map[string]any{"source": draftSearchSource(searchID), "contact_count": 5})
	got := draftWaitBuilt(t, de.env, d.ID, de.csm, storage.DraftStatusFailed)
	require.NotNil(t, got.FailureReason)
	reason := *got.FailureReason
	require.Contains(t, reason, "Legacy giants", "the reason names the saved search")
	require.Contains(t, reason, "company_size_min", "the reason names the filter")
	require.True(t, strings.Contains(reason, "Correct the saved search"), "the reason says what to do: %s", reason)
	require.Equal(t, int32(1), draftActivityAttempts(t, de.env, d.ID)["ResolveContacts"], "not retried")
	require.Equal(t, hidden, draftHiddenCampaigns(t, de.env), "no copy left behind")
}

// TestCSVCompanySizeBeyondTheColumnIsNoSize: a CSV whose company sizes no integer column holds must not
// stall the import (Postgres would refuse each lead, and the step be retried for ten minutes). Such a
// size is no size, as text that is no number is: the draft is built, its leads without a size.
func TestCSVCompanySizeBeyondTheColumnIsNoSize(t *testing.T) {
	t.Parallel()
	de := newDraftEnv(t)
	draftStartWorker(t, de, draftWorkerOpts{})
	rows := []string{"Ada,Lovelace,Engines Ltd,3000000000", "Alan,Turing,Bletchley,99999999999999999999", "Grace,Hopper,Navy,250"}
	id, _ := draftUploadOK(t, de.env, de.csm, "sizes.csv", draftCSV("First Name,Last Name,Company Name,Company Size", rows...), "")
	d := draftCreate(t, de.env, de.camp.ID, de.csm, map[string]any{"source": map[string]any{"type": "csv", "csv_upload_id": id}, "contact_count": 3})
	draftWaitBuilt(t, de.env, d.ID, de.csm, storage.DraftStatusReady)

	copyID := draftDBRow(t, de.env, d.ID).CopyID
	require.NotNil(t, copyID)
	sizes := map[string]*int{}
	rs, err := de.pool.Query(context.Background(), `SELECT first_name, company_size FROM campaign_leads WHERE campaign_id = $1`, *copyID)
	require.NoError(t, err)
	for rs.Next() {
		var name string
		var size *int
		require.NoError(t, rs.Scan(&name, &size))
		sizes[name] = size
	}
	require.NoError(t, rs.Err())
	require.Len(t, sizes, 3)
	require.Nil(t, sizes["Ada"])
	require.Nil(t, sizes["Alan"])
	require.NotNil(t, sizes["Grace"])
	require.Equal(t, 250, *sizes["Grace"])
}
