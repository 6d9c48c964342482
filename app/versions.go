package app

import (
	"context"

	"github.com/signoff/signoff/storage"
)

// CampaignVersion is an immutable version of a campaign: the frozen fields, their content_hash, who
// froze it and when, and the status of the latest request that pinned it (R-VER-1).
type CampaignVersion = storage.CampaignVersion

// CampaignVersions lists the versions of campaign id of u's account (archived campaigns too), newest
// first, without their content; any user of the account may read them.
func (a *App) CampaignVersions(ctx context.Context, u User, id string) ([]CampaignVersion, error) {
	if err := a.campaignExists(ctx, u, id); err != nil {
		return nil, err
	}
	list, err := a.Store.CampaignVersions(ctx, u.AccountID, id)
	if err != nil {
		return nil, storeErr(err)
	}
	return list, nil
}

// CampaignVersionInput names one version of a campaign.
type CampaignVersionInput struct {
	CampaignID string
	Version    int
}

// CampaignVersion is one version of a campaign of u's account with its full content; not_found when
// the campaign or the version does not exist there.
func (a *App) CampaignVersion(ctx context.Context, u User, in CampaignVersionInput) (CampaignVersion, error) {
	v, err := a.Store.CampaignVersion(ctx, u.AccountID, in.CampaignID, in.Version)
	if err != nil {
		return CampaignVersion{}, storeErr(err)
	}
	return v, nil
}
