package app

import (
	"context"
	"fmt"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// Every authorization check of the use cases asks for a permission (R-AUTH-5), through User.Can, and
// never for a role's name: a role is only the permission set it holds (docs/roles.md).

// requirePermission refuses (403) unless u holds permission p; the answer names the permission and u's role.
func requirePermission(u User, p string) error {
	if u.Can(p) {
		return nil
	}
	return errs.Newf(errs.Forbidden, "this needs the permission %s, which your role %s does not have", p, u.Role)
}

// mayEdit reports whether u is an "editor of" campaign c (SPEC §3): a holder of campaigns.edit_any
// (admins, editors and CSMs among the built-in roles), or the user who created it.
func mayEdit(u User, c storage.Campaign) bool {
	return u.Can(storage.PermCampaignsEditAny) || c.CreatedBy == u.ID
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
		return storage.Campaign{}, errs.New(errs.Forbidden, fmt.Sprintf("only the campaign's creator and holders of the permission %s "+
			"(admins, editors and CSMs) may %s it", storage.PermCampaignsEditAny, verb))
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
