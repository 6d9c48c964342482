package app

import (
	"context"
	"errors"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// Launch is the record of one version of a campaign going live.
type Launch = storage.Launch

// Launch launches campaign campaignID for an external scheduler (R-APPR-8), once per version; a repeat
// answers the same record with created false. Admins may launch any campaign, users with the approval
// right their own. Whether the campaign may launch (approved for its current version, or needing no
// approval: not active, approvals off, or launched by its creator holding the approval right where
// self-approval is allowed) is decided by the store inside the launching transaction, with the
// campaign row locked, so a concurrent submit or edit cannot slip between the check and the launch.
func (a *App) Launch(ctx context.Context, u User, campaignID string) (l Launch, created bool, err error) {
	camp, err := a.visibleCampaign(ctx, u, campaignID)
	if err != nil {
		return Launch{}, false, err
	}
	if !mayLaunch(u, camp) {
		return Launch{}, false, errs.New(errs.Forbidden, "only admins, and users with the approval right for their own campaigns, may launch")
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

// mayLaunch reports whether u may launch camp directly: an admin, or its creator holding the
// approval right.
func mayLaunch(u User, camp Campaign) bool {
	return u.Role == storage.RoleAdmin || (camp.CreatedBy == u.ID && u.HasApprovalRight())
}

// Launches lists the launch records of campaign campaignID of u's account, newest first.
func (a *App) Launches(ctx context.Context, u User, campaignID string) ([]Launch, error) {
	if err := a.campaignExists(ctx, u, campaignID); err != nil {
		return nil, err
	}
	list, err := a.Store.Launches(ctx, u.AccountID, campaignID)
	return list, storeErr(err)
}
