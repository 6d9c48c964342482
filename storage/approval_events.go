package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ApprovalEvent is one line of a request's append-only history (R-APPR-10).
type ApprovalEvent struct {
	Type      string    `json:"type"`
	Actor     *Actor    `json:"actor"`
	Note      string    `json:"note"`
	At        time.Time `json:"at"`
	RequestID string    `json:"request_id"`
	// Version is the campaign version the event's request pinned (R-VER-8).
	Version *int `json:"version"`
	// Approvers are the request's assigned approvers when the event was written, for submitted,
	// approvers_changed and escalated events; nil for other events and for those recorded
	// before migration 00013.
	Approvers []Actor `json:"approvers"`
	// Stage is the stage (from 0) of a stage_approved event (R-POL-2); nil for the others.
	Stage *int `json:"stage"`
}

// Actor is who caused an event; a nil actor is the system.
type Actor struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// eventApproversSQL is the approvers of request r as an event keeps them (R-VER-8): the assigned ones,
// with their names and emails of this moment, ordered as approversSQL orders them; NULL for events other
// than submitted, approvers_changed and escalated, whose type is $2.
const eventApproversSQL = `CASE WHEN $2 IN ('` + EventSubmitted + `', '` + EventApproversChanged + `', '` + EventEscalated + `') THEN
	(SELECT COALESCE(jsonb_agg(jsonb_build_object('id', u.id, 'name', u.name, 'email', u.email) ORDER BY lower(u.email)), '[]'::jsonb)
	 FROM approval_request_approvers a JOIN users u ON u.id = a.user_id WHERE a.request_id = r.id AND a.state = 'assigned') END`

// insertEvent appends an event to request requestID's history, with the version the request pinned and,
// for the events eventApproversSQL names, its approvers as they are now in tx.
func insertEvent(ctx context.Context, tx pgx.Tx, requestID, typ string, actorID *string, note, dedupeKey string) error {
	_, err := tx.Exec(ctx, `INSERT INTO approval_events (account_id, request_id, campaign_id, type, actor_id, note, dedupe_key, version, approvers)
		SELECT r.account_id, r.id, r.campaign_id, $2, $3, $4, $5, r.campaign_version, `+eventApproversSQL+`
		FROM approval_requests r WHERE r.id = $1
		ON CONFLICT (dedupe_key) DO NOTHING`, requestID, typ, actorID, note, dedupeKey)
	return err
}

// RecordEvent appends an event to a request's history once per dedupeKey.
func (s *Store) RecordEvent(ctx context.Context, requestID, typ string, actorID *string, note, dedupeKey string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := insertEvent(ctx, tx, requestID, typ, actorID, note, dedupeKey); err != nil {
			return fmt.Errorf("storage: record event: %w", err)
		}
		return nil
	})
}

const eventQuery = `SELECT e.type, e.actor_id, u.name, u.email, e.note, e.at, e.request_id, e.version, e.approvers, e.stage
	FROM approval_events e LEFT JOIN users u ON u.id = e.actor_id `

func collectEvents(rows pgx.Rows) ([]ApprovalEvent, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ApprovalEvent, error) {
		var e ApprovalEvent
		var id, name, email *string
		if err := r.Scan(&e.Type, &id, &name, &email, &e.Note, &e.At, &e.RequestID, &e.Version, &e.Approvers, &e.Stage); err != nil {
			return e, err
		}
		if id != nil {
			e.Actor = &Actor{ID: *id, Name: *name, Email: *email}
		}
		return e, nil
	})
}

// RequestHistory lists a request's events in order.
func (s *Store) RequestHistory(ctx context.Context, accountID, requestID string) ([]ApprovalEvent, error) {
	rows, err := s.Pool.Query(ctx, eventQuery+`WHERE e.account_id = $1 AND e.request_id = $2 ORDER BY e.id`, accountID, requestID)
	if err != nil {
		return nil, fmt.Errorf("storage: request history: %w", err)
	}
	out, err := collectEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("storage: request history: %w", err)
	}
	return out, nil
}

// CampaignHistory lists the events of every request of a campaign in order.
func (s *Store) CampaignHistory(ctx context.Context, accountID, campaignID string) ([]ApprovalEvent, error) {
	rows, err := s.Pool.Query(ctx, eventQuery+`WHERE e.account_id = $1 AND e.campaign_id = $2 ORDER BY e.id`, accountID, campaignID)
	if err != nil {
		return nil, fmt.Errorf("storage: campaign history: %w", err)
	}
	out, err := collectEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("storage: campaign history: %w", err)
	}
	return out, nil
}
