package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// TestInboxReadsAsGetDoes: the inbox (R-APPR-11), read in three queries whatever its size, answers
// each request exactly as ApprovalRequest reads it alone (approvers and all), oldest deadline first,
// and leaves out decided requests and those the caller is no longer assigned to.
func TestInboxReadsAsGetDoes(t *testing.T) {
	ctx := context.Background()
	store := storage.New(testenv.Database(t))
	tn := testenv.NewTenant(t, store, "Inbox Co", "inbox.test")
	sub := tn.Users[storage.RoleCollaborator]
	me, other := tn.Users[storage.RoleApprover], tn.Users[storage.RoleAdmin]
	now := time.Now()
	var want []string
	for i, hours := range []int{5, 1, 3, 2, 4} {
		camp, err := store.CreateCampaign(ctx, tn.Account.ID, sub.ID, storage.NewCampaign{Name: "Inbox " + string(rune('A'+i)),
			Kind: storage.CampaignKindCampaign, Mode: storage.CampaignModeActive, Content: testenv.CampaignContent()})
		require.NoError(t, err)
		approvers := []string{me.ID, other.ID}
		if i == 4 {
			approvers = []string{other.ID} // not mine
		}
		r, err := store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: tn.Account.ID,
			CampaignID: camp.ID, SubmittedBy: sub.ID, ApproverIDs: approvers, DeadlineAt: now.Add(time.Duration(hours) * time.Hour)})
		require.NoError(t, err)
		if i == 2 {
			_, err = store.Decide(ctx, tn.Account.ID, storage.Decision{RequestID: r.ID, Type: storage.EventApproved, ActorID: &other.ID})
			require.NoError(t, err)
			continue
		}
		if i != 4 {
			want = append(want, r.ID)
		}
	}
	// Deadlines 5 h, 1 h and 2 h are mine and pending: 1 h, 2 h, 5 h.
	want = []string{want[1], want[2], want[0]}
	got, err := store.Inbox(ctx, tn.Account.ID, me.ID, nil, 0)
	require.NoError(t, err)
	require.Len(t, got, len(want))
	for i, r := range got {
		require.Equal(t, want[i], r.ID, "oldest deadline first")
		alone, err := store.ApprovalRequest(ctx, tn.Account.ID, r.ID)
		require.NoError(t, err)
		require.Equal(t, alone, r, "the inbox reads request %d as GET does", i)
		require.Len(t, r.Approvers, 2)
	}
}

// TestInboxPages: pages of the inbox (R-APPR-11) walk the same order as the whole list, deadline then
// id, each page starting after the last request of the one before, through requests sharing a
// deadline, and end with an empty page.
func TestInboxPages(t *testing.T) {
	ctx := context.Background()
	store := storage.New(testenv.Database(t))
	tn := testenv.NewTenant(t, store, "Inbox Pages Co", "inbox-pages.test")
	sub, me := tn.Users[storage.RoleCollaborator], tn.Users[storage.RoleApprover]
	base := time.Now().Add(time.Hour).Truncate(time.Second)
	for i, hours := range []int{3, 1, 3, 2, 3, 1, 4} {
		camp, err := store.CreateCampaign(ctx, tn.Account.ID, sub.ID, storage.NewCampaign{Name: "Page " + string(rune('A'+i)),
			Kind: storage.CampaignKindCampaign, Mode: storage.CampaignModeActive, Content: testenv.CampaignContent()})
		require.NoError(t, err)
		_, err = store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: tn.Account.ID,
			CampaignID: camp.ID, SubmittedBy: sub.ID, ApproverIDs: []string{me.ID}, DeadlineAt: base.Add(time.Duration(hours) * time.Hour)})
		require.NoError(t, err)
	}
	all, err := store.Inbox(ctx, tn.Account.ID, me.ID, nil, 0)
	require.NoError(t, err)
	require.Len(t, all, 7)
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		require.True(t, a.DeadlineAt.Before(b.DeadlineAt) || (a.DeadlineAt.Equal(b.DeadlineAt) && a.ID < b.ID),
			"deadline, then id: %d", i)
	}
	for _, size := range []int{1, 2, 3, 7, 10} {
		var walked []storage.ApprovalRequest
		var after *storage.InboxCursor
		for pages := 0; ; pages++ {
			require.Less(t, pages, 10, "the walk ends")
			page, err := store.Inbox(ctx, tn.Account.ID, me.ID, after, size)
			require.NoError(t, err)
			require.LessOrEqual(t, len(page), size)
			if len(page) == 0 {
				break
			}
			walked = append(walked, page...)
			last := page[len(page)-1]
			after = &storage.InboxCursor{DeadlineAt: last.DeadlineAt, ID: last.ID}
		}
		require.Equal(t, all, walked, "pages of %d", size)
	}
}
