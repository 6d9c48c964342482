package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Request statuses, and the decision types an event may record (R-APPR-10).
const (
	RequestStatusPending   = "pending"
	RequestStatusApproved  = "approved"
	RequestStatusRejected  = "rejected"
	RequestStatusCancelled = "cancelled"
	RequestStatusTimedOut  = "timed_out"
	RequestStatusExpired   = "expired"

	EventSubmitted        = "submitted"
	EventApproversChanged = "approvers_changed"
	EventApproved         = "approved"
	EventRejected         = "rejected"
	EventCancelled        = "cancelled"
	EventTimedOut         = "timed_out"
	EventApproverExpired  = "approver_expired"
	EventAutoApproved     = "auto_approved"
	EventLaunched         = "launched"
	EventLaunchSkipped    = "launch_skipped"

	ApproverStateAssigned = "assigned"
	ApproverStateExpired  = "expired"
	ApproverStateRemoved  = "removed"
)

// ErrAlreadyHandled is returned when a request has already been decided (R-APPR-5).
var ErrAlreadyHandled = errors.New("approval request already handled")

// ErrRequestOpen is returned when a campaign already has a pending request (R-APPR-3).
var ErrRequestOpen = errors.New("campaign already has an open approval request")

// ErrNotSubmittable is returned when a campaign's state does not allow an approval request (Submittable).
var ErrNotSubmittable = errors.New("campaign cannot be submitted for approval in its current state")

// Submittable reports whether a campaign in this state may be submitted for approval: a draft or
// ready campaign, or a live journey whose edited version is not yet approved (R-APPR-3, R-CAMP-4).
// CreateApprovalRequest checks it again under the campaign's row lock, so a launch that commits
// between the API's read and the insert cannot be followed by a pending request.
func Submittable(status, kind, approvalStatus string) bool {
	return status == CampaignStatusDraft || status == CampaignStatusReady ||
		(status == CampaignStatusLive && kind == CampaignKindJourney && approvalStatus != RequestStatusApproved)
}

// ErrNotApprover is returned when the actor is not (or no longer) a valid assigned approver (R-APPR-7).
var ErrNotApprover = errors.New("not a valid approver of this request")

// ApprovalRequest is a request to approve one campaign version.
type ApprovalRequest struct {
	ID              string     `json:"id"`
	AccountID       string     `json:"account_id"`
	CampaignID      string     `json:"campaign_id"`
	CampaignVersion int        `json:"campaign_version"`
	ContentHash     string     `json:"content_hash"` // the pinned version's content_hash (R-VER-2)
	SubmittedBy     string     `json:"submitted_by"`
	Note            string     `json:"note"`
	Status          string     `json:"status"`
	DecidedBy       *string    `json:"decided_by"`
	DecisionNote    string     `json:"decision_note"`
	DecidedAt       *time.Time `json:"decided_at"`
	DeadlineAt      time.Time  `json:"deadline_at"`
	LaunchAt        *time.Time `json:"launch_at"`
	Approvers       []Approver `json:"approvers"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
}

// Approver is a user assigned to a request, with the state of the assignment.
type Approver struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
	Email  string `json:"email"`
	State  string `json:"state"`
}

// NewApprovalRequest holds what a submission stores.
type NewApprovalRequest struct {
	ID          string
	AccountID   string
	CampaignID  string
	SubmittedBy string
	Note        string
	ApproverIDs []string
	DeadlineAt  time.Time
	LaunchAt    *time.Time
	// CountChanges counts the changes the request brings, for the approvers' emails (R-VER-6); nil
	// leaves the count out.
	CountChanges ChangeCounter
	// DecisionLinkBase prefixes the token of the decision link each approver's email carries
	// ({SIGNOFF_PUBLIC_URL}/a/, R-ACT-1); empty writes emails without a link.
	DecisionLinkBase string
}

// Decision is a terminal transition of a request. ActorID nil means the system.
type Decision struct {
	RequestID string
	Type      string // an Event* decision type: approved, rejected, cancelled, timed_out, expired, auto_approved
	ActorID   *string
	Note      string
}

// hasRightSQL is R-AUTH-3 in SQL, over a users row aliased u.
const hasRightSQL = `(u.active AND (u.role IN ('admin', 'approver') OR (u.role = 'editor' AND u.can_approve)))`

const requestColumns = `r.id, r.account_id, r.campaign_id, r.campaign_version, r.content_hash, r.submitted_by, r.note, r.status,
	r.decided_by, r.decision_note, r.decided_at, r.deadline_at, r.launch_at, r.created_at, r.updated_at`

func requestScan(r *ApprovalRequest) []any {
	return []any{&r.ID, &r.AccountID, &r.CampaignID, &r.CampaignVersion, &r.ContentHash, &r.SubmittedBy, &r.Note, &r.Status,
		&r.DecidedBy, &r.DecisionNote, &r.DecidedAt, &r.DeadlineAt, &r.LaunchAt, &r.CreatedAt, &r.UpdatedAt}
}

// CreateApprovalRequest stores a pending request with its approvers, locks the campaign
// (approval_status pending), records the submitted event and notifies the approvers, in one transaction.
func (s *Store) CreateApprovalRequest(ctx context.Context, nr NewApprovalRequest) (ApprovalRequest, error) {
	var out ApprovalRequest
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var name, status, kind, approvalStatus string
		err := tx.QueryRow(ctx, `SELECT name, status, kind, approval_status FROM campaigns
			WHERE account_id = $1 AND id = $2 AND NOT hidden FOR UPDATE`, nr.AccountID, nr.CampaignID).
			Scan(&name, &status, &kind, &approvalStatus)
		if err != nil {
			return err
		}
		if approvalStatus == RequestStatusPending {
			return ErrRequestOpen
		}
		if !Submittable(status, kind, approvalStatus) {
			return ErrNotSubmittable
		}
		// The request pins the working copy as it is now (R-VER-1, R-VER-2). For an archived campaign the
		// insert below is refused (migration 00008) and the whole transaction, version included, rolls back.
		freezeOrPin := freeze
		if s.noFreeze.Load() {
			freezeOrPin = pinLatest
		}
		v, err := freezeOrPin(ctx, tx, nr.CampaignID, &nr.SubmittedBy)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO approval_requests (id, account_id, campaign_id, campaign_version, content_hash, submitted_by, note, deadline_at, launch_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			nr.ID, nr.AccountID, nr.CampaignID, v.Version, v.Hash, nr.SubmittedBy, nr.Note, nr.DeadlineAt, nr.LaunchAt)
		if isUniqueViolation(err) {
			if constraintName(err) == "approval_requests_pkey" {
				return ErrConflict
			}
			return ErrRequestOpen
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO approval_request_approvers (request_id, user_id)
			SELECT $1, unnest($2::uuid[])`, nr.ID, nr.ApproverIDs); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE campaigns SET approval_status = 'pending', updated_at = now() WHERE id = $1`, nr.CampaignID); err != nil {
			return err
		}
		if err := insertEvent(ctx, tx, nr.ID, EventSubmitted, &nr.SubmittedBy, nr.Note, nr.ID+":submitted"); err != nil {
			return err
		}
		submitter, err := userName(ctx, tx, nr.SubmittedBy)
		if err != nil {
			return err
		}
		// The request is inserted: its version pair is the one GET …/changes answers, forever.
		sentence, err := changesSentence(ctx, tx, nr.AccountID, nr.ID, nr.CountChanges)
		if err != nil {
			return err
		}
		body := approvalAsked(submitter, name, sentence)
		if nr.Note != "" {
			body += "\n\nNote: " + nr.Note
		}
		for _, uid := range nr.ApproverIDs {
			if err := notify(ctx, tx, notice{AccountID: nr.AccountID, UserID: uid, Kind: "approval_requested",
				Title: "Approval requested: " + name, Body: body, CampaignID: nr.CampaignID, RequestID: nr.ID,
				DedupeKey: nr.ID + ":submitted:" + uid, DecisionLinkBase: nr.DecisionLinkBase}); err != nil {
				return err
			}
		}
		out, err = loadRequest(ctx, tx, nr.AccountID, nr.ID)
		return err
	})
	if errors.Is(err, ErrConflict) || errors.Is(err, ErrRequestOpen) || errors.Is(err, ErrNotSubmittable) {
		return ApprovalRequest{}, fmt.Errorf("storage: create approval request: %w", err)
	}
	if err != nil {
		return ApprovalRequest{}, notFound("storage: create approval request", err)
	}
	return out, nil
}

// MarkWorkflowStarted records that the request's workflow runs, so the sweeper leaves it alone.
func (s *Store) MarkWorkflowStarted(ctx context.Context, requestID string) error {
	if _, err := s.Pool.Exec(ctx, `UPDATE approval_requests SET workflow_started_at = now() WHERE id = $1 AND workflow_started_at IS NULL`, requestID); err != nil {
		return fmt.Errorf("storage: mark workflow started: %w", err)
	}
	return nil
}

// RequestKey names a request for the sweeper, which repairs one request at a time.
type RequestKey struct {
	AccountID string
	ID        string
}

// sweepLimit bounds each of the sweeper's lists; what is left over comes in the next pass.
const sweepLimit = 500

// UnstartedRequests lists pending requests created before olderThan whose workflow was never
// recorded as started (the API crashed between commit and start), oldest first. skip leaves out
// requests the sweeper is backing off from, so that failing rows never fill the list.
func (s *Store) UnstartedRequests(ctx context.Context, olderThan time.Time, skip []string) ([]RequestKey, error) {
	return s.requestKeys(ctx, "storage: unstarted requests", `SELECT r.account_id, r.id FROM approval_requests r
		WHERE r.workflow_started_at IS NULL AND r.status = 'pending' AND r.created_at < $1 AND NOT (r.id = ANY($2::uuid[]))
		ORDER BY r.created_at LIMIT $3`, olderThan, orEmpty(skip), sweepLimit)
}

// OverdueRequests lists pending requests with a started workflow whose deadline passed before
// before, earliest deadline first, leaving out skip: their workflow should have timed them out, so
// the sweeper checks it still runs.
func (s *Store) OverdueRequests(ctx context.Context, before time.Time, skip []string) ([]RequestKey, error) {
	return s.requestKeys(ctx, "storage: overdue requests", `SELECT r.account_id, r.id FROM approval_requests r
		WHERE r.status = 'pending' AND r.workflow_started_at IS NOT NULL AND r.deadline_at < $1 AND NOT (r.id = ANY($2::uuid[]))
		ORDER BY r.deadline_at LIMIT $3`, before, orEmpty(skip), sweepLimit)
}

// StartedPendingRequests lists up to limit pending requests with a started workflow, by id after
// after ("" from the first), leaving out skip: the sweeper walks them round robin to check that
// each one's workflow still runs.
func (s *Store) StartedPendingRequests(ctx context.Context, after string, limit int, skip []string) ([]RequestKey, error) {
	return s.requestKeys(ctx, "storage: started pending requests", `SELECT r.account_id, r.id FROM approval_requests r
		WHERE r.status = 'pending' AND r.workflow_started_at IS NOT NULL
		  AND r.id > COALESCE(NULLIF($1, '')::uuid, '00000000-0000-0000-0000-000000000000') AND NOT (r.id = ANY($2::uuid[]))
		ORDER BY r.id LIMIT $3`, after, orEmpty(skip), min(limit, sweepLimit))
}

// orEmpty is ids, or an empty array for none: NOT (id = ANY(NULL)) would leave out every row.
func orEmpty(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

func (s *Store) requestKeys(ctx context.Context, what, sql string, args ...any) ([]RequestKey, error) {
	rows, err := s.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowToStructByPos[RequestKey])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return keys, nil
}

// RequestWorkflowState is what the sweeper re-reads under a request's repair lock: the request's
// status, and whether its workflow start was recorded.
func (s *Store) RequestWorkflowState(ctx context.Context, accountID, id string) (status string, started bool, err error) {
	err = s.Pool.QueryRow(ctx, `SELECT status, workflow_started_at IS NOT NULL FROM approval_requests WHERE account_id = $1 AND id = $2`,
		accountID, id).Scan(&status, &started)
	if err != nil {
		return "", false, notFound("storage: request workflow state", err)
	}
	return status, started, nil
}

// WithRepairLock runs fn while holding the sweeper's lock on key (say "request:<id>"): a
// transaction-scoped advisory lock, taken without waiting, in a transaction that writes nothing and
// ends with fn. It answers false without running fn when another worker holds the lock, so two
// workers never repair the same row at once. Keys are hashed to 32 bits: two rows that collide are
// repaired one after the other, never together.
func (s *Store) WithRepairLock(ctx context.Context, key string, fn func() error) (bool, error) {
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("storage: repair lock: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // ending the transaction releases the lock
	var got bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtext('signoff-sweep:' || $1))`, key).Scan(&got); err != nil {
		return false, fmt.Errorf("storage: repair lock: %w", err)
	}
	if !got {
		return false, nil
	}
	return true, fn()
}

// ApprovalRequest returns request id of account accountID with its approvers.
func (s *Store) ApprovalRequest(ctx context.Context, accountID, id string) (ApprovalRequest, error) {
	r, err := loadRequest(ctx, s.Pool, accountID, id)
	if err != nil {
		return ApprovalRequest{}, notFound("storage: approval request", err)
	}
	return r, nil
}

// RequestHead is a request without its approvers, with the creator of its campaign: what the API
// checks before passing a decision to the request's workflow.
type RequestHead struct {
	Request           ApprovalRequest
	CampaignCreatedBy string
}

// RequestHead returns request id of account accountID, without approvers, in one query.
func (s *Store) RequestHead(ctx context.Context, accountID, id string) (RequestHead, error) {
	var h RequestHead
	err := s.Pool.QueryRow(ctx, `SELECT `+requestColumns+`, c.created_by FROM approval_requests r
		JOIN campaigns c ON c.id = r.campaign_id WHERE r.account_id = $1 AND r.id = $2`, accountID, id).
		Scan(append(requestScan(&h.Request), &h.CampaignCreatedBy)...)
	if err != nil {
		return RequestHead{}, notFound("storage: request head", err)
	}
	return h, nil
}

func loadRequest(ctx context.Context, q queryer, accountID, id string) (ApprovalRequest, error) {
	var r ApprovalRequest
	if err := q.QueryRow(ctx, `SELECT `+requestColumns+` FROM approval_requests r WHERE r.account_id = $1 AND r.id = $2`,
		accountID, id).Scan(requestScan(&r)...); err != nil {
		return r, err
	}
	rows, err := q.Query(ctx, approversSQL, id)
	if err != nil {
		return r, err
	}
	r.Approvers, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Approver])
	return r, err
}

// decisionStatus is the request status each decision leads to.
var decisionStatus = map[string]string{EventApproved: RequestStatusApproved, EventAutoApproved: RequestStatusApproved,
	EventRejected: RequestStatusRejected, EventCancelled: RequestStatusCancelled, EventTimedOut: RequestStatusTimedOut,
	EventApproverExpired: RequestStatusExpired}

// approversSQL lists a request's approvers ($1) with their names, for answers and notifications.
const approversSQL = `SELECT u.id, u.name, u.email, a.state FROM approval_request_approvers a
	JOIN users u ON u.id = a.user_id WHERE a.request_id = $1 ORDER BY lower(u.email)`

// Decide applies a terminal decision (R-APPR-4..7) with `WHERE status = 'pending'` as the guard:
// the request's status, the campaign's approval state, the event and the notifications with their
// emails change together. A retry of the same decision returns the request unchanged; any other
// decision on a decided request returns ErrAlreadyHandled.
//
// It is on the path of every decision's answer, so it is one statement (its parts are data-modifying
// CTEs, atomic together) sent with the read of the approvers: one round trip. The notification text
// is written by the statement from decisionNotice's templates, since the names it needs are read there.
func (s *Store) Decide(ctx context.Context, accountID string, d Decision) (ApprovalRequest, error) {
	status := decisionStatus[d.Type]
	if status == "" {
		return ApprovalRequest{}, fmt.Errorf("storage: decide: unknown decision %q", d.Type)
	}
	needsRight := d.Type == EventApproved || d.Type == EventRejected
	title, body := decisionNotice(d)
	b := &pgx.Batch{}
	b.Queue(`WITH upd AS (
			UPDATE approval_requests r SET status = $3, decided_by = $4, decision_note = $5, decided_at = now(), updated_at = now()
			WHERE r.account_id = $1 AND r.id = $2 AND r.status = 'pending'
			  -- $2, not r.id: uncorrelated, the check is one primary-key lookup. Correlated, a generic plan
			  -- hashed every request the actor was ever assigned to.
			  AND (NOT $6 OR EXISTS (SELECT 1 FROM approval_request_approvers a JOIN users u ON u.id = a.user_id
			    WHERE a.request_id = $2 AND a.user_id = $4 AND a.state = 'assigned' AND `+hasRightSQL+`))
			RETURNING r.*),
		camp AS (
			-- Approval schedules the campaign; a live journey's new version stays live until it launches.
			UPDATE campaigns c SET approval_status = $3,
			  status = CASE WHEN $3 = 'approved' AND c.status <> 'live' THEN 'scheduled' ELSE c.status END,
			  approved_version = CASE WHEN $3 = 'approved' THEN upd.campaign_version ELSE c.approved_version END, updated_at = now()
			FROM upd WHERE c.id = upd.campaign_id RETURNING c.name),
		ev AS (
			-- A request that expires for want of approvers is recorded as approver_expired under the decision key.
			INSERT INTO approval_events (account_id, request_id, campaign_id, type, actor_id, note, dedupe_key, version)
			SELECT upd.account_id, upd.id, upd.campaign_id, $7, $4, $5, upd.id || ':decision', upd.campaign_version FROM upd
			ON CONFLICT (dedupe_key) DO NOTHING),
		names AS (
			SELECT camp.name AS campaign, COALESCE((SELECT u.name FROM users u WHERE u.id = $4), 'Signoff') AS actor FROM camp),
		rcpt AS (
			-- The submitter of every outcome; everyone involved of a cancellation, except whoever cancelled (R-APPR-9).
			SELECT DISTINCT x.uid FROM upd, LATERAL (SELECT upd.submitted_by AS uid
			  UNION ALL SELECT a.user_id FROM approval_request_approvers a WHERE a.request_id = upd.id AND $8) x
			WHERE NOT ($8 AND $4::uuid IS NOT NULL AND x.uid = $4)),
		noti AS (
			INSERT INTO notifications (account_id, user_id, kind, title, body, campaign_id, request_id, dedupe_key)
			SELECT upd.account_id, rcpt.uid, $9, format($10, names.actor, names.campaign), format($11, names.actor, names.campaign),
			  upd.campaign_id, upd.id, upd.id || ':decision:' || rcpt.uid FROM upd, rcpt, names
			ON CONFLICT (dedupe_key) DO NOTHING RETURNING user_id, title, body, dedupe_key),
		mail AS (
			INSERT INTO outbox_emails (account_id, to_email, to_name, subject, body, request_id, dedupe_key)
			SELECT upd.account_id, u.email, u.name, noti.title, noti.body || E'\n\n— Signoff', upd.id, noti.dedupe_key
			FROM noti JOIN users u ON u.id = noti.user_id, upd
			ON CONFLICT (dedupe_key) DO NOTHING)
		SELECT `+requestColumns+` FROM upd r`,
		accountID, d.RequestID, status, d.ActorID, d.Note, needsRight, d.Type, d.Type == EventCancelled,
		"approval_"+status, title, body)
	b.Queue(approversSQL, d.RequestID)
	var out ApprovalRequest
	br := s.Pool.SendBatch(ctx, b)
	err := br.QueryRow().Scan(requestScan(&out)...)
	if err == nil {
		var rows pgx.Rows
		if rows, err = br.Query(); err == nil {
			out.Approvers, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Approver])
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, pgx.ErrNoRows) {
		out, err = decisionRefused(ctx, s.Pool, accountID, d, needsRight)
	}
	if err != nil {
		if errors.Is(err, ErrAlreadyHandled) || errors.Is(err, ErrNotApprover) {
			return ApprovalRequest{}, fmt.Errorf("storage: decide: %w", err)
		}
		return ApprovalRequest{}, notFound("storage: decide", err)
	}
	return out, nil
}

// decisionRefused explains a decision whose guarded update matched nothing: a retry of the decision
// already recorded answers the request as it is; otherwise the request is decided
// (ErrAlreadyHandled), the actor may not decide (ErrNotApprover), or it does not exist.
func decisionRefused(ctx context.Context, q queryer, accountID string, d Decision, needsRight bool) (ApprovalRequest, error) {
	var existingType string
	var existingActor *string
	err := q.QueryRow(ctx, `SELECT e.type, e.actor_id FROM approval_events e WHERE e.dedupe_key = $1 AND e.account_id = $2`,
		d.RequestID+":decision", accountID).Scan(&existingType, &existingActor)
	if err == nil {
		if existingType == d.Type && sameActor(existingActor, d.ActorID) {
			return loadRequest(ctx, q, accountID, d.RequestID)
		}
		return ApprovalRequest{}, ErrAlreadyHandled
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return ApprovalRequest{}, err
	}
	req, err := loadRequest(ctx, q, accountID, d.RequestID)
	switch {
	case err != nil:
		return ApprovalRequest{}, err
	case req.Status != RequestStatusPending:
		return ApprovalRequest{}, ErrAlreadyHandled
	case needsRight:
		return ApprovalRequest{}, ErrNotApprover
	}
	return ApprovalRequest{}, fmt.Errorf("decision %s on pending request %s matched nothing", d.Type, d.RequestID)
}

func sameActor(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// decisionNotice is the title and body telling of decision d, as templates for SQL's format():
// %1$s is the actor's name ("Signoff" for the system), %2$s the campaign's.
func decisionNotice(d Decision) (title, body string) {
	switch d.Type {
	case EventApproved:
		title, body = "Approved: %2$s", `%1$s approved "%2$s". It launches at its start time.`
	case EventAutoApproved:
		title, body = "Approved automatically: %2$s", `Approvals were turned off for the account, so "%2$s" was approved automatically.`
	case EventRejected:
		title, body = "Rejected: %2$s", `%1$s rejected "%2$s".`
	case EventTimedOut:
		title, body = "Approval timed out: %2$s", `Nobody decided on "%2$s" before its deadline. Submit it again to launch.`
	case EventApproverExpired:
		title, body = "Approval expired: %2$s", `No assigned approver of "%2$s" still has the approval right. The campaign is editable again; submit it to another approver.`
	case EventCancelled:
		title, body = "Approval cancelled: %2$s", `%1$s cancelled the approval request for "%2$s". The campaign is editable again.`
	}
	if d.Note != "" {
		body += "\n\nNote: " + strings.ReplaceAll(d.Note, "%", "%%")
	}
	return title, body
}

// ChangeApprovers replaces the assigned approvers of a pending request; changeKey makes a retry a no-op.
// count counts the changes the request brings, for the added approvers' emails (R-VER-6); nil
// leaves the count out. The added approvers' emails carry a decision link prefixed by linkBase
// ({SIGNOFF_PUBLIC_URL}/a/; empty: none), and the links of removed approvers are revoked (R-ACT-1).
func (s *Store) ChangeApprovers(ctx context.Context, accountID, requestID, actorID string, approverIDs []string, note, changeKey string, count ChangeCounter, linkBase string) (ApprovalRequest, error) {
	var out ApprovalRequest
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		req, err := loadRequestForUpdate(ctx, tx, accountID, requestID)
		if err != nil {
			return err
		}
		var done bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM approval_events WHERE dedupe_key = $1)`, changeKey).Scan(&done); err != nil {
			return err
		}
		if done {
			out, err = loadRequest(ctx, tx, accountID, requestID)
			return err
		}
		if req.Status != RequestStatusPending {
			return ErrAlreadyHandled
		}
		if _, err := tx.Exec(ctx, `UPDATE approval_request_approvers SET state = 'removed', updated_at = now()
			WHERE request_id = $1 AND state = 'assigned' AND NOT (user_id = ANY($2::uuid[]))`, requestID, approverIDs); err != nil {
			return err
		}
		if err := revokeRemovedLinks(ctx, tx, requestID, approverIDs); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `INSERT INTO approval_request_approvers AS a (request_id, user_id) SELECT $1, unnest($2::uuid[])
			ON CONFLICT (request_id, user_id) DO UPDATE SET state = 'assigned', updated_at = now() WHERE a.state <> 'assigned'
			RETURNING user_id`, requestID, approverIDs)
		if err != nil {
			return err
		}
		added, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if err := insertEvent(ctx, tx, requestID, EventApproversChanged, &actorID, note, changeKey); err != nil {
			return err
		}
		var campaign string
		if err := tx.QueryRow(ctx, `SELECT name FROM campaigns WHERE id = $1`, req.CampaignID).Scan(&campaign); err != nil {
			return err
		}
		submitter, err := userName(ctx, tx, req.SubmittedBy)
		if err != nil {
			return err
		}
		var body string
		if len(added) > 0 {
			sentence, err := changesSentence(ctx, tx, accountID, requestID, count)
			if err != nil {
				return err
			}
			body = approvalAsked(submitter, campaign, sentence)
		}
		for _, uid := range added {
			if err := notify(ctx, tx, notice{AccountID: accountID, UserID: uid, Kind: "approval_requested",
				Title: "Approval requested: " + campaign, Body: body, CampaignID: req.CampaignID, RequestID: requestID,
				DedupeKey: changeKey + ":" + uid, DecisionLinkBase: linkBase}); err != nil {
				return err
			}
		}
		out, err = loadRequest(ctx, tx, accountID, requestID)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrAlreadyHandled) {
			return ApprovalRequest{}, fmt.Errorf("storage: change approvers: %w", err)
		}
		return ApprovalRequest{}, notFound("storage: change approvers", err)
	}
	return out, nil
}

// approvalAsked is the body of the notice asking an approver to decide, with the sentence telling how
// many changes the request brings ("" for none).
func approvalAsked(submitter, campaign, changes string) string {
	body := fmt.Sprintf("%s asks you to approve %q before it launches.", submitter, campaign)
	if changes != "" {
		body += "\n\n" + changes
	}
	return body
}

func loadRequestForUpdate(ctx context.Context, tx pgx.Tx, accountID, id string) (ApprovalRequest, error) {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM approval_requests WHERE account_id = $1 AND id = $2 FOR UPDATE`, accountID, id); err != nil {
		return ApprovalRequest{}, err
	}
	return loadRequest(ctx, tx, accountID, id)
}

// ExpireResult says what is left of a request after an approver lost the right.
type ExpireResult struct {
	// ValidApprovers counts the assigned approvers who still hold the approval right.
	ValidApprovers int
	// Policy is the account's on_no_approvers setting.
	Policy string
	// Status is the request's status.
	Status string
}

// ExpireApprover marks userID's assignment on a request expired and records it once (R-APPR-7).
func (s *Store) ExpireApprover(ctx context.Context, accountID, requestID, userID string) (ExpireResult, error) {
	var res ExpireResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		req, err := loadRequestForUpdate(ctx, tx, accountID, requestID)
		if err != nil {
			return err
		}
		res.Status = req.Status
		tag, err := tx.Exec(ctx, `UPDATE approval_request_approvers SET state = 'expired', updated_at = now()
			WHERE request_id = $1 AND user_id = $2 AND state = 'assigned'`, requestID, userID)
		if err != nil {
			return err
		}
		if err := revokeApproverLinks(ctx, tx, requestID, userID); err != nil {
			return err
		}
		if tag.RowsAffected() > 0 {
			if err := insertEvent(ctx, tx, requestID, EventApproverExpired, &userID, "the approver lost the approval right",
				requestID+":approver_expired:"+userID); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM approval_request_approvers a JOIN users u ON u.id = a.user_id
			  WHERE a.request_id = $1 AND a.state = 'assigned' AND `+hasRightSQL+`),
			(SELECT on_no_approvers FROM accounts WHERE id = $2)`, requestID, accountID).Scan(&res.ValidApprovers, &res.Policy)
	})
	if err != nil {
		return ExpireResult{}, notFound("storage: expire approver", err)
	}
	return res, nil
}

// PendingRequestsAssignedTo lists the pending requests on which userID is an assigned approver.
func (s *Store) PendingRequestsAssignedTo(ctx context.Context, accountID, userID string) ([]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT r.id FROM approval_requests r JOIN approval_request_approvers a ON a.request_id = r.id
		WHERE r.account_id = $1 AND a.user_id = $2 AND a.state = 'assigned' AND r.status = 'pending'`, accountID, userID)
	if err != nil {
		return nil, fmt.Errorf("storage: pending assigned: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("storage: pending assigned: %w", err)
	}
	return ids, nil
}

// PendingRequests lists the ids of the pending requests of account accountID.
func (s *Store) PendingRequests(ctx context.Context, accountID string) ([]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id FROM approval_requests WHERE account_id = $1 AND status = 'pending'`, accountID)
	if err != nil {
		return nil, fmt.Errorf("storage: pending requests: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("storage: pending requests: %w", err)
	}
	return ids, nil
}

// Inbox lists the pending requests on which userID is an assigned approver, oldest deadline first (R-APPR-11).
func (s *Store) Inbox(ctx context.Context, accountID, userID string) ([]ApprovalRequest, error) {
	ids, err := s.PendingRequestsAssignedTo(ctx, accountID, userID)
	if err != nil {
		return nil, err
	}
	out := make([]ApprovalRequest, 0, len(ids))
	for _, id := range ids {
		r, err := s.ApprovalRequest(ctx, accountID, id)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	sortByDeadline(out)
	return out, nil
}

func sortByDeadline(rs []ApprovalRequest) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].DeadlineAt.Before(rs[j-1].DeadlineAt); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// LatestRequests returns the newest request of each campaign in ids that has one.
func (s *Store) LatestRequests(ctx context.Context, accountID string, ids []string) (map[string]ApprovalRequest, error) {
	rows, err := s.Pool.Query(ctx, `SELECT DISTINCT ON (r.campaign_id) `+requestColumns+` FROM approval_requests r
		WHERE r.account_id = $1 AND r.campaign_id = ANY($2::uuid[]) ORDER BY r.campaign_id, r.created_at DESC`, accountID, ids)
	if err != nil {
		return nil, fmt.Errorf("storage: latest requests: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ApprovalRequest, error) {
		var r ApprovalRequest
		return r, row.Scan(requestScan(&r)...)
	})
	if err != nil {
		return nil, fmt.Errorf("storage: latest requests: %w", err)
	}
	out := make(map[string]ApprovalRequest, len(list))
	for _, r := range list {
		rows, err := s.Pool.Query(ctx, `SELECT u.id, u.name, u.email, a.state FROM approval_request_approvers a
			JOIN users u ON u.id = a.user_id WHERE a.request_id = $1 ORDER BY lower(u.email)`, r.ID)
		if err != nil {
			return nil, fmt.Errorf("storage: latest requests: %w", err)
		}
		if r.Approvers, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Approver]); err != nil {
			return nil, fmt.Errorf("storage: latest requests: %w", err)
		}
		out[r.CampaignID] = r
	}
	return out, nil
}

// LatestApprovedRequest returns the approved request of the campaign's current version.
func (s *Store) LatestApprovedRequest(ctx context.Context, accountID, campaignID string) (ApprovalRequest, error) {
	var id string
	err := s.Pool.QueryRow(ctx, `SELECT r.id FROM approval_requests r JOIN campaigns c ON c.id = r.campaign_id
		WHERE r.account_id = $1 AND r.campaign_id = $2 AND r.status = 'approved' AND r.campaign_version = c.version
		ORDER BY r.decided_at DESC LIMIT 1`, accountID, campaignID).Scan(&id)
	if err != nil {
		return ApprovalRequest{}, notFound("storage: approved request", err)
	}
	return s.ApprovalRequest(ctx, accountID, id)
}

// StaleAssignment is an assigned approver of a pending request who no longer holds the approval right.
type StaleAssignment struct {
	AccountID string
	RequestID string
	UserID    string
}

// StaleAssignments lists assignments the workflows have not yet expired (the sweeper's safety net for
// R-APPR-7), leaving out the requests in skip (the sweeper is backing off from them).
func (s *Store) StaleAssignments(ctx context.Context, skip []string) ([]StaleAssignment, error) {
	rows, err := s.Pool.Query(ctx, `SELECT r.account_id, a.request_id, a.user_id FROM approval_request_approvers a
		JOIN approval_requests r ON r.id = a.request_id JOIN users u ON u.id = a.user_id
		WHERE r.status = 'pending' AND a.state = 'assigned' AND r.workflow_started_at IS NOT NULL AND NOT `+hasRightSQL+`
		  AND NOT (r.id = ANY($1::uuid[])) LIMIT $2`, orEmpty(skip), sweepLimit)
	if err != nil {
		return nil, fmt.Errorf("storage: stale assignments: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[StaleAssignment])
	if err != nil {
		return nil, fmt.Errorf("storage: stale assignments: %w", err)
	}
	return out, nil
}

// PendingInDisabledAccounts lists pending requests of accounts whose approvals are turned off,
// leaving out the requests in skip (the sweeper is backing off from them).
func (s *Store) PendingInDisabledAccounts(ctx context.Context, skip []string) ([]RequestKey, error) {
	return s.requestKeys(ctx, "storage: pending in disabled accounts", `SELECT r.account_id, r.id FROM approval_requests r
		JOIN accounts a ON a.id = r.account_id
		WHERE r.status = 'pending' AND NOT a.approval_enabled AND r.workflow_started_at IS NOT NULL
		  AND NOT (r.id = ANY($1::uuid[])) LIMIT $2`, orEmpty(skip), sweepLimit)
}
