package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNotLaunchable is returned when the campaign's approval no longer covers its current version.
var ErrNotLaunchable = errors.New("campaign is not approved for launch")

// Launch is the record the sending system reads: this version of this campaign is live (R-APPR-8).
type Launch struct {
	ID         string    `json:"id"`
	CampaignID string    `json:"campaign_id"`
	Version    int       `json:"version"`
	RequestID  *string   `json:"request_id"`
	LaunchedBy *string   `json:"launched_by"`
	Source     string    `json:"source"`
	LaunchedAt time.Time `json:"launched_at"`
}

// LaunchInput says what to launch and on whose behalf.
type LaunchInput struct {
	AccountID  string
	CampaignID string
	// RequestID, when set, must be the approved request of the campaign's current version.
	RequestID *string
	ActorID   *string
	Source    string // "workflow" or "api"
}

const launchColumns = `id, campaign_id, version, request_id, launched_by, source, launched_at`

func launchScan(l *Launch) []any {
	return []any{&l.ID, &l.CampaignID, &l.Version, &l.RequestID, &l.LaunchedBy, &l.Source, &l.LaunchedAt}
}

// LaunchCampaign sets the campaign live and writes its launch record, once per version: a second
// call returns the first record with created false.
func (s *Store) LaunchCampaign(ctx context.Context, in LaunchInput) (l Launch, created bool, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var version int
		var approval string
		if err := tx.QueryRow(ctx, `SELECT version, approval_status FROM campaigns WHERE account_id = $1 AND id = $2 AND NOT hidden FOR UPDATE`,
			in.AccountID, in.CampaignID).Scan(&version, &approval); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT `+launchColumns+` FROM campaign_launches WHERE campaign_id = $1 AND version = $2`,
			in.CampaignID, version).Scan(launchScan(&l)...)
		if err == nil {
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if in.RequestID != nil {
			var ok bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM approval_requests WHERE id = $1 AND campaign_id = $2
				AND status = 'approved' AND campaign_version = $3)`, *in.RequestID, in.CampaignID, version).Scan(&ok); err != nil {
				return err
			}
			if !ok || approval != RequestApproved {
				return ErrNotLaunchable
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE campaigns SET status = 'live', live_version = version, updated_at = now() WHERE id = $1`,
			in.CampaignID); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO campaign_launches (account_id, campaign_id, version, request_id, launched_by, source)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+launchColumns,
			in.AccountID, in.CampaignID, version, in.RequestID, in.ActorID, in.Source).Scan(launchScan(&l)...); err != nil {
			return err
		}
		created = true
		if in.RequestID != nil {
			return insertEvent(ctx, tx, *in.RequestID, EventLaunched, in.ActorID, "", *in.RequestID+":launched")
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrNotLaunchable) {
			return Launch{}, false, fmt.Errorf("storage: launch: %w", err)
		}
		return Launch{}, false, notFound("storage: launch", err)
	}
	return l, created, nil
}

// Launches lists a campaign's launch records, newest first.
func (s *Store) Launches(ctx context.Context, accountID, campaignID string) ([]Launch, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+launchColumns+` FROM campaign_launches WHERE account_id = $1 AND campaign_id = $2
		ORDER BY launched_at DESC`, accountID, campaignID)
	if err != nil {
		return nil, fmt.Errorf("storage: launches: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Launch, error) {
		var l Launch
		return l, r.Scan(launchScan(&l)...)
	})
	if err != nil {
		return nil, fmt.Errorf("storage: launches: %w", err)
	}
	return out, nil
}
