package api_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// The tests below check R-POL-3 over HTTP on the real servers: a request's audience_size is the
// number of directory contacts its campaign's segments match at submission, for every request,
// with or without an approval policy.

// audienceSegments are two segments of a campaign: German CTOs, and software companies of 100
// people or more.
var audienceSegments = []storage.Segment{
	{Name: "German CTOs", Filters: storage.SearchFilters{Titles: []string{"CTO"}, Countries: []string{"Germany"}}},
	{Name: "Larger software companies", Filters: storage.SearchFilters{Industries: []string{"Software"}, CompanySizeMin: intPtr(100)}},
}

// audienceDirectory is account A's directory: 3 contacts match audienceSegments (one of them
// matches both and counts once), 4 match neither.
var audienceDirectory = []struct {
	title, country, industry string
	size                     *int
	matches                  bool
}{
	{"CTO", "Germany", "Retail", intPtr(10), true},        // segment 1
	{"cto", "germany", "Software", intPtr(500), true},     // both segments (filters ignore case)
	{"CEO", "Germany", "Software", intPtr(200), true},     // segment 2
	{"CTO", "France", "Retail", intPtr(50), false},        // a CTO, not in Germany
	{"CEO", "Germany", "Software", intPtr(50), false},     // software, too small
	{"Engineer", "Spain", "Software", nil, false},         // software, size unknown
	{"Designer", "Italy", "Finance", intPtr(1000), false}, // nothing
}

func intPtr(v int) *int { return &v }

// audienceContacts are the contacts of audienceDirectory (matching only: those that match) with
// emails made unique by tag.
func audienceContacts(tag string, matchingOnly bool) []storage.Contact {
	var out []storage.Contact
	for i, c := range audienceDirectory {
		if matchingOnly && !c.matches {
			continue
		}
		out = append(out, storage.Contact{FirstName: fmt.Sprintf("P%d", i), LastName: tag, Email: fmt.Sprintf("p%d.%s@dir.test", i, tag),
			Title: c.title, Country: c.country, Industry: c.industry, CompanySize: c.size, CompanyName: "Co " + tag, Domain: tag + ".test"})
	}
	return out
}

// campaignWithSegments creates a submittable campaign (start in an hour) of user with segments.
func (e *env) campaignWithSegments(t *testing.T, user storage.User, name string, segments []storage.Segment) storage.Campaign {
	t.Helper()
	content := testenv.CampaignContent()
	content.Segments = segments
	c, err := e.store.CreateCampaign(context.Background(), user.AccountID, user.ID, storage.NewCampaign{Name: name,
		Kind: storage.CampaignKindCampaign, Mode: storage.CampaignModeActive, StartAt: in(time.Hour), EndAt: in(2 * time.Hour), Content: content})
	require.NoError(t, err)
	return c
}

// countedAudience waits until request id answers an audience_size and returns it with the request.
func (e *env) countedAudience(t *testing.T, id, token string) (int, map[string]any) {
	t.Helper()
	get := func() map[string]any {
		code, body := e.do(t, http.MethodGet, "/v1/approval-requests/"+id, token, nil)
		require.Equal(t, http.StatusOK, code, "%v", body)
		return body
	}
	eventually(t, 30*time.Second, func() bool { return get()["audience_size"] != nil },
		func() string { return "the audience of request " + id + " was never counted" })
	body := get()
	n, ok := body["audience_size"].(float64)
	require.Truef(t, ok, "audience_size is %T %v", body["audience_size"], body["audience_size"])
	return int(n), body
}

// TestAudienceSizeOverHTTP (R-POL-3): a default request (no policy) and a request under a policy
// both answer audience_size = the number of account A's contacts the segments match (3 of 7; the
// other account's matching contacts do not count); a contact added after submission does not change
// the recorded size; a campaign without segments counts 0. The default request is decided as usual.
func TestAudienceSizeOverHTTP(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	ctx := context.Background()
	collab, approver := e.A.Users[storage.RoleCollaborator], e.A.Users[storage.RoleApprover]
	collabTok, apTok := e.A.Tokens[storage.RoleCollaborator], e.A.Tokens[storage.RoleApprover]
	n, err := e.store.InsertContacts(ctx, e.A.Account.ID, audienceContacts("a", false))
	require.NoError(t, err)
	require.Equal(t, len(audienceDirectory), n)
	_, err = e.store.InsertContacts(ctx, e.B.Account.ID, audienceContacts("b", true))
	require.NoError(t, err)
	const want = 3

	// The default: no approval policy.
	def := e.submit(t, e.campaignWithSegments(t, collab, "Default audience", audienceSegments).ID, collabTok, approver.ID)
	size, body := e.countedAudience(t, def.ID, collabTok)
	assert.Equal(t, want, size, "the default request's audience")
	assert.Nil(t, body["approval_policy"], "a default request")

	// Recorded at submission: a matching contact added since does not change it.
	_, err = e.store.InsertContacts(ctx, e.A.Account.ID, audienceContacts("late", true)[:1])
	require.NoError(t, err)
	code, approved := e.act(t, def.ID, "approve", apTok, "")
	require.Equal(t, http.StatusOK, code, "%v", approved)
	assert.Equal(t, storage.RequestStatusApproved, approved["status"])
	size, _ = e.countedAudience(t, def.ID, collabTok)
	assert.Equal(t, want, size, "the recorded size stays what submission counted")

	// Under a policy whose rule adds a stage above 3 contacts: now 4 match, so the rule holds.
	e.setPolicy(t, e.A, map[string]any{
		"stages": []any{map[string]any{"name": "marketing", "approver_ids": nil, "required": 1}},
		"rules": []any{map[string]any{"if": map[string]any{"audience_size_gt": want},
			"add_stage": map[string]any{"name": "exec", "approver_ids": []string{e.A.Users[storage.RoleAdmin].ID}, "required": 1}}}})
	pol := e.submit(t, e.campaignWithSegments(t, collab, "Policy audience", audienceSegments).ID, collabTok, approver.ID)
	size, body = e.countedAudience(t, pol.ID, collabTok)
	assert.Equal(t, want+1, size, "the request under a policy counts the directory as it is at its submission")
	assert.NotNil(t, body["approval_policy"])
	assert.Len(t, body["stages"], 2, "the rule audience_size_gt %d holds for %d contacts", want, size)

	// No segments: nobody matches.
	e.setPolicy(t, e.A, nil)
	none := e.submit(t, e.campaignWithSegments(t, collab, "No segments", []storage.Segment{}).ID, collabTok, approver.ID)
	size, _ = e.countedAudience(t, none.ID, collabTok)
	assert.Equal(t, 0, size, "a campaign without segments")
}
