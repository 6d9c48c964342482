package app

import (
	"context"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/webhooks"
)

// WebhookEndpoint is a receiver of the account's events (R-HOOK-1).
type WebhookEndpoint = storage.WebhookEndpoint

// WebhookDelivery is one delivery of an event to an endpoint, with its attempts (R-HOOK-4).
type WebhookDelivery = storage.WebhookDelivery

// WebhookAttempt is one POST of a delivery.
type WebhookAttempt = storage.WebhookAttempt

// WebhookEventTypes are the event types an endpoint may subscribe to.
var WebhookEventTypes = storage.WebhookEventTypes

// CreateWebhookInput is what an admin registers.
type CreateWebhookInput struct {
	URL         string
	Events      []string
	Description string
}

// CreatedWebhook is a new endpoint with its secret, shown this once.
type CreatedWebhook struct {
	Endpoint WebhookEndpoint
	Secret   string
}

// maxDeliveriesListed bounds GET /v1/webhooks/{id}/deliveries.
const maxDeliveriesListed = 100

// mayManageWebhooks is the rule of every webhook use case: settings.manage (admins).
func mayManageWebhooks(u User) error { return requirePermission(u, storage.PermSettingsManage) }

// CreateWebhook registers an endpoint (R-HOOK-1): the URL under R-HOOK-5's rules, at least one known event
// type (422 otherwise), and a new whsec_ secret stored sealed, as share tokens are.
func (a *App) CreateWebhook(ctx context.Context, u User, in CreateWebhookInput) (CreatedWebhook, error) {
	if err := mayManageWebhooks(u); err != nil {
		return CreatedWebhook{}, err
	}
	in.URL = strings.TrimSpace(in.URL)
	if err := checkWritten("url", in.URL, true, false, 2000); err != nil {
		return CreatedWebhook{}, err
	}
	if err := webhooks.CheckURL(in.URL, a.WebhookAllowPrivate); err != nil {
		return CreatedWebhook{}, errs.Invalid("url", strings.TrimPrefix(err.Error(), "url "))
	}
	if err := checkWritten("description", in.Description, false, false, 500); err != nil {
		return CreatedWebhook{}, err
	}
	events, err := webhookEvents(in.Events)
	if err != nil {
		return CreatedWebhook{}, err
	}
	if a.Sealer == nil {
		return CreatedWebhook{}, errors.New("no SIGNOFF_SECRET_KEY configured")
	}
	secret, err := webhooks.NewSecret()
	if err != nil {
		return CreatedWebhook{}, err
	}
	e, err := a.Store.CreateWebhookEndpoint(ctx, storage.NewWebhookEndpoint{AccountID: u.AccountID, URL: in.URL,
		Description: in.Description, Events: events, SecretSealed: a.Sealer.Seal(secret), CreatedBy: u.ID})
	if err != nil {
		return CreatedWebhook{}, storeErr(err)
	}
	return CreatedWebhook{Endpoint: e, Secret: secret}, nil
}

// webhookEvents checks an event filter: at least one type, each one of WebhookEventTypes; it answers them
// once each, in the order given.
func webhookEvents(list []string) ([]string, error) {
	if len(list) == 0 {
		return nil, errs.Invalid("events", "list at least one event type, such as approval_request.approved")
	}
	out := make([]string, 0, len(list))
	for _, t := range list {
		if !slices.Contains(WebhookEventTypes, t) {
			return nil, errs.Invalid("events", "unknown event type "+quote(t)+"; known types: "+strings.Join(WebhookEventTypes, ", "))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// quote is s in double quotes, cut to 60 characters.
func quote(s string) string {
	if utf8.RuneCountInString(s) > 60 {
		s = string([]rune(s)[:60]) + "…"
	}
	return `"` + s + `"`
}

// Webhooks lists the account's endpoints.
func (a *App) Webhooks(ctx context.Context, u User) ([]WebhookEndpoint, error) {
	if err := mayManageWebhooks(u); err != nil {
		return nil, err
	}
	list, err := a.Store.WebhookEndpoints(ctx, u.AccountID)
	return list, storeErr(err)
}

// Webhook returns one endpoint of the account.
func (a *App) Webhook(ctx context.Context, u User, id string) (WebhookEndpoint, error) {
	if err := mayManageWebhooks(u); err != nil {
		return WebhookEndpoint{}, err
	}
	e, err := a.Store.WebhookEndpoint(ctx, u.AccountID, id)
	return e, storeErr(err)
}

// DeleteWebhook removes an endpoint; its deliveries in flight stop before their next attempt.
func (a *App) DeleteWebhook(ctx context.Context, u User, id string) error {
	if err := mayManageWebhooks(u); err != nil {
		return err
	}
	// Deliveries waiting on a retry timer would otherwise end only at their next attempt, up to an hour
	// later: read them first (the rows go with the endpoint), cancel their runs after the delete.
	pending, err := a.Store.StartedPendingDeliveries(ctx, u.AccountID, id)
	if err != nil {
		return storeErr(err)
	}
	if err := a.Store.DeleteWebhookEndpoint(ctx, u.AccountID, id); err != nil {
		return storeErr(err)
	}
	a.cancelDeliveries(ctx, pending)
	return nil
}

// WebhookDeliveries lists the newest deliveries of an endpoint with their attempts (R-HOOK-4).
func (a *App) WebhookDeliveries(ctx context.Context, u User, endpointID string) ([]WebhookDelivery, error) {
	if err := mayManageWebhooks(u); err != nil {
		return nil, err
	}
	list, err := a.Store.WebhookDeliveries(ctx, u.AccountID, endpointID, maxDeliveriesListed)
	return list, storeErr(err)
}

// Redeliver sends the event of a delivery again, as a new delivery with the same webhook-id (R-HOOK-4);
// an endpoint that a 410 disabled answers 409.
func (a *App) Redeliver(ctx context.Context, u User, endpointID, deliveryID string) (WebhookDelivery, error) {
	if err := mayManageWebhooks(u); err != nil {
		return WebhookDelivery{}, err
	}
	e, err := a.Store.WebhookEndpoint(ctx, u.AccountID, endpointID)
	if err != nil {
		return WebhookDelivery{}, storeErr(err)
	}
	if !e.Enabled {
		return WebhookDelivery{}, errs.New(errs.WebhookDisabled, "this endpoint is disabled (its receiver answered 410 Gone); register it again to receive events")
	}
	d, err := a.Store.Redeliver(ctx, u.AccountID, endpointID, deliveryID)
	return d, storeErr(err)
}
