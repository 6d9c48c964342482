package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNotLaunchable is returned when the campaign may not launch without an approval it does not have:
// its approval no longer covers its current version, a request is pending, or it needs one (R-APPR-8).
var ErrNotLaunchable = errors.New("campaign is not approved for launch")

// PinnedVersionError refuses the workflow's launch of the version its request pinned (R-VER-2, R-VER-3)
// because the campaign's approval no longer stands on exactly that version and hash: an edit dropped
// it, another request's approval replaced it, or the hash given is not the version's. It is an
// ErrNotLaunchable (errors.Is).
type PinnedVersionError struct {
	// Pinned and PinnedHash are the version and content_hash the request pinned.
	Pinned     int
	PinnedHash string
	// Approved is the campaign's approved version now, nil when no approval stands.
	Approved *int
	// StoredHash is the content_hash version Pinned holds; it differs from PinnedHash only when the
	// pin given does not match the version.
	StoredHash string
}

func (e *PinnedVersionError) Error() string {
	switch {
	case e.Approved == nil:
		return fmt.Sprintf("version %d was approved, but the campaign no longer has an approved version", e.Pinned)
	case *e.Approved != e.Pinned:
		return fmt.Sprintf("version %d was approved, but the campaign's approved version is now %d", e.Pinned, *e.Approved)
	default:
		return fmt.Sprintf("version %d holds content_hash %s, not the pinned %s", e.Pinned, e.StoredHash, e.PinnedHash)
	}
}

// Unwrap makes a PinnedVersionError an ErrNotLaunchable.
func (e *PinnedVersionError) Unwrap() error { return ErrNotLaunchable }

// Launch is the record the sending system reads: this version of this campaign is live (R-APPR-8).
type Launch struct {
	ID         string    `json:"id"`
	CampaignID string    `json:"campaign_id"`
	Version    int       `json:"version"`
	RequestID  *string   `json:"request_id"`
	LaunchedBy *string   `json:"launched_by"`
	Source     string    `json:"source"`
	LaunchedAt time.Time `json:"launched_at"`
	// ContentHash and Content are those of the launched version, read from the immutable
	// campaign_versions row (R-VER-3): what the sending system sends, never the working copy.
	ContentHash string          `json:"content_hash"`
	Content     CampaignContent `json:"content"`
	// Position is the record's place in the account's launch feed (LaunchFeed).
	Position LaunchCursor `json:"-"`
}

// LaunchCursor is a position in an account's launch feed: the feed number (campaign_launches.feed_seq)
// of the last launch read. Launches are numbered per account in the order they commit (LaunchCampaign).
type LaunchCursor struct {
	Seq int64
}

// LaunchInput says what to launch and on whose behalf.
type LaunchInput struct {
	AccountID  string
	CampaignID string
	// RequestID, when set, is the approved request the workflow launches: it launches the version the
	// request pinned, and only while that is the campaign's approved version. Without it (POST …/launch)
	// the store decides whether the campaign may launch.
	RequestID *string
	// Version and ContentHash are the version and content_hash the request pinned (R-VER-2), carried by
	// the workflow; they must be the request's. Zero (a workflow started before it carried them): the
	// request's row says what it pinned.
	Version     int
	ContentHash string
	ActorID     *string
	Source      string // "workflow" or "api"
}

// launchSelect reads launch records l with their version's content hash and content: versions are
// immutable and campaign_launches (campaign_id, version) is a foreign key to campaign_versions, so
// the join always finds the launched version.
const launchSelect = `SELECT l.id, l.campaign_id, l.version, l.request_id, l.launched_by, l.source, l.launched_at,
	v.content_hash, v.content, l.feed_seq FROM campaign_launches l
	JOIN campaign_versions v ON v.campaign_id = l.campaign_id AND v.version = l.version`

func launchScan(l *Launch) []any {
	return []any{&l.ID, &l.CampaignID, &l.Version, &l.RequestID, &l.LaunchedBy, &l.Source, &l.LaunchedAt,
		&l.ContentHash, &l.Content, &l.Position.Seq}
}

// LaunchCampaign sets the campaign live and writes its launch record, once per version: a second
// call returns the first record with created false. Everything it decides on is read in its one
// transaction with the campaign row locked, so a concurrent submit or edit either commits first and
// is seen, or waits until the launch has committed.
//
// With in.RequestID it is the workflow's launch (R-VER-3): it launches the version the request pinned
// when the request is approved and that version, with that content_hash, is the campaign's approved
// version; otherwise nothing launches and the error is a *PinnedVersionError (or ErrNotLaunchable).
//
// Without in.RequestID it is the direct launch of R-APPR-2 and R-APPR-8: an approved campaign launches
// its approved version with the approved request of that version; otherwise it launches only when it
// needs no approval (mode not active, approvals off, or its creator holds the approval right and the
// account allows self-approval), and then launches its working copy frozen as a version (R-VER-1). A
// pending request, or a needed approval, is ErrNotLaunchable; a campaign in status error is
// ErrCampaignInError; an archived one ErrCampaignArchived.
func (s *Store) LaunchCampaign(ctx context.Context, in LaunchInput) (l Launch, created bool, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var version int
		var approvedVersion *int
		var status, mode, approval, createdBy string
		var archived, approvalEnabled, allowSelf bool
		if err := tx.QueryRow(ctx, `SELECT c.version, c.approved_version, c.status, c.mode, c.approval_status, c.created_by,
			c.archived_at IS NOT NULL, a.approval_enabled, a.allow_self_approval
			FROM campaigns c JOIN accounts a ON a.id = c.account_id
			WHERE c.account_id = $1 AND c.id = $2 AND NOT c.hidden FOR UPDATE OF c`, in.AccountID, in.CampaignID).
			Scan(&version, &approvedVersion, &status, &mode, &approval, &createdBy, &archived, &approvalEnabled, &allowSelf); err != nil {
			return err
		}
		direct := in.RequestID == nil
		if archived && direct {
			return ErrCampaignArchived
		}
		if archived {
			// The workflow records launch_skipped, as for any approval that no longer covers the campaign.
			return ErrNotLaunchable
		}
		switch {
		case !direct:
			if err := resolvePin(ctx, tx, &in); err != nil {
				return err
			}
			version = in.Version
		case approval == RequestStatusApproved:
			// An approved campaign launches the version its approval approved (R-VER-2, R-VER-3).
			if approvedVersion == nil {
				return ErrNotLaunchable
			}
			version = *approvedVersion
		case approval != RequestStatusPending:
			// A launch without an approval launches the working copy as it is now, frozen as a version
			// (R-VER-1); a launch that is refused below rolls the version back with it.
			v, err := freeze(ctx, tx, in.CampaignID, in.ActorID)
			if err != nil {
				return err
			}
			version = v.Version
		}
		err := tx.QueryRow(ctx, launchSelect+` WHERE l.campaign_id = $1 AND l.version = $2`,
			in.CampaignID, version).Scan(launchScan(&l)...)
		launched := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		switch {
		case !direct:
			if launched {
				return nil
			}
			if err := checkPin(ctx, tx, in, approval, approvedVersion); err != nil {
				return err
			}
		case launched:
			// This version is live already: the repeat answers its record (idempotent), unless the
			// campaign has since been set to error.
		case approval == RequestStatusApproved:
			var id string
			err := tx.QueryRow(ctx, `SELECT id FROM approval_requests WHERE campaign_id = $1 AND status = 'approved'
				AND campaign_version = $2 ORDER BY decided_at DESC LIMIT 1`, in.CampaignID, version).Scan(&id)
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrNotLaunchable
			}
			if err != nil {
				return err
			}
			in.RequestID = &id
		case approval == RequestStatusPending:
			return ErrNotLaunchable
		default:
			selfLaunch := false
			if in.ActorID != nil && *in.ActorID == createdBy && allowSelf {
				if err := tx.QueryRow(ctx, `SELECT `+hasRightSQL+` FROM users u WHERE u.id = $1 AND u.account_id = $2`,
					*in.ActorID, in.AccountID).Scan(&selfLaunch); err != nil && !errors.Is(err, pgx.ErrNoRows) {
					return err
				}
			}
			if mode == CampaignModeActive && approvalEnabled && !selfLaunch {
				return ErrNotLaunchable
			}
		}
		// A campaign in error never launches, whoever asks; only a version already live answers its
		// record to the workflow's retry.
		if status == CampaignStatusError && (direct || !launched) {
			return ErrCampaignInError
		}
		if launched {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE campaigns SET status = 'live', live_version = $2, updated_at = now() WHERE id = $1`,
			in.CampaignID, version); err != nil {
			return err
		}
		// The record takes the account's next feed number. The counter row stays locked until this
		// transaction ends, so the account's next launch is numbered only after this one committed (or
		// rolled back, giving its number back): feed numbers follow commit order, without gaps
		// (migration 00015). Only the history event is written after it.
		if err := tx.QueryRow(ctx, `WITH n AS (
				INSERT INTO launch_feed_counters AS f (account_id, last_seq) VALUES ($1, 1)
				ON CONFLICT (account_id) DO UPDATE SET last_seq = f.last_seq + 1 RETURNING last_seq),
			l AS (INSERT INTO campaign_launches (account_id, campaign_id, version, request_id, launched_by, source, feed_seq)
				SELECT $1, $2, $3, $4, $5, $6, n.last_seq FROM n RETURNING *)
			SELECT l.id, l.campaign_id, l.version, l.request_id, l.launched_by, l.source, l.launched_at, v.content_hash, v.content,
			  l.feed_seq
			FROM l JOIN campaign_versions v ON v.campaign_id = l.campaign_id AND v.version = l.version`,
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
		if errors.Is(err, ErrNotLaunchable) || errors.Is(err, ErrCampaignInError) || errors.Is(err, ErrCampaignArchived) {
			return Launch{}, false, fmt.Errorf("storage: launch: %w", err)
		}
		return Launch{}, false, notFound("storage: launch", err)
	}
	return l, created, nil
}

// resolvePin fills in the version and hash request in.RequestID pinned when the workflow did not carry
// them, and refuses a pin that is not the request's. A request that is not the campaign's is not found.
func resolvePin(ctx context.Context, tx pgx.Tx, in *LaunchInput) error {
	var pinned int
	var pinnedHash string
	if err := tx.QueryRow(ctx, `SELECT campaign_version, content_hash FROM approval_requests WHERE id = $1 AND campaign_id = $2`,
		*in.RequestID, in.CampaignID).Scan(&pinned, &pinnedHash); err != nil {
		return err
	}
	if in.Version == 0 {
		in.Version, in.ContentHash = pinned, pinnedHash
	}
	if in.Version != pinned || in.ContentHash != pinnedHash {
		return fmt.Errorf("request %s pinned version %d (%s), not version %d (%s): %w",
			*in.RequestID, pinned, pinnedHash, in.Version, in.ContentHash, ErrNotLaunchable)
	}
	return nil
}

// checkPin refuses the workflow's launch of in.Version unless the request is approved and the
// campaign's approval (approval, approvedVersion) stands on exactly that version, whose stored
// content_hash is in.ContentHash.
func checkPin(ctx context.Context, tx pgx.Tx, in LaunchInput, approval string, approvedVersion *int) error {
	var requestApproved bool
	var storedHash string
	if err := tx.QueryRow(ctx, `SELECT r.status = 'approved', v.content_hash FROM approval_requests r
		JOIN campaign_versions v ON v.campaign_id = r.campaign_id AND v.version = $2
		WHERE r.id = $1`, *in.RequestID, in.Version).Scan(&requestApproved, &storedHash); err != nil {
		return err
	}
	if !requestApproved {
		return ErrNotLaunchable
	}
	if approval != RequestStatusApproved {
		approvedVersion = nil
	}
	if approvedVersion == nil || *approvedVersion != in.Version || storedHash != in.ContentHash {
		return &PinnedVersionError{Pinned: in.Version, PinnedHash: in.ContentHash, Approved: approvedVersion, StoredHash: storedHash}
	}
	return nil
}

// Launches lists a campaign's launch records, newest first.
func (s *Store) Launches(ctx context.Context, accountID, campaignID string) ([]Launch, error) {
	rows, err := s.Pool.Query(ctx, launchSelect+` WHERE l.account_id = $1 AND l.campaign_id = $2
		ORDER BY l.launched_at DESC, l.id DESC`, accountID, campaignID)
	return collectLaunches(rows, err, "storage: launches")
}

// LaunchFeed lists up to limit launch records of account accountID in feed order, after the cursor
// when given (R-VER-3). The feed is ordered by feed number, which LaunchCampaign gives in commit
// order: a reader that sees a launch sees every launch numbered before it, so what the feed serves only
// grows at its end, and a poller that resumes from its cursor never misses a launch that committed
// late. Oldest first, as committed.
func (s *Store) LaunchFeed(ctx context.Context, accountID string, after *LaunchCursor, limit int) ([]Launch, error) {
	var from int64
	if after != nil {
		from = after.Seq
	}
	rows, err := s.Pool.Query(ctx, launchSelect+` WHERE l.account_id = $1 AND l.feed_seq > $3
		ORDER BY l.feed_seq LIMIT $2`, accountID, limit, from)
	return collectLaunches(rows, err, "storage: launch feed")
}

// LaunchPosition is the feed position of launch id of account accountID: where a cursor of the feed
// before migration 00015, which named the last launch a poller saw, resumes. ErrNotFound when the
// account has no such launch.
func (s *Store) LaunchPosition(ctx context.Context, accountID, id string) (LaunchCursor, error) {
	var cur LaunchCursor
	err := s.Pool.QueryRow(ctx, `SELECT feed_seq FROM campaign_launches WHERE account_id = $1 AND id = $2`,
		accountID, id).Scan(&cur.Seq)
	if err != nil {
		return LaunchCursor{}, notFound("storage: launch position", err)
	}
	return cur, nil
}

func collectLaunches(rows pgx.Rows, err error, what string) ([]Launch, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Launch, error) {
		var l Launch
		return l, r.Scan(launchScan(&l)...)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
