package schema_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/demodata"
	"github.com/signoff/signoff/schema"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// TestLaunchFeedOrderCarriedOver fills a database of the release before versions with launches of
// two accounts, written in another order than their launched_at, migrates it, and checks migration
// 00015's carry-over: each account's launches are numbered in the order the feed served them before,
// (launched_at, id), so a poller keeps its place; a cursor of the old feed (the last launch seen)
// resumes after that launch; and the next launch of an account is numbered after its carried-over ones.
func TestLaunchFeedOrderCarriedOver(t *testing.T) {
	ctx := context.Background()
	pool := testenv.EmptyDatabase(t)
	_, err := schema.MigrateTo(ctx, pool, lastReleaseVersion)
	require.NoError(t, err)

	o := oldRelease{t: t, pool: pool}
	acctA, acctB, adminA, adminB := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	for acct, admin := range map[string]string{acctA: adminA, acctB: adminB} {
		o.exec(`INSERT INTO accounts (id, name) VALUES ($1, $2)`, acct, "Old "+acct[:8])
		o.exec(`INSERT INTO users (id, account_id, email, name, role) VALUES ($1, $2, $3, 'Old admin', 'admin')`,
			admin, acct, admin[:8]+"@old.test")
	}
	base := time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC)
	one := 1
	send := demodata.Campaigns(base)[0]
	send.Mode = storage.CampaignModeTest
	launch := func(acct, admin string, at time.Duration) string {
		camp := o.campaign(acct, admin, send, storage.CampaignStatusLive, "none", 1, &one)
		id := uuid.NewString()
		o.exec(`INSERT INTO campaign_launches (id, account_id, campaign_id, version, launched_by, source, launched_at)
			VALUES ($1, $2, $3, 1, $4, 'api', $5)`, id, acct, camp, admin, base.Add(at))
		return id
	}
	// Written in this order; launched_at says otherwise.
	a3 := launch(acctA, adminA, 2*time.Hour)
	a1 := launch(acctA, adminA, 0)
	b1 := launch(acctB, adminB, 30*time.Minute)
	a2 := launch(acctA, adminA, time.Hour)

	_, err = schema.Migrate(ctx, pool)
	require.NoError(t, err)

	store := storage.New(pool)
	ids := func(list []storage.Launch) []string {
		out := []string{}
		for _, l := range list {
			out = append(out, l.ID)
		}
		return out
	}
	feedA, err := store.LaunchFeed(ctx, acctA, nil, 10)
	require.NoError(t, err)
	require.Equal(t, []string{a1, a2, a3}, ids(feedA), "oldest first, as the feed served them before")
	for i, l := range feedA {
		require.EqualValues(t, i+1, l.Position.Seq)
	}
	feedB, err := store.LaunchFeed(ctx, acctB, nil, 10)
	require.NoError(t, err)
	require.Equal(t, []string{b1}, ids(feedB), "numbered per account")
	require.EqualValues(t, 1, feedB[0].Position.Seq)

	// A poller of the old feed whose last launch seen was a2 resumes after it.
	pos, err := store.LaunchPosition(ctx, acctA, a2)
	require.NoError(t, err)
	after, err := store.LaunchFeed(ctx, acctA, &pos, 10)
	require.NoError(t, err)
	require.Equal(t, []string{a3}, ids(after))
	_, err = store.LaunchPosition(ctx, acctB, a2)
	require.ErrorIs(t, err, storage.ErrNotFound, "another account's launch is no position in B's feed")

	// The next launch of account A comes after its carried-over ones.
	send.Name = "After the migration"
	camp, err := store.CreateCampaign(ctx, acctA, adminA, send)
	require.NoError(t, err)
	l, created, err := store.LaunchCampaign(ctx, storage.LaunchInput{AccountID: acctA, CampaignID: camp.ID, ActorID: &adminA, Source: "api"})
	require.NoError(t, err)
	require.True(t, created)
	require.EqualValues(t, 4, l.Position.Seq)
	after, err = store.LaunchFeed(ctx, acctA, &pos, 10)
	require.NoError(t, err)
	require.Equal(t, []string{a3, l.ID}, ids(after))
}
