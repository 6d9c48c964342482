package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Draft statuses of SPEC §4 and §5.
const (
	DraftStatusProcessing  = "processing"
	DraftStatusReady       = "ready"
	DraftStatusFailed      = "failed"
	DraftStatusApproved    = "approved"
	DraftStatusNotApproved = "not_approved"
)

// ErrCampaignInError is returned when a draft is asked of a campaign in status error (R-DRAFT-3).
var ErrCampaignInError = errors.New("campaign is in error")

// ErrDraftNotReady is returned for an action that needs a built draft.
var ErrDraftNotReady = errors.New("draft is not ready")

// Progress is where a build stands (R-DRAFT-8).
type Progress struct {
	Step  string `json:"step"`
	Done  int    `json:"done"`
	Total int    `json:"total"`
}

// ApprovalDraft is a sample mini-campaign built for a client's review.
type ApprovalDraft struct {
	ID            string          `json:"id"`
	AccountID     string          `json:"account_id"`
	CampaignID    string          `json:"campaign_id"`
	Number        int             `json:"number"`
	Name          string          `json:"name"`
	Status        string          `json:"status"`
	Source        json.RawMessage `json:"source"`
	ContactCount  int             `json:"contact_count"`
	Progress      Progress        `json:"progress"`
	FailureReason *string         `json:"failure_reason"`
	CreatedBy     string          `json:"created_by"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	ReadyAt       *time.Time      `json:"ready_at"`
	AIDoneAt      *time.Time      `json:"ai_done_at"`
	SubmittedAt   *time.Time      `json:"submitted_at"`
	// CampaignVersion is the campaign version the draft builds from, frozen when it was created
	// (R-VER-7); nil for a draft created before migration 00016, built from the working copy. It is
	// not part of the JSON the draft's workflow records (its submit Update answers the status only).
	CampaignVersion *int    `json:"-"`
	CopyCampaignID  *string `json:"-"`
	SourceKey       string  `json:"-"`
	TokenSealed     []byte  `json:"-"`
}

// NewDraft holds what a draft request stores.
type NewDraft struct {
	// ID is the new draft's id; empty means a random one. A draft of that id already there is
	// returned with existing true.
	ID           string
	AccountID    string
	CampaignID   string
	CreatedBy    string
	Source       json.RawMessage
	SourceKey    string
	ContactCount int
}

// IdempotencyWindow is how long an in-flight draft for the same campaign and saved search is
// returned instead of a new build (R-DRAFT-6).
const IdempotencyWindow = 10 * time.Minute

const draftColumns = `d.id, d.account_id, d.campaign_id, d.number, d.status, d.source, d.contact_count, d.progress,
	d.failure_reason, d.created_by, d.created_at, d.updated_at, d.ready_at, d.ai_done_at, d.submitted_at,
	d.copy_campaign_id, d.source_key, d.token_sealed, d.campaign_version`

func draftScan(d *ApprovalDraft) []any {
	return []any{&d.ID, &d.AccountID, &d.CampaignID, &d.Number, &d.Status, &d.Source, &d.ContactCount, &d.Progress,
		&d.FailureReason, &d.CreatedBy, &d.CreatedAt, &d.UpdatedAt, &d.ReadyAt, &d.AIDoneAt, &d.SubmittedAt,
		&d.CopyCampaignID, &d.SourceKey, &d.TokenSealed, &d.CampaignVersion}
}

// scanDraft reads a row of draftColumns, then any extra columns into extra.
func scanDraft(row pgx.Row, extra ...any) (ApprovalDraft, error) {
	var d ApprovalDraft
	if err := row.Scan(append(draftScan(&d), extra...)...); err != nil {
		return d, err
	}
	d.Name = "Draft " + strconv.Itoa(d.Number)
	return d, nil
}

// CreateDraft numbers and stores a processing draft of a visible campaign, pinned to the campaign's
// working copy frozen as a version in the same transaction (R-VER-7: the latest version is reused when
// its content_hash is the same; a draft that is not inserted leaves no version behind). When dedupe is
// true and a draft of the same campaign and source key is still processing from the last 10 minutes,
// it returns that draft with existing true instead (R-DRAFT-6), and freezes nothing; so does the
// repeat of a draft id that exists.
func (s *Store) CreateDraft(ctx context.Context, nd NewDraft, dedupe bool) (d ApprovalDraft, existing bool, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var status string
		var archived bool
		// Locking the campaign row serialises numbering and the idempotency check.
		if err := tx.QueryRow(ctx, `SELECT status, archived_at IS NOT NULL FROM campaigns
			WHERE account_id = $1 AND id = $2 AND NOT hidden FOR UPDATE`,
			nd.AccountID, nd.CampaignID).Scan(&status, &archived); err != nil {
			return err
		}
		if archived {
			return ErrCampaignArchived
		}
		if status == CampaignStatusError {
			return ErrCampaignInError
		}
		if nd.ID != "" {
			d, err = scanDraft(tx.QueryRow(ctx, `SELECT `+draftColumns+` FROM approval_drafts d WHERE d.id = $1 AND d.account_id = $2`, nd.ID, nd.AccountID))
			if err == nil {
				existing = true
				return nil
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		} else {
			nd.ID = uuid.NewString()
		}
		if dedupe {
			d, err = scanDraft(tx.QueryRow(ctx, `SELECT `+draftColumns+` FROM approval_drafts d
				WHERE d.campaign_id = $1 AND d.source_key = $2 AND d.status = 'processing' AND d.created_at > now() - $3::interval
				ORDER BY d.created_at DESC LIMIT 1`, nd.CampaignID, nd.SourceKey, IdempotencyWindow.String()))
			if err == nil {
				existing = true
				return nil
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		// The campaign row is locked: the version is the working copy as it is at this commit.
		v, err := freeze(ctx, tx, nd.CampaignID, &nd.CreatedBy)
		if err != nil {
			return err
		}
		d, err = scanDraft(tx.QueryRow(ctx, `INSERT INTO approval_drafts AS d (id, account_id, campaign_id, number, source, source_key,
			contact_count, created_by, campaign_version)
			VALUES ($1, $2, $3, (SELECT COALESCE(max(number), 0) + 1 FROM approval_drafts WHERE campaign_id = $3), $4, $5, $6, $7, $8)
			RETURNING `+draftColumns, nd.ID, nd.AccountID, nd.CampaignID, nd.Source, nd.SourceKey, nd.ContactCount, nd.CreatedBy, v.Version))
		return err
	})
	if err != nil {
		if errors.Is(err, ErrCampaignInError) || errors.Is(err, ErrCampaignArchived) {
			return ApprovalDraft{}, false, fmt.Errorf("storage: create draft: %w", err)
		}
		return ApprovalDraft{}, false, notFound("storage: create draft", err)
	}
	return d, existing, nil
}

// Draft returns draft id of account accountID.
func (s *Store) Draft(ctx context.Context, accountID, id string) (ApprovalDraft, error) {
	d, err := scanDraft(s.Pool.QueryRow(ctx, `SELECT `+draftColumns+` FROM approval_drafts d WHERE d.account_id = $1 AND d.id = $2`, accountID, id))
	if err != nil {
		return ApprovalDraft{}, notFound("storage: draft", err)
	}
	return d, nil
}

// Drafts lists the drafts of a campaign, newest first (R-DRAFT-5).
func (s *Store) Drafts(ctx context.Context, accountID, campaignID string) ([]ApprovalDraft, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+draftColumns+` FROM approval_drafts d WHERE d.account_id = $1 AND d.campaign_id = $2
		ORDER BY d.number DESC`, accountID, campaignID)
	if err != nil {
		return nil, fmt.Errorf("storage: drafts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ApprovalDraft, error) { return scanDraft(r) })
	if err != nil {
		return nil, fmt.Errorf("storage: drafts: %w", err)
	}
	return out, nil
}

// CountProcessingDrafts counts the account's drafts still building, other than exceptID.
func (s *Store) CountProcessingDrafts(ctx context.Context, accountID, exceptID string) (int, error) {
	var n int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM approval_drafts WHERE account_id = $1 AND status = 'processing'
		AND ready_at IS NULL AND id <> $2 AND created_at <= (SELECT created_at FROM approval_drafts WHERE id = $2)`,
		accountID, exceptID).Scan(&n); err != nil {
		return 0, fmt.Errorf("storage: count processing drafts: %w", err)
	}
	return n, nil
}

// SetDraftProgress records where a processing build stands.
func (s *Store) SetDraftProgress(ctx context.Context, id string, p Progress) error {
	if _, err := s.Pool.Exec(ctx, `UPDATE approval_drafts SET progress = $2, updated_at = now() WHERE id = $1`, id, p); err != nil {
		return fmt.Errorf("storage: draft progress: %w", err)
	}
	return nil
}

// CopyCampaignForDraft deep-copies the campaign version the draft pinned when it was created (R-VER-7:
// name, kind, dates and content — segments, prompts, AI model configs, sequences, tracking links) into
// a hidden campaign in mode test and links it to the draft, in one transaction; an edit of the working
// copy made since never reaches it. A draft without a version (created before migration 00016) copies
// the campaign's working copy, as it always did. It is idempotent: a draft that already has its copy
// returns it.
func (s *Store) CopyCampaignForDraft(ctx context.Context, accountID, draftID string) (string, error) {
	var copyID string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var srcID string
		var existing *string
		var version *int
		if err := tx.QueryRow(ctx, `SELECT campaign_id, copy_campaign_id, campaign_version FROM approval_drafts
			WHERE account_id = $1 AND id = $2 FOR UPDATE`, accountID, draftID).Scan(&srcID, &existing, &version); err != nil {
			return err
		}
		if existing != nil {
			copyID = *existing
			return nil
		}
		// The copy's frozen fields: the pinned version's, or the working copy's for a draft without one.
		var f FrozenFields
		var copyVersion int
		var err error
		if version != nil {
			copyVersion = *version
			err = tx.QueryRow(ctx, `SELECT name, kind, start_at, end_at, content FROM campaign_versions
				WHERE campaign_id = $1 AND version = $2`, srcID, *version).Scan(&f.Name, &f.Kind, &f.StartAt, &f.EndAt, &f.Content)
		} else {
			err = tx.QueryRow(ctx, `SELECT name, kind, start_at, end_at, version FROM campaigns WHERE id = $1`, srcID).
				Scan(&f.Name, &f.Kind, &f.StartAt, &f.EndAt, &copyVersion)
			if err == nil {
				f.Content, err = readContent(ctx, tx, srcID)
			}
		}
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO campaigns (account_id, created_by, name, kind, mode, start_at, end_at, status, version, hidden)
			SELECT account_id, created_by, $2, $3, 'test', $4, $5, 'ready', $6, true FROM campaigns WHERE id = $1 RETURNING id`,
			srcID, f.Name, f.Kind, f.StartAt, f.EndAt, copyVersion).Scan(&copyID); err != nil {
			return err
		}
		if err := writeContent(ctx, tx, copyID, f.Content); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE approval_drafts SET copy_campaign_id = $2, updated_at = now() WHERE id = $1`, draftID, copyID)
		return err
	})
	if err != nil {
		return "", notFound("storage: copy campaign", err)
	}
	return copyID, nil
}

// DeleteDraftCopy removes the draft's hidden copy and, with it, its leads and content (the compensation
// of CopyCampaignForDraft). It is idempotent.
func (s *Store) DeleteDraftCopy(ctx context.Context, draftID string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM campaigns WHERE hidden AND id = (SELECT copy_campaign_id FROM approval_drafts WHERE id = $1)`, draftID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE approval_drafts SET copy_campaign_id = NULL, updated_at = now() WHERE id = $1`, draftID)
		return err
	})
	if err != nil {
		return fmt.Errorf("storage: delete draft copy: %w", err)
	}
	return nil
}

// MarkDraftReady freezes the snapshot, stores the share token (hash and sealed) and sets the draft
// ready. It answers how long the build took since the draft was asked for, and whether this call made
// the draft ready (false when an earlier attempt did, or the build had already ended).
func (s *Store) MarkDraftReady(ctx context.Context, id string, snapshot any, tokenHash, tokenSealed []byte, leads int) (time.Duration, bool, error) {
	var secs float64
	err := s.Pool.QueryRow(ctx, `UPDATE approval_drafts SET status = 'ready', snapshot = $2, token_hash = $3, token_sealed = $4,
		ready_at = now(), progress = jsonb_build_object('step', 'personalising', 'done', 0, 'total', $5::int), updated_at = now()
		WHERE id = $1 AND status = 'processing' AND snapshot IS NULL
		RETURNING extract(epoch FROM ready_at - created_at)::float8`, id, snapshot, tokenHash, tokenSealed, leads).Scan(&secs)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("storage: draft ready: %w", err)
	}
	return time.Duration(secs * float64(time.Second)), true, nil
}

// MarkDraftFailed ends a build as failed with a reason people can read (R-DRAFT-9). A draft whose
// snapshot was frozen just before the build failed (its copy is rolled back) loses its share link too.
// It answers whether this call ended the build (false when it had already ended).
func (s *Store) MarkDraftFailed(ctx context.Context, id, reason string) (bool, error) {
	tag, err := s.Pool.Exec(ctx, `UPDATE approval_drafts SET status = 'failed', failure_reason = $2, token_hash = NULL,
		token_sealed = NULL, progress = progress || '{"step":"failed"}', updated_at = now()
		WHERE id = $1 AND (status = 'processing' OR (status = 'ready' AND submitted_at IS NULL AND ai_done_at IS NULL))`, id, reason)
	if err != nil {
		return false, fmt.Errorf("storage: draft failed: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// MarkDraftAIDone records that every lead's pipeline finished.
func (s *Store) MarkDraftAIDone(ctx context.Context, id string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE approval_drafts SET ai_done_at = COALESCE(ai_done_at, now()),
		progress = jsonb_build_object('step', 'done', 'done', (progress->>'total')::int, 'total', (progress->>'total')::int),
		updated_at = now() WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("storage: draft ai done: %w", err)
	}
	return nil
}

// DraftSnapshot returns the frozen snapshot of a draft as stored.
func (s *Store) DraftSnapshot(ctx context.Context, id string) (json.RawMessage, error) {
	var b json.RawMessage
	if err := s.Pool.QueryRow(ctx, `SELECT snapshot FROM approval_drafts WHERE id = $1 AND snapshot IS NOT NULL`, id).Scan(&b); err != nil {
		return nil, notFound("storage: draft snapshot", err)
	}
	return b, nil
}

// RotateDraftToken replaces a built draft's share token; the old one stops working at once (R-DRAFT-11).
func (s *Store) RotateDraftToken(ctx context.Context, accountID, id string, hash, sealed []byte) (ApprovalDraft, error) {
	d, err := scanDraft(s.Pool.QueryRow(ctx, `UPDATE approval_drafts AS d SET token_hash = $3, token_sealed = $4, updated_at = now()
		WHERE d.account_id = $1 AND d.id = $2 AND d.token_hash IS NOT NULL RETURNING `+draftColumns, accountID, id, hash, sealed))
	if errors.Is(err, pgx.ErrNoRows) {
		if _, gerr := s.Draft(ctx, accountID, id); gerr != nil {
			return ApprovalDraft{}, gerr
		}
		return ApprovalDraft{}, fmt.Errorf("storage: rotate token: %w", ErrDraftNotReady)
	}
	if err != nil {
		return ApprovalDraft{}, fmt.Errorf("storage: rotate token: %w", err)
	}
	return d, nil
}

// MarkDraftWorkflowStarted records that the draft's build runs, so the sweeper leaves it alone.
func (s *Store) MarkDraftWorkflowStarted(ctx context.Context, id string) error {
	if _, err := s.Pool.Exec(ctx, `UPDATE approval_drafts SET workflow_started_at = now() WHERE id = $1 AND workflow_started_at IS NULL`, id); err != nil {
		return fmt.Errorf("storage: mark draft started: %w", err)
	}
	return nil
}

// UnstartedDrafts lists processing drafts created before olderThan whose build was never recorded as started.
func (s *Store) UnstartedDrafts(ctx context.Context, olderThan time.Time) ([]ApprovalDraft, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+draftColumns+` FROM approval_drafts d
		WHERE d.workflow_started_at IS NULL AND d.status = 'processing' AND d.created_at < $1 ORDER BY d.created_at LIMIT 500`, olderThan)
	if err != nil {
		return nil, fmt.Errorf("storage: unstarted drafts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ApprovalDraft, error) { return scanDraft(r) })
	if err != nil {
		return nil, fmt.Errorf("storage: unstarted drafts: %w", err)
	}
	return out, nil
}
