package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// Launch is the record of one version of a campaign going live.
type Launch = storage.Launch

// Launch launches campaign campaignID for an external scheduler (R-APPR-8), once per version; a repeat
// answers the same record with created false. Holders of campaigns.launch (admins) may launch any
// campaign, users with the approval right their own. Whether the campaign may launch (approved for its current version, or needing no
// approval: not active, approvals off, or launched by its creator holding the approval right where
// self-approval is allowed) is decided by the store inside the launching transaction, with the
// campaign row locked, so a concurrent submit or edit cannot slip between the check and the launch.
func (a *App) Launch(ctx context.Context, u User, campaignID string) (l Launch, created bool, err error) {
	camp, err := a.visibleCampaign(ctx, u, campaignID)
	if err != nil {
		return Launch{}, false, err
	}
	if !mayLaunch(u, camp) {
		return Launch{}, false, errs.New(errs.Forbidden, "only holders of campaigns.launch (admins), and users with the approval right for their own campaigns, may launch")
	}
	l, created, err = a.Store.LaunchCampaign(ctx, storage.LaunchInput{AccountID: u.AccountID, CampaignID: camp.ID, ActorID: &u.ID, Source: "api"})
	switch {
	case errors.Is(err, storage.ErrNotLaunchable):
		return Launch{}, false, errs.New(errs.ApprovalRequired, "this campaign needs an approved request of its current version before it launches "+
			"(a direct launch by its creator counts only when self-approval is allowed)")
	case errors.Is(err, storage.ErrCampaignInError):
		return Launch{}, false, errs.New(errs.NotSubmittable, "a campaign in error cannot launch; fix it and set it ready")
	case err != nil:
		return Launch{}, false, storeErr(err)
	}
	return l, created, nil
}

// mayLaunch reports whether u may launch camp directly: a holder of campaigns.launch, or its creator
// holding the approval right.
func mayLaunch(u User, camp Campaign) bool {
	return u.Can(storage.PermCampaignsLaunch) || (camp.CreatedBy == u.ID && u.Can(storage.PermApprovalsApprove))
}

// Launches lists the launch records of campaign campaignID of u's account, newest first.
func (a *App) Launches(ctx context.Context, u User, campaignID string) ([]Launch, error) {
	if err := a.campaignExists(ctx, u, campaignID); err != nil {
		return nil, err
	}
	list, err := a.Store.Launches(ctx, u.AccountID, campaignID)
	return list, storeErr(err)
}

// LaunchCursor marks the last launch of a page of the feed; the next page starts after it.
type LaunchCursor = storage.LaunchCursor

// MaxLaunchPage is the most launch records one page of the feed holds; DefaultLaunchPage the page
// size when none is asked for.
const (
	MaxLaunchPage     = 500
	DefaultLaunchPage = 100
)

// ErrLaunchFeedLimit refuses a feed page size that is not a whole number from 1 to MaxLaunchPage.
var ErrLaunchFeedLimit = errs.Invalid("limit", fmt.Sprintf("must be a whole number from 1 to %d", MaxLaunchPage))

// ErrLaunchFeedCursor refuses a feed cursor that names no position of the caller's account's feed.
var ErrLaunchFeedCursor = errs.Invalid("after", "is not a cursor this API returned")

// LaunchFeedInput asks for one page of the launch feed: Limit records (nil for DefaultLaunchPage)
// after After (nil for the first page).
type LaunchFeedInput struct {
	Limit *int
	After *LaunchCursor
	// AfterLaunchID, when set instead of After, is a cursor of the feed before it was ordered by
	// commit (migration 00015): the id of the last launch the poller saw. The page starts after it.
	AfterLaunchID *string
}

// LaunchPage is one page of the launch feed, oldest first; Next is where the next page starts, nil
// on the last page.
type LaunchPage struct {
	Items []Launch
	Next  *LaunchCursor
}

// LaunchFeed pages through the launch records of u's account, oldest first, for schedulers that
// poll (R-VER-3); it needs campaigns.launch (admins, whose tokens schedulers use). Each record
// carries its version's content hash and content. The order is the store's commit-stable feed order
// (storage.Store.LaunchFeed): a launch that commits after a poller moved past its start time is still
// served after the poller's cursor.
func (a *App) LaunchFeed(ctx context.Context, u User, in LaunchFeedInput) (LaunchPage, error) {
	if err := requirePermission(u, storage.PermCampaignsLaunch); err != nil {
		return LaunchPage{}, err
	}
	limit := DefaultLaunchPage
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > MaxLaunchPage {
			return LaunchPage{}, ErrLaunchFeedLimit
		}
		limit = *in.Limit
	}
	if in.AfterLaunchID != nil {
		pos, err := a.Store.LaunchPosition(ctx, u.AccountID, *in.AfterLaunchID)
		if errors.Is(err, storage.ErrNotFound) {
			return LaunchPage{}, ErrLaunchFeedCursor
		}
		if err != nil {
			return LaunchPage{}, storeErr(err)
		}
		in.After = &pos
	}
	list, err := a.Store.LaunchFeed(ctx, u.AccountID, in.After, limit+1)
	if err != nil {
		return LaunchPage{}, storeErr(err)
	}
	page := LaunchPage{Items: list}
	if len(list) > limit {
		page.Items = list[:limit]
		page.Next = &list[limit-1].Position
	}
	if page.Items == nil {
		page.Items = []Launch{}
	}
	return page, nil
}
