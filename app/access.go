package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// mayEdit reports whether u is an "editor of" campaign c (SPEC §3): admins, editors and CSMs of
// its account, and the user who created it.
func mayEdit(u User, c storage.Campaign) bool { return mayEditCreatedBy(u, c.CreatedBy) }

// mayEditCreatedBy is mayEdit for a campaign created by createdBy.
func mayEditCreatedBy(u User, createdBy string) bool {
	switch u.Role {
	case storage.RoleAdmin, storage.RoleEditor, storage.RoleCSM:
		return true
	}
	return createdBy == u.ID
}

// requireRole refuses (403) unless u has one of roles.
func requireRole(u User, roles ...string) error {
	for _, r := range roles {
		if u.Role == r {
			return nil
		}
	}
	return errs.Newf(errs.Forbidden, "this needs the role %s; you are %s", strings.Join(roles, " or "), u.Role)
}

// visibleCampaign loads the header of campaign id of u's account, archived ones included (404 when
// there is none).
func (a *App) visibleCampaign(ctx context.Context, u User, id string) (storage.Campaign, error) {
	camp, err := a.Store.CampaignSummaryVisible(ctx, u.AccountID, id)
	return camp, storeErr(err)
}

// campaignOfEditor loads campaign id (archived ones too) and refuses (403) unless u may edit it;
// verb completes "may … it" in that answer.
func (a *App) campaignOfEditor(ctx context.Context, u User, id, verb string) (storage.Campaign, error) {
	camp, err := a.visibleCampaign(ctx, u, id)
	if err != nil {
		return storage.Campaign{}, err
	}
	if !mayEdit(u, camp) {
		return storage.Campaign{}, errs.New(errs.Forbidden, fmt.Sprintf("only admins, editors, CSMs and the campaign's creator may %s it", verb))
	}
	return camp, nil
}

// editableCampaign is campaignOfEditor that also refuses an archived campaign (409).
func (a *App) editableCampaign(ctx context.Context, u User, id, verb string) (storage.Campaign, error) {
	camp, err := a.campaignOfEditor(ctx, u, id, verb)
	if err == nil && camp.ArchivedAt != nil {
		return storage.Campaign{}, errs.New(errs.CampaignArchived, archivedMessage)
	}
	return camp, err
}
