package app

import (
	"context"

	"github.com/signoff/signoff/storage"
)

// ApprovalEvent is one entry of an approval history (R-APPR-10).
type ApprovalEvent = storage.ApprovalEvent

// Actor is the person an approval event names; nil on an event is the system.
type Actor = storage.Actor

// OutboxEmail is an email as the outbox holds it.
type OutboxEmail = storage.OutboxEmail

// maxOutboxEmails bounds the outbox list.
const maxOutboxEmails = 500

// RequestHistory is the history of request id of u's account, oldest first.
func (a *App) RequestHistory(ctx context.Context, u User, id string) ([]ApprovalEvent, error) {
	r, err := a.ApprovalRequest(ctx, u, id)
	if err != nil {
		return nil, err
	}
	events, err := a.Store.RequestHistory(ctx, r.AccountID, r.ID)
	return events, storeErr(err)
}

// CampaignHistory is the history of every request of campaign campaignID of u's account (archived
// campaigns too), oldest first.
func (a *App) CampaignHistory(ctx context.Context, u User, campaignID string) ([]ApprovalEvent, error) {
	if err := a.campaignExists(ctx, u, campaignID); err != nil {
		return nil, err
	}
	events, err := a.Store.CampaignHistory(ctx, u.AccountID, campaignID)
	return events, storeErr(err)
}

// Outbox is the account's latest emails, sent or not; it needs settings.manage (admins).
func (a *App) Outbox(ctx context.Context, u User) ([]OutboxEmail, error) {
	if err := requirePermission(u, storage.PermSettingsManage); err != nil {
		return nil, err
	}
	list, err := a.Store.Outbox(ctx, u.AccountID, maxOutboxEmails)
	return list, storeErr(err)
}
