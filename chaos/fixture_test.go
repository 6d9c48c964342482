package chaos_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/demodata"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// chaosFixture is the account of a chaos case: a testenv tenant (one user per role), optionally a
// directory of people with one saved search matching everyone, campaigns to build drafts of and
// campaigns to submit for approval.
type chaosFixture struct {
	accountID, adminID                               string
	adminToken, csmToken, collabToken, approverToken string
	collabID, approverID                             string
	search                                           string // the saved search, when there is a directory
	draftCampaigns, requestCampaigns                 []string
}

// newChaosFixture creates the account name through the store, with directory people (none: no saved
// search either), drafts campaigns without a window and requests campaigns starting in an hour and
// ending in a day, all created by the admin from the first demo campaign.
func newChaosFixture(t *testing.T, store *storage.Store, name string, directory, drafts, requests int) chaosFixture {
	t.Helper()
	ctx := context.Background()
	tn := testenv.NewTenant(t, store, name, strings.ToLower(strings.ReplaceAll(name, " ", "-"))+".test")
	fx := chaosFixture{accountID: tn.Account.ID, adminID: tn.Users[storage.RoleAdmin].ID,
		adminToken: tn.Tokens[storage.RoleAdmin], csmToken: tn.Tokens[storage.RoleCSM],
		collabToken: tn.Tokens[storage.RoleCollaborator], approverToken: tn.Tokens[storage.RoleApprover],
		collabID: tn.Users[storage.RoleCollaborator].ID, approverID: tn.Users[storage.RoleApprover].ID}
	if directory > 0 {
		n, err := store.InsertContacts(ctx, fx.accountID, demodata.Contacts(directory))
		require.NoError(t, err)
		require.Equal(t, directory, n)
		ss, err := store.CreateSavedSearch(ctx, fx.accountID, tn.Users[storage.RoleCSM].ID, "Everyone", storage.SearchFilters{})
		require.NoError(t, err)
		fx.search = ss.ID
	}
	now := time.Now()
	for i := 0; i < drafts; i++ {
		nc := demodata.Campaigns(now)[0]
		nc.Name = fmt.Sprintf("%s — draft #%02d", nc.Name, i+1)
		c, err := store.CreateCampaign(ctx, fx.accountID, fx.adminID, nc)
		require.NoError(t, err)
		fx.draftCampaigns = append(fx.draftCampaigns, c.ID)
	}
	for i := 0; i < requests; i++ {
		nc := demodata.Campaigns(now)[0]
		nc.Name = fmt.Sprintf("%s — request #%02d", nc.Name, i+1)
		start, end := now.Add(time.Hour), now.Add(24*time.Hour)
		nc.StartAt, nc.EndAt = &start, &end
		c, err := store.CreateCampaign(ctx, fx.accountID, fx.adminID, nc)
		require.NoError(t, err)
		fx.requestCampaigns = append(fx.requestCampaigns, c.ID)
	}
	return fx
}
