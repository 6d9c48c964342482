package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// WebhookEventTypes are the events an endpoint may subscribe to (R-HOOK-1), in the order the API lists them.
var WebhookEventTypes = []string{
	"approval_request.submitted", "approval_request.approved", "approval_request.rejected",
	"approval_request.cancelled", "approval_request.timed_out", "approval_request.expired",
	"approval_request.auto_approved", "campaign.launched", "campaign.launch_skipped",
	"approval_draft.ready", "approval_draft.failed", "approval_draft.submitted",
}

// Statuses of a webhook delivery.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
	DeliveryCancelled = "cancelled"
)

// Outcomes of one delivery attempt: a 2xx answer, any other failure, or 410 Gone (which disables the endpoint).
const (
	AttemptDelivered = "delivered"
	AttemptFailed    = "failed"
	AttemptGone      = "gone"
)

// WebhookEndpoint is a receiver an admin registered (R-HOOK-1).
type WebhookEndpoint struct {
	ID             string
	AccountID      string
	URL            string
	Description    string
	Events         []string
	SecretSealed   []byte
	Enabled        bool
	DisabledReason *string
	DisabledAt     *time.Time
	CreatedBy      *string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// NewWebhookEndpoint is what registering an endpoint stores.
type NewWebhookEndpoint struct {
	AccountID    string
	URL          string
	Description  string
	Events       []string
	SecretSealed []byte
	CreatedBy    string
}

const endpointColumns = `e.id, e.account_id, e.url, e.description, e.events, e.secret_sealed, e.enabled, e.disabled_reason,
	e.disabled_at, e.created_by, e.created_at, e.updated_at`

func endpointScan(e *WebhookEndpoint) []any {
	return []any{&e.ID, &e.AccountID, &e.URL, &e.Description, &e.Events, &e.SecretSealed, &e.Enabled, &e.DisabledReason,
		&e.DisabledAt, &e.CreatedBy, &e.CreatedAt, &e.UpdatedAt}
}

// CreateWebhookEndpoint stores an enabled endpoint.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, ne NewWebhookEndpoint) (WebhookEndpoint, error) {
	var e WebhookEndpoint
	err := s.Pool.QueryRow(ctx, `INSERT INTO webhook_endpoints AS e (account_id, url, description, events, secret_sealed, created_by)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+endpointColumns,
		ne.AccountID, ne.URL, ne.Description, ne.Events, ne.SecretSealed, ne.CreatedBy).Scan(endpointScan(&e)...)
	if err != nil {
		return WebhookEndpoint{}, fmt.Errorf("storage: create webhook endpoint: %w", err)
	}
	return e, nil
}

// WebhookEndpoints lists an account's endpoints, oldest first.
func (s *Store) WebhookEndpoints(ctx context.Context, accountID string) ([]WebhookEndpoint, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints e WHERE e.account_id = $1
		ORDER BY e.created_at, e.id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("storage: webhook endpoints: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (WebhookEndpoint, error) {
		var e WebhookEndpoint
		return e, r.Scan(endpointScan(&e)...)
	})
	if err != nil {
		return nil, fmt.Errorf("storage: webhook endpoints: %w", err)
	}
	return out, nil
}

// WebhookEndpoint returns one endpoint of the account, or ErrNotFound.
func (s *Store) WebhookEndpoint(ctx context.Context, accountID, id string) (WebhookEndpoint, error) {
	var e WebhookEndpoint
	err := s.Pool.QueryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints e WHERE e.account_id = $1 AND e.id = $2`,
		accountID, id).Scan(endpointScan(&e)...)
	if err != nil {
		return WebhookEndpoint{}, notFound("storage: webhook endpoint", err)
	}
	return e, nil
}

// DeleteWebhookEndpoint removes an endpoint with its deliveries; deliveries in flight stop at their next
// attempt. A missing endpoint is ErrNotFound.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, accountID, id string) error {
	tag, err := s.Pool.Exec(ctx, `DELETE FROM webhook_endpoints WHERE account_id = $1 AND id = $2`, accountID, id)
	if err != nil {
		return fmt.Errorf("storage: delete webhook endpoint: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("storage: delete webhook endpoint: %w", ErrNotFound)
	}
	return nil
}

// StartedPendingDeliveries lists the deliveries of an endpoint whose workflow runs and has not ended
// (waiting on a retry timer, or in an attempt), so that deleting the endpoint can cancel them.
func (s *Store) StartedPendingDeliveries(ctx context.Context, accountID, endpointID string) ([]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT d.id::text FROM webhook_deliveries d
		JOIN webhook_endpoints e ON e.id = d.endpoint_id
		WHERE e.account_id = $1 AND d.endpoint_id = $2 AND d.status = $3 AND d.workflow_started_at IS NOT NULL
		ORDER BY d.created_at`, accountID, endpointID, DeliveryPending)
	if err != nil {
		return nil, fmt.Errorf("storage: started pending deliveries: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("storage: started pending deliveries: %w", err)
	}
	return ids, nil
}

// WebhookDelivery is one delivery of an event to an endpoint, with its attempts (R-HOOK-4).
type WebhookDelivery struct {
	ID             string
	EndpointID     string
	EventID        string
	EventType      string
	RedeliveryOf   *string
	Status         string
	Attempts       int
	LastStatusCode *int
	NextTryAt      *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
	AttemptList    []WebhookAttempt
}

// WebhookAttempt is one POST of a delivery.
type WebhookAttempt struct {
	Attempt      int        `json:"attempt"`
	Outcome      string     `json:"outcome"`
	ResponseCode *int       `json:"response_code"`
	Error        string     `json:"error"`
	DurationMS   int        `json:"duration_ms"`
	AttemptedAt  time.Time  `json:"attempted_at"`
	NextTryAt    *time.Time `json:"next_try_at"`
}

const deliveryColumns = `d.id, d.endpoint_id, d.event_id, ev.type, d.redelivery_of, d.status, d.attempts, d.last_status_code,
	d.next_try_at, d.created_at, d.updated_at`

func deliveryScan(d *WebhookDelivery) []any {
	return []any{&d.ID, &d.EndpointID, &d.EventID, &d.EventType, &d.RedeliveryOf, &d.Status, &d.Attempts, &d.LastStatusCode,
		&d.NextTryAt, &d.CreatedAt, &d.UpdatedAt}
}

// WebhookDeliveries lists the newest deliveries of an endpoint of the account (at most limit), each with its
// attempts in order; an unknown endpoint is ErrNotFound.
func (s *Store) WebhookDeliveries(ctx context.Context, accountID, endpointID string, limit int) ([]WebhookDelivery, error) {
	if _, err := s.WebhookEndpoint(ctx, accountID, endpointID); err != nil {
		return nil, err
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+deliveryColumns+`,
		  (SELECT COALESCE(jsonb_agg(jsonb_build_object('attempt', a.attempt, 'outcome', a.outcome, 'response_code', a.response_code,
		     'error', a.error, 'duration_ms', a.duration_ms, 'attempted_at', a.attempted_at, 'next_try_at', a.next_try_at)
		     ORDER BY a.attempt), '[]'::jsonb) FROM webhook_attempts a WHERE a.delivery_id = d.id)
		FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id
		WHERE d.account_id = $1 AND d.endpoint_id = $2 ORDER BY d.created_at DESC, d.id LIMIT $3`, accountID, endpointID, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: webhook deliveries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (WebhookDelivery, error) {
		var d WebhookDelivery
		var attempts []byte
		if err := r.Scan(append(deliveryScan(&d), &attempts)...); err != nil {
			return d, err
		}
		return d, json.Unmarshal(attempts, &d.AttemptList)
	})
	if err != nil {
		return nil, fmt.Errorf("storage: webhook deliveries: %w", err)
	}
	return out, nil
}

// Redeliver writes a new delivery of the event of delivery deliveryID to its endpoint, for the
// dispatcher to send (R-HOOK-4); an unknown delivery or endpoint is ErrNotFound.
func (s *Store) Redeliver(ctx context.Context, accountID, endpointID, deliveryID string) (WebhookDelivery, error) {
	var d WebhookDelivery
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `WITH d AS (
				INSERT INTO webhook_deliveries (account_id, event_id, endpoint_id, redelivery_of)
				SELECT o.account_id, o.event_id, o.endpoint_id, o.id FROM webhook_deliveries o
				WHERE o.account_id = $1 AND o.endpoint_id = $2 AND o.id = $3 RETURNING *)
			SELECT `+deliveryColumns+` FROM d JOIN webhook_events ev ON ev.id = d.event_id`,
			accountID, endpointID, deliveryID).Scan(deliveryScan(&d)...); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `SELECT pg_notify('webhook_deliveries', '')`)
		return err
	})
	if err != nil {
		return WebhookDelivery{}, notFound("storage: redeliver", err)
	}
	d.AttemptList = []WebhookAttempt{}
	return d, nil
}

// DeliveryKey names a delivery the dispatcher starts, with the search attributes of its workflow.
type DeliveryKey struct {
	ID         string
	AccountID  string
	CampaignID *string
	// EventType and EndpointURL name the delivery in the Temporal UI.
	EventType   string
	EndpointURL string
}

// UnstartedDeliveries lists up to limit deliveries whose workflow has not been started, oldest first.
func (s *Store) UnstartedDeliveries(ctx context.Context, limit int) ([]DeliveryKey, error) {
	rows, err := s.Pool.Query(ctx, `SELECT d.id, d.account_id, ev.campaign_id, ev.type, e.url FROM webhook_deliveries d
		JOIN webhook_events ev ON ev.id = d.event_id
		JOIN webhook_endpoints e ON e.id = d.endpoint_id
		WHERE d.workflow_started_at IS NULL ORDER BY d.created_at, d.id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: unstarted deliveries: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[DeliveryKey])
	if err != nil {
		return nil, fmt.Errorf("storage: unstarted deliveries: %w", err)
	}
	return out, nil
}

// MarkDeliveryStarted records that the delivery's workflow exists.
func (s *Store) MarkDeliveryStarted(ctx context.Context, id string) error {
	if _, err := s.Pool.Exec(ctx, `UPDATE webhook_deliveries SET workflow_started_at = now()
		WHERE id = $1 AND workflow_started_at IS NULL`, id); err != nil {
		return fmt.Errorf("storage: mark delivery started: %w", err)
	}
	return nil
}

// DeliveryToSend is what one attempt needs: the endpoint and the event, as stored.
type DeliveryToSend struct {
	DeliveryID   string
	Status       string
	EndpointURL  string
	SecretSealed []byte
	Enabled      bool
	EventID      string
	EventType    string
	AccountID    string
	CreatedAt    time.Time
	SubjectID    string
	Data         json.RawMessage
}

// DeliveryForSend loads a delivery with its endpoint and event; a delivery whose endpoint was deleted
// is ErrNotFound.
func (s *Store) DeliveryForSend(ctx context.Context, id string) (DeliveryToSend, error) {
	var d DeliveryToSend
	err := s.Pool.QueryRow(ctx, `SELECT d.id, d.status, e.url, e.secret_sealed, e.enabled, ev.id, ev.type, ev.account_id,
			ev.created_at, ev.subject_id, ev.data
		FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN webhook_events ev ON ev.id = d.event_id
		WHERE d.id = $1`, id).Scan(&d.DeliveryID, &d.Status, &d.EndpointURL, &d.SecretSealed, &d.Enabled, &d.EventID,
		&d.EventType, &d.AccountID, &d.CreatedAt, &d.SubjectID, &d.Data)
	if err != nil {
		return DeliveryToSend{}, notFound("storage: delivery for send", err)
	}
	return d, nil
}

// AttemptRecord is the result of one attempt as RecordWebhookAttempt stores it.
type AttemptRecord struct {
	DeliveryID   string
	Attempt      int
	Outcome      string // AttemptDelivered, AttemptFailed or AttemptGone
	ResponseCode *int
	Error        string
	Duration     time.Duration
	// NextTryAt is when the delivery tries again after a failure; nil when it gives up.
	NextTryAt *time.Time
}

// RecordWebhookAttempt stores an attempt once (a retry of the same attempt changes nothing) and moves the
// delivery to its status: delivered, pending with the next try, or failed; a 410 (AttemptGone) also
// disables the endpoint, so later events are not sent to it. A delivery deleted meanwhile (with its
// endpoint) records nothing.
func (s *Store) RecordWebhookAttempt(ctx context.Context, a AttemptRecord) error {
	status := DeliveryPending
	switch {
	case a.Outcome == AttemptDelivered:
		status = DeliveryDelivered
	case a.Outcome == AttemptGone || a.NextTryAt == nil:
		status = DeliveryFailed
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO webhook_attempts (delivery_id, attempt, outcome, response_code, error, duration_ms, next_try_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (delivery_id, attempt) DO NOTHING`,
			a.DeliveryID, a.Attempt, a.Outcome, a.ResponseCode, a.Error, int(a.Duration/time.Millisecond), a.NextTryAt)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET status = $2, attempts = GREATEST(attempts, $3), last_status_code = $4,
			next_try_at = $5, updated_at = now() WHERE id = $1`, a.DeliveryID, status, a.Attempt, a.ResponseCode, a.NextTryAt); err != nil {
			return err
		}
		if a.Outcome == AttemptGone {
			_, err = tx.Exec(ctx, `UPDATE webhook_endpoints e SET enabled = false, disabled_at = now(), updated_at = now(),
				disabled_reason = 'the receiver answered 410 Gone'
				FROM webhook_deliveries d WHERE d.id = $1 AND e.id = d.endpoint_id AND e.enabled`, a.DeliveryID)
		}
		return err
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return nil // the endpoint was deleted with its deliveries meanwhile: nothing left to record
	}
	if err != nil {
		return fmt.Errorf("storage: record webhook attempt: %w", err)
	}
	return nil
}

// CancelDelivery ends a pending delivery whose endpoint was disabled or deleted.
func (s *Store) CancelDelivery(ctx context.Context, id string) error {
	if _, err := s.Pool.Exec(ctx, `UPDATE webhook_deliveries SET status = 'cancelled', next_try_at = NULL, updated_at = now()
		WHERE id = $1 AND status = 'pending'`, id); err != nil {
		return fmt.Errorf("storage: cancel delivery: %w", err)
	}
	return nil
}

// DraftTokenSealed returns the sealed share token of a draft that has a live link, or nil.
func (s *Store) DraftTokenSealed(ctx context.Context, draftID string) ([]byte, error) {
	var sealed []byte
	err := s.Pool.QueryRow(ctx, `SELECT token_sealed FROM approval_drafts WHERE id = $1 AND token_hash IS NOT NULL`, draftID).Scan(&sealed)
	if err != nil {
		return nil, notFound("storage: draft token", err)
	}
	return sealed, nil
}

// WebhookChannel is the Postgres notification channel on which new deliveries are announced.
const WebhookChannel = "webhook_deliveries"

// WatchWebhookDeliveries listens on WebhookChannel over a connection of its own until ctx ends and
// calls wake for every notification, and once each time it starts listening (so deliveries written
// while it was not listening are picked up). It reconnects after failures, waiting up to retryMax, and
// returns ctx's error.
func (s *Store) WatchWebhookDeliveries(ctx context.Context, wake func(), retryMax time.Duration) error {
	const first = 50 * time.Millisecond
	wait := first
	for {
		heard, _ := s.listenWebhooks(ctx, wake)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if heard {
			wait = first
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, retryMax)
	}
}

// listenWebhooks holds one listening connection until it fails; heard reports whether it got as far as
// listening.
func (s *Store) listenWebhooks(ctx context.Context, wake func()) (heard bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, s.Pool.Config().ConnConfig.Copy())
	if err != nil {
		return false, fmt.Errorf("storage: listen webhooks: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+WebhookChannel); err != nil {
		return false, fmt.Errorf("storage: listen webhooks: %w", err)
	}
	wake()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return true, fmt.Errorf("storage: listen webhooks: %w", err)
		}
		wake()
	}
}
