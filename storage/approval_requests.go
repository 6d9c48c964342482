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
	EventReminded         = "reminded"
	EventEscalated        = "escalated"

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
	// Reminders are the reminder and escalation settings the request was submitted under (R-ACT-2).
	Reminders RequestReminders `json:"-"`
	// SectionReviews are the approvers' per-section verdicts (R-POL-4) when the reader loaded them
	// (Store.SectionReviews); nil when it did not.
	SectionReviews []SectionReview `json:"-"`
	// Policy is the approval policy the request was submitted under, resolved (R-POL-1); nil for the
	// default: one stage of its approvers, one approval required.
	Policy *RequestPolicy `json:"policy,omitempty"`
	// Stages are the stages the request runs: the policy's, and those its rules added once the
	// audience was counted; nil for the default.
	Stages []RequestStage `json:"run_stages,omitempty"`
	// CurrentStage is the stage the request waits for, from 0.
	CurrentStage int `json:"current_stage,omitempty"`
	// AudienceSize is how many directory contacts the campaign's segments matched at submission
	// (R-POL-3); nil while counting, when the count failed, and for requests without a policy
	// submitted before every request counted its audience.
	AudienceSize *int `json:"audience_size,omitempty"`
	// StageApprovals are the approvals counted in its stages (R-POL-2), by stage and time.
	StageApprovals []StageApproval `json:"stage_approvals,omitempty"`
}

// RequestReminders are the reminder and escalation settings a request took from its account at
// submission (R-ACT-2); zero for requests submitted before them.
type RequestReminders struct {
	// ReminderAfter: the approvers still assigned are reminded this long after submission, then as
	// long again, at most MaxReminders times and never after the deadline; 0 is off.
	ReminderAfter time.Duration
	// EscalateAfter: this long after submission, EscalationUserIDs are added as approvers; 0 is off.
	EscalateAfter time.Duration
	// EscalationUserIDs are the users the request escalates to, resolved at submission.
	EscalationUserIDs []string
}

// MaxReminders is how many times at most the approvers of a request are reminded (R-ACT-2).
const MaxReminders = 3

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
	// Reminders are the account's reminder and escalation settings as the request takes them.
	Reminders RequestReminders
	// DecisionLinkBase prefixes the token of the decision link each approver's email carries
	// ({SIGNOFF_PUBLIC_URL}/a/, R-ACT-1); empty writes emails without a link.
	DecisionLinkBase string
	// Policy is the resolved approval policy the request runs under; nil for the default. Under a
	// policy, ApproverIDs are every approver it names and only the first stage's are asked now.
	Policy *RequestPolicy
}

// Decision is a terminal transition of a request. ActorID nil means the system.
type Decision struct {
	RequestID string
	Type      string // an Event* decision type: approved, rejected, cancelled, timed_out, expired, auto_approved
	ActorID   *string
	Note      string
	// Stage, for an approval under a policy, is the stage it completes, the request's last (R-POL-2):
	// the approval is counted in it and stage_approved recorded with the decision; nil otherwise.
	Stage *int
}

// hasRightSQL is the approval right in SQL, over a users row aliased u: User.Can(approvals.approve),
// the role's permission or the can_approve grant, for an active user (R-AUTH-3, R-AUTH-5).
const hasRightSQL = `(u.active AND (u.can_approve OR EXISTS (SELECT 1 FROM roles ro
	WHERE ro.account_id = u.account_id AND ro.name = u.role AND 'approvals.approve' = ANY (ro.permissions))))`

const requestColumns = `r.id, r.account_id, r.campaign_id, r.campaign_version, r.content_hash, r.submitted_by, r.note, r.status,
	r.decided_by, r.decision_note, r.decided_at, r.deadline_at, r.launch_at, r.created_at, r.updated_at,
	r.reminder_after, r.escalate_after, r.escalation_user_ids, r.approval_policy, r.stages, r.current_stage, r.audience_size`

func requestScan(r *ApprovalRequest) []any {
	return []any{&r.ID, &r.AccountID, &r.CampaignID, &r.CampaignVersion, &r.ContentHash, &r.SubmittedBy, &r.Note, &r.Status,
		&r.DecidedBy, &r.DecisionNote, &r.DecidedAt, &r.DeadlineAt, &r.LaunchAt, &r.CreatedAt, &r.UpdatedAt,
		&r.Reminders.ReminderAfter, &r.Reminders.EscalateAfter, &r.Reminders.EscalationUserIDs, &r.Policy, &r.Stages,
		&r.CurrentStage, &r.AudienceSize}
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
		var stages []RequestStage
		asked := nr.ApproverIDs
		if nr.Policy != nil {
			stages, asked = nr.Policy.Stages, nr.Policy.Stages[0].ApproverIDs
		}
		_, err = tx.Exec(ctx, `INSERT INTO approval_requests (id, account_id, campaign_id, campaign_version, content_hash, submitted_by, note, deadline_at, launch_at,
			  reminder_after, escalate_after, escalation_user_ids, approval_policy, stages)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::uuid[], $13, $14)`,
			nr.ID, nr.AccountID, nr.CampaignID, v.Version, v.Hash, nr.SubmittedBy, nr.Note, nr.DeadlineAt, nr.LaunchAt,
			nr.Reminders.ReminderAfter, nr.Reminders.EscalateAfter, orEmpty(nr.Reminders.EscalationUserIDs), nr.Policy, stages)
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
		for _, uid := range asked {
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
	if r.Approvers, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Approver]); err != nil || r.Stages == nil {
		return r, err
	}
	r.StageApprovals, err = stageApprovals(ctx, q, id)
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
	r, _, err := s.DecideRecorded(ctx, accountID, d)
	return r, err
}

// DecideRecorded is Decide that also says whether this call recorded the decision: false when it
// answers a retry of a decision already recorded, so the decision is counted once (R-OPS-1).
func (s *Store) DecideRecorded(ctx context.Context, accountID string, d Decision) (_ ApprovalRequest, recorded bool, _ error) {
	status := decisionStatus[d.Type]
	if status == "" {
		return ApprovalRequest{}, false, fmt.Errorf("storage: decide: unknown decision %q", d.Type)
	}
	needsRight := d.Type == EventApproved || d.Type == EventRejected
	title, body := decisionNotice(d)
	otherTitle, otherBody := decidedByAnotherNotice(d)
	b := &pgx.Batch{}
	b.Queue(`WITH upd AS (
			UPDATE approval_requests r SET status = $3, decided_by = $4, decision_note = $5, decided_at = now(), updated_at = now()
			WHERE r.account_id = $1 AND r.id = $2 AND r.status = 'pending' AND ($18::int IS NULL OR r.current_stage = $18)
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
		sa AS (
			-- An approval under a policy completes the last stage: counted there, the stage recorded done.
			INSERT INTO approval_stage_approvals (request_id, stage, user_id) SELECT upd.id, $18, $4 FROM upd WHERE $18::int IS NOT NULL
			ON CONFLICT DO NOTHING),
		sev AS (
			INSERT INTO approval_events (account_id, request_id, campaign_id, type, actor_id, note, dedupe_key, version, stage, at)
			SELECT upd.account_id, upd.id, upd.campaign_id, '`+EventStageApproved+`', $4,
			  format('stage %s of %s (%s) approved', $18 + 1, jsonb_array_length(upd.stages), upd.stages->$18->>'name'),
			  upd.id || ':stage:' || $18 || ':approved', upd.campaign_version, $18, clock_timestamp() - interval '1 microsecond'
			FROM upd WHERE $18::int IS NOT NULL
			ON CONFLICT (dedupe_key) DO NOTHING),
		names AS (
			SELECT camp.name AS campaign, COALESCE((SELECT u.name FROM users u WHERE u.id = $4), 'Signoff') AS actor FROM camp),
		rcpt AS (
			-- The submitter of every outcome; everyone involved of a cancellation, except whoever cancelled
			-- (R-APPR-9); the approvers still assigned of a decision ($12) someone else took, as "other" (R-ACT-3).
			SELECT DISTINCT ON (x.uid) x.uid, x.other FROM upd, LATERAL (SELECT upd.submitted_by AS uid, false AS other
			  UNION ALL SELECT a.user_id, NOT $8 FROM approval_request_approvers a
			  WHERE a.request_id = upd.id AND ($8 OR ($12 AND a.state = 'assigned'))) x
			WHERE NOT (($8 OR x.other) AND $4::uuid IS NOT NULL AND x.uid = $4)
			ORDER BY x.uid, x.other),
		noti AS (
			INSERT INTO notifications (account_id, user_id, kind, title, body, campaign_id, request_id, dedupe_key)
			SELECT upd.account_id, rcpt.uid, CASE WHEN rcpt.other THEN 'approval_decided' ELSE $9 END,
			  format(CASE WHEN rcpt.other THEN $13 ELSE $10 END, names.actor, names.campaign, upd.campaign_id),
			  format(CASE WHEN rcpt.other THEN $14 ELSE $11 END, names.actor, names.campaign, upd.campaign_id),
			  upd.campaign_id, upd.id, upd.id || ':decision:' || rcpt.uid FROM upd, rcpt, names
			ON CONFLICT (dedupe_key) DO NOTHING RETURNING user_id, title, body, dedupe_key),
		mail AS (
			-- Text and HTML (R-ACT-4): the HTML templates are emailHTML's of the same title and body.
			INSERT INTO outbox_emails (account_id, to_email, to_name, subject, body, html, request_id, dedupe_key)
			SELECT upd.account_id, u.email, u.name, noti.title, noti.body || $17, format(CASE WHEN rcpt.other THEN $16 ELSE $15 END,
			  `+fmt.Sprintf(htmlEscapeSQL, "names.actor")+`, `+fmt.Sprintf(htmlEscapeSQL, "names.campaign")+`, upd.campaign_id),
			  upd.id, noti.dedupe_key
			FROM noti JOIN users u ON u.id = noti.user_id JOIN rcpt ON rcpt.uid = noti.user_id, upd, names
			ON CONFLICT (dedupe_key) DO NOTHING)
		SELECT `+requestColumns+` FROM upd r`,
		accountID, d.RequestID, status, d.ActorID, d.Note, needsRight, d.Type, d.Type == EventCancelled,
		"approval_"+status, title, body, otherTitle != "", otherTitle, otherBody,
		emailHTML(title, body, nil), emailHTML(otherTitle, otherBody, nil), emailSignature, d.Stage)
	b.Queue(approversSQL, d.RequestID)
	b.Queue(stageApprovalsSQL, d.RequestID)
	var out ApprovalRequest
	br := s.Pool.SendBatch(ctx, b)
	err := br.QueryRow().Scan(requestScan(&out)...)
	if err == nil {
		var rows pgx.Rows
		if rows, err = br.Query(); err == nil {
			out.Approvers, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Approver])
		}
		if err == nil {
			if rows, err = br.Query(); err == nil {
				out.StageApprovals, err = pgx.CollectRows(rows, pgx.RowToStructByPos[StageApproval])
			}
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	recorded = err == nil
	if errors.Is(err, pgx.ErrNoRows) {
		out, err = decisionRefused(ctx, s.Pool, accountID, d, needsRight)
	}
	if err != nil {
		if errors.Is(err, ErrAlreadyHandled) || errors.Is(err, ErrNotApprover) {
			return ApprovalRequest{}, false, fmt.Errorf("storage: decide: %w", err)
		}
		return ApprovalRequest{}, false, notFound("storage: decide", err)
	}
	return out, recorded, nil
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

// decisionNotice is the title and body telling the submitter (and, of a cancellation, everyone
// involved) of decision d, as templates for SQL's format(): %1$s is the actor's name ("Signoff" for the
// system), %2$s the campaign's, %3$s the campaign's id. A rejection says how to revise and resubmit
// (R-ACT-4).
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
	body += noteParagraph(d.Note)
	if d.Type == EventRejected {
		body += "\n\n" + resubmitHint
	}
	return title, body
}

// resubmitHint tells the submitter of a rejected request how to revise and resubmit it (R-ACT-4), as
// a format() template (%3$s is the campaign's id).
const resubmitHint = `To revise and resubmit: change the campaign (PATCH /v1/campaigns/%3$s) and submit it again ` +
	`(POST /v1/campaigns/%3$s/approval-requests), or do both in one call: POST /v1/campaigns/%3$s/resubmit ` +
	`with {"changes": {…}, "approver_ids": […], "note": "…"}.`

// decidedByAnotherNotice is the title and body telling the other approvers still assigned to a request
// that it was decided without them (R-ACT-3), as decisionNotice's templates; empty for the decisions
// they are not told of (a cancellation tells them with decisionNotice; a timeout or expiry, nobody).
func decidedByAnotherNotice(d Decision) (title, body string) {
	switch d.Type {
	case EventApproved:
		title, body = "Approved by %1$s: %2$s", `%1$s approved "%2$s", so your decision is no longer needed.`
	case EventRejected:
		title, body = "Rejected by %1$s: %2$s", `%1$s rejected "%2$s", so your decision is no longer needed.`
	case EventAutoApproved:
		title, body = "Approved automatically: %2$s", `Approvals were turned off for the account, so "%2$s" was approved automatically; your decision is no longer needed.`
	default:
		return "", ""
	}
	return title, body + noteParagraph(d.Note)
}

// noteParagraph is a decision's note as the last paragraph of a format() template ("" for no note).
func noteParagraph(note string) string {
	if note == "" {
		return ""
	}
	return "\n\nNote: " + strings.ReplaceAll(note, "%", "%%")
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
		out, err = replaceApprovers(ctx, tx, req, approverChange{IDs: approverIDs, Type: EventApproversChanged, ActorID: &actorID,
			Note: note, Key: changeKey, Count: count, LinkBase: linkBase})
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

// Escalate adds userIDs, those of them who hold the approval right now, to the assigned approvers of a
// pending request that nobody decided within after (R-ACT-2): a change of approvers recorded as
// escalated, by the system, whose added approvers are asked to decide as on any change, their emails
// carrying a decision link prefixed by linkBase (R-ACT-1; empty: none). Once per request: a retry
// answers the request as it is.
func (s *Store) Escalate(ctx context.Context, accountID, requestID string, userIDs []string, after time.Duration, count ChangeCounter, linkBase string) (ApprovalRequest, error) {
	return s.escalate(ctx, accountID, requestID, -1, userIDs, after, count, linkBase)
}

// EscalateStage is Escalate for stage stage of a request under a policy (R-POL-5): the users who hold
// the approval right are also added to the stage's approvers; once per stage.
func (s *Store) EscalateStage(ctx context.Context, accountID, requestID string, stage int, userIDs []string, after time.Duration, count ChangeCounter, linkBase string) (ApprovalRequest, error) {
	return s.escalate(ctx, accountID, requestID, stage, userIDs, after, count, linkBase)
}

// escalate is Escalate of stage stage, or of the whole request for a negative stage.
func (s *Store) escalate(ctx context.Context, accountID, requestID string, stage int, userIDs []string, after time.Duration, count ChangeCounter, linkBase string) (ApprovalRequest, error) {
	key := requestID + ":escalated"
	if stage >= 0 {
		key = fmt.Sprintf("%s:stage:%d:escalated", requestID, stage)
	}
	var out ApprovalRequest
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		req, err := loadRequestForUpdate(ctx, tx, accountID, requestID)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT a.user_id FROM approval_request_approvers a WHERE a.request_id = $1 AND a.state = 'assigned'
			UNION SELECT u.id FROM users u WHERE u.account_id = $2 AND u.id = ANY($3::uuid[]) AND `+hasRightSQL,
			requestID, accountID, orEmpty(userIDs))
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if stage >= 0 && req.Status == RequestStatusPending && req.CurrentStage == stage && stage < len(req.Stages) {
			// The escalation users who hold the right join the stage's approvers.
			if _, err := tx.Exec(ctx, `UPDATE approval_requests r SET stages = jsonb_set(r.stages, ARRAY[$2::int::text, 'approver_ids'],
				  (SELECT COALESCE(jsonb_agg(DISTINCT x), '[]'::jsonb) FROM (
				    SELECT jsonb_array_elements_text(r.stages->$2::int->'approver_ids') AS x
				    UNION SELECT u.id::text FROM users u WHERE u.account_id = r.account_id AND u.id = ANY($3::uuid[]) AND `+hasRightSQL+`) y))
				WHERE r.id = $1`, requestID, stage, orEmpty(userIDs)); err != nil {
				return err
			}
		}
		out, err = replaceApprovers(ctx, tx, req, approverChange{IDs: ids, Type: EventEscalated,
			Note: "nobody decided within " + FormatDuration(after) + "; the escalation users were added as approvers",
			Key:  key, Count: count, LinkBase: linkBase,
			Intro: fmt.Sprintf("Nobody decided within %s, so this request was escalated to you.", FormatDuration(after))})
		return err
	})
	if err != nil {
		if errors.Is(err, ErrAlreadyHandled) {
			return ApprovalRequest{}, fmt.Errorf("storage: escalate: %w", err)
		}
		return ApprovalRequest{}, notFound("storage: escalate", err)
	}
	return out, nil
}

// approverChange is a new set of assigned approvers of a request and how the change is recorded.
type approverChange struct {
	IDs     []string // the approvers assigned after the change
	Type    string   // the event: approvers_changed or escalated
	ActorID *string  // nil: the system
	Note    string
	Key     string        // the event's dedupe key; the added approvers' notices are keyed Key:<user id>
	Count   ChangeCounter // counts the changes the request brings (R-VER-6); nil leaves the count out
	Intro   string        // a paragraph put before the added approvers' request to decide
	// LinkBase prefixes the decision link each added approver's email carries ({SIGNOFF_PUBLIC_URL}/a/,
	// R-ACT-1); empty: none.
	LinkBase string
}

// replaceApprovers applies change c to request req, locked by the caller's transaction: assignments
// left out are removed, new ones made (or renewed), the event recorded and the added approvers asked
// to decide, in the app and by email. A change whose key was recorded answers the request as it is;
// a request no longer pending is ErrAlreadyHandled.
func replaceApprovers(ctx context.Context, tx pgx.Tx, req ApprovalRequest, c approverChange) (ApprovalRequest, error) {
	var done bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM approval_events WHERE dedupe_key = $1)`, c.Key).Scan(&done); err != nil {
		return ApprovalRequest{}, err
	}
	if done {
		return loadRequest(ctx, tx, req.AccountID, req.ID)
	}
	if req.Status != RequestStatusPending {
		return ApprovalRequest{}, ErrAlreadyHandled
	}
	if _, err := tx.Exec(ctx, `UPDATE approval_request_approvers SET state = 'removed', updated_at = now()
		WHERE request_id = $1 AND state = 'assigned' AND NOT (user_id = ANY($2::uuid[]))`, req.ID, orEmpty(c.IDs)); err != nil {
		return ApprovalRequest{}, err
	}
	if err := revokeRemovedLinks(ctx, tx, req.ID, orEmpty(c.IDs)); err != nil {
		return ApprovalRequest{}, err
	}
	rows, err := tx.Query(ctx, `INSERT INTO approval_request_approvers AS a (request_id, user_id) SELECT $1, unnest($2::uuid[])
		ON CONFLICT (request_id, user_id) DO UPDATE SET state = 'assigned', updated_at = now() WHERE a.state <> 'assigned'
		RETURNING user_id`, req.ID, orEmpty(c.IDs))
	if err != nil {
		return ApprovalRequest{}, err
	}
	added, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return ApprovalRequest{}, err
	}
	if err := insertEvent(ctx, tx, req.ID, c.Type, c.ActorID, c.Note, c.Key); err != nil {
		return ApprovalRequest{}, err
	}
	if len(added) > 0 {
		var campaign string
		if err := tx.QueryRow(ctx, `SELECT name FROM campaigns WHERE id = $1`, req.CampaignID).Scan(&campaign); err != nil {
			return ApprovalRequest{}, err
		}
		submitter, err := userName(ctx, tx, req.SubmittedBy)
		if err != nil {
			return ApprovalRequest{}, err
		}
		sentence, err := changesSentence(ctx, tx, req.AccountID, req.ID, c.Count)
		if err != nil {
			return ApprovalRequest{}, err
		}
		body := approvalAsked(submitter, campaign, sentence)
		if c.Intro != "" {
			body = c.Intro + "\n\n" + body
		}
		for _, uid := range added {
			if err := notify(ctx, tx, notice{AccountID: req.AccountID, UserID: uid, Kind: "approval_requested",
				Title: "Approval requested: " + campaign, Body: body,
				CampaignID: req.CampaignID, RequestID: req.ID, DedupeKey: c.Key + ":" + uid, DecisionLinkBase: c.LinkBase}); err != nil {
				return ApprovalRequest{}, err
			}
		}
	}
	return loadRequest(ctx, tx, req.AccountID, req.ID)
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

// RemindApprovers reminds the assigned approvers of a pending request who hold the approval right,
// in the app and by email, as reminder n of of (R-ACT-2), and records it in the history; once per n.
// It answers how many it reminded: none for a request not pending (or not of the account), one nobody
// may decide, or a reminder already recorded.
//
// Thousands of reminders may fall due together, so it is one statement (its parts are data-modifying
// CTEs, atomic together), like Decide: the request's row is locked against a concurrent decision, the
// event is written once per n (its dedupe key), and the notices and emails only when the event was.
// Each email carries a new decision link of its approver (R-ACT-1), prefixed by linkBase (empty: none):
// the tokens are made here (reminderTokens) and numbered to the reminded approvers in the statement.
func (s *Store) RemindApprovers(ctx context.Context, accountID, requestID string, n, of int, linkBase string) (int, error) {
	return s.remind(ctx, accountID, requestID, -1, n, of, linkBase)
}

// RemindStageApprovers is RemindApprovers for stage stage of a request under a policy (R-POL-5): it
// reminds the stage's assigned approvers who hold the right and have not approved it yet, once per
// stage and n.
func (s *Store) RemindStageApprovers(ctx context.Context, accountID, requestID string, stage, n, of int, linkBase string) (int, error) {
	return s.remind(ctx, accountID, requestID, stage, n, of, linkBase)
}

// remind is RemindApprovers of stage stage, or of the whole request for a negative stage.
func (s *Store) remind(ctx context.Context, accountID, requestID string, stage, n, of int, linkBase string) (int, error) {
	key := fmt.Sprintf("%s:reminded:%d", requestID, n)
	if stage >= 0 {
		key = fmt.Sprintf("%s:stage:%d:reminded:%d", requestID, stage, n)
	}
	title, body := reminderNotice(n, of)
	tokens, hashes := reminderTokens(linkBase)
	var reminded int
	err := s.Pool.QueryRow(ctx, `WITH req AS (
			SELECT r.id, r.account_id, r.campaign_id, r.campaign_version, r.submitted_by, r.deadline_at, r.stages FROM approval_requests r
			WHERE r.account_id = $1 AND r.id = $2 AND r.status = 'pending' AND ($14::int < 0 OR r.current_stage = $14) FOR UPDATE),
		ppl AS (
			SELECT u.id, u.name, u.email FROM req JOIN approval_request_approvers a ON a.request_id = req.id
			JOIN users u ON u.id = a.user_id WHERE a.state = 'assigned' AND `+hasRightSQL+`
			  AND ($14 < 0 OR (a.user_id::text IN (SELECT jsonb_array_elements_text(req.stages->$14->'approver_ids'))
			    AND NOT EXISTS (SELECT 1 FROM approval_stage_approvals sa WHERE sa.request_id = req.id AND sa.stage = $14 AND sa.user_id = a.user_id)))),
		ev AS (
			INSERT INTO approval_events (account_id, request_id, campaign_id, type, note, dedupe_key, version)
			SELECT req.account_id, req.id, req.campaign_id, '`+EventReminded+`',
			  format($4, (SELECT string_agg(ppl.name, ', ' ORDER BY lower(ppl.email)) FROM ppl)), $3, req.campaign_version
			FROM req WHERE EXISTS (SELECT 1 FROM ppl)
			ON CONFLICT (dedupe_key) DO NOTHING RETURNING request_id),
		names AS (
			SELECT c.name AS campaign, u.name AS submitter,
			  to_char(req.deadline_at AT TIME ZONE 'UTC', 'Dy FMDD Mon YYYY HH24:MI "UTC"') AS deadline
			FROM req JOIN campaigns c ON c.id = req.campaign_id JOIN users u ON u.id = req.submitted_by),
		noti AS (
			INSERT INTO notifications (account_id, user_id, kind, title, body, campaign_id, request_id, dedupe_key)
			SELECT req.account_id, ppl.id, 'approval_reminder', format($5, names.submitter, names.campaign, names.deadline),
			  format($6, names.submitter, names.campaign, names.deadline), req.campaign_id, req.id, $3 || ':' || ppl.id
			FROM ev, req, ppl, names
			ON CONFLICT (dedupe_key) DO NOTHING RETURNING user_id, title, body, dedupe_key),
		tok AS (
			SELECT p.id AS user_id, $12 || t.token AS link, t.hash
			FROM (SELECT noti.user_id AS id, row_number() OVER (ORDER BY noti.user_id) AS n FROM noti) p
			JOIN unnest($10::text[], $11::bytea[]) WITH ORDINALITY AS t(token, hash, n) ON t.n = p.n),
		links AS (
			INSERT INTO decision_links (token_hash, account_id, request_id, user_id)
			SELECT tok.hash, req.account_id, req.id, tok.user_id FROM tok, req),
		mail AS (
			INSERT INTO outbox_emails (account_id, to_email, to_name, subject, body, html, request_id, dedupe_key)
			SELECT req.account_id, ppl.email, ppl.name, noti.title, noti.body || COALESCE($13 || tok.link, '') || $8,
			  format(CASE WHEN tok.link IS NULL THEN $7 ELSE $9 END,
			  `+fmt.Sprintf(htmlEscapeSQL, "names.submitter")+`, `+fmt.Sprintf(htmlEscapeSQL, "names.campaign")+`, names.deadline,
			  `+fmt.Sprintf(htmlEscapeSQL, "tok.link")+`),
			  req.id, noti.dedupe_key
			FROM noti JOIN ppl ON ppl.id = noti.user_id LEFT JOIN tok ON tok.user_id = noti.user_id, req, names
			ON CONFLICT (dedupe_key) DO NOTHING)
		SELECT count(*) FROM noti`,
		accountID, requestID, key, fmt.Sprintf("reminder %d of %d to %%s", n, of), title, body,
		emailHTML(title, body, nil), emailSignature,
		emailHTML(title, body, []emailAction{{Label: DecisionLinkLabel, URL: "%4$s"}}), tokens, hashes, linkBase,
		"\n\n"+DecisionLinkLabel+": ", stage).Scan(&reminded)
	if err != nil {
		return 0, fmt.Errorf("storage: remind approvers: %w", err)
	}
	return reminded, nil
}

// reminderNotice is the title and body of reminder n of of, as templates for SQL's format(): %1$s is
// the submitter's name, %2$s the campaign's, %3$s the deadline.
func reminderNotice(n, of int) (title, body string) {
	return "Reminder: approval requested: %2$s", fmt.Sprintf("Reminder %d of %d: %%1$s asks you to approve \"%%2$s\" before it launches."+
		"\n\nUnless someone decides, the request times out at %%3$s.", n, of)
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

// ExpireApprover marks userID's assignment on a request expired and records it once (R-APPR-7). The
// submitter is told (R-ACT-3): how many approvers who can decide are left or, when none is and the
// account holds such requests, that they should change the approvers. When none is left and the request
// expires, the expiry's own notice tells them (Decide).
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
		if err := tx.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM approval_request_approvers a JOIN users u ON u.id = a.user_id
			  WHERE a.request_id = $1 AND a.state = 'assigned' AND `+hasRightSQL+`),
			(SELECT on_no_approvers FROM accounts WHERE id = $2)`, requestID, accountID).Scan(&res.ValidApprovers, &res.Policy); err != nil {
			return err
		}
		if tag.RowsAffected() == 0 || req.Status != RequestStatusPending || (res.ValidApprovers == 0 && res.Policy != "hold") {
			return nil
		}
		return notifyApproverExpired(ctx, tx, req, userID, res.ValidApprovers)
	})
	if err != nil {
		return ExpireResult{}, notFound("storage: expire approver", err)
	}
	return res, nil
}

// notifyApproverExpired tells the submitter of req that approver userID lost the right, and whether
// left approvers who can decide remain (none: the account holds the request, and they should change
// its approvers).
func notifyApproverExpired(ctx context.Context, tx pgx.Tx, req ApprovalRequest, userID string, left int) error {
	var campaign string
	if err := tx.QueryRow(ctx, `SELECT name FROM campaigns WHERE id = $1`, req.CampaignID).Scan(&campaign); err != nil {
		return err
	}
	who, err := userName(ctx, tx, userID)
	if err != nil {
		return err
	}
	body := fmt.Sprintf("%s lost the approval right, so they can no longer decide on %q.", who, campaign)
	switch left {
	case 0:
		body += " No assigned approver who can decide is left. The account holds such requests: it stays pending " +
			"until you change its approvers (PUT /v1/approval-requests/" + req.ID + "/approvers) or cancel it."
	case 1:
		body += " 1 other approver still can."
	default:
		body += fmt.Sprintf(" %d other approvers still can.", left)
	}
	return notify(ctx, tx, notice{AccountID: req.AccountID, UserID: req.SubmittedBy, Kind: "approver_expired",
		Title: "Approver expired: " + campaign, Body: body, CampaignID: req.CampaignID, RequestID: req.ID,
		DedupeKey: req.ID + ":approver_expired:" + userID + ":notice"})
}

// FormatDuration writes d as the settings are written: "0", "24h", "1h30m", "90s".
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
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

// InboxCursor is a position in an approver's inbox: the deadline and id of the last request read.
type InboxCursor struct {
	DeadlineAt time.Time
	ID         string
}

// Inbox lists the pending requests on which userID is an assigned approver, oldest deadline first
// (then by id), after the position after when it is not nil, at most limit of them when limit > 0
// (R-APPR-11); of a request under a policy, only while its current stage names userID and userID has
// not approved that stage (R-POL-2).
func (s *Store) Inbox(ctx context.Context, accountID, userID string, after *InboxCursor, limit int) ([]ApprovalRequest, error) {
	var afterAt *time.Time
	var afterID *string
	if after != nil {
		afterAt, afterID = &after.DeadlineAt, &after.ID
	}
	var max *int
	if limit > 0 {
		max = &limit
	}
	rows, err := s.Pool.Query(ctx, `SELECT r.id FROM approval_requests r JOIN approval_request_approvers a ON a.request_id = r.id
		WHERE r.account_id = $1 AND a.user_id = $2 AND a.state = 'assigned' AND r.status = 'pending'
		  AND ($3::timestamptz IS NULL OR (r.deadline_at, r.id) > ($3, $4::uuid))
		  AND (r.stages IS NULL OR jsonb_typeof(r.stages) <> 'array' OR (
		    $2::text IN (SELECT jsonb_array_elements_text(r.stages->r.current_stage->'approver_ids'))
		    AND NOT EXISTS (SELECT 1 FROM approval_stage_approvals sa WHERE sa.request_id = r.id AND sa.stage = r.current_stage AND sa.user_id = $2)))
		ORDER BY r.deadline_at, r.id LIMIT $5`,
		accountID, userID, afterAt, afterID, max)
	if err != nil {
		return nil, fmt.Errorf("storage: inbox: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("storage: inbox: %w", err)
	}
	out, err := loadRequests(ctx, s.Pool, accountID, ids)
	if err != nil {
		return nil, fmt.Errorf("storage: inbox: %w", err)
	}
	return out, nil
}

// loadRequests reads requests ids of account accountID as loadRequest does, in three queries whatever
// their number (the requests, their approvers, their stage approvals), oldest deadline first: an
// approver's inbox holds hundreds of requests (issue 17 measured one query per request at 77 % of the
// inbox's time).
func loadRequests(ctx context.Context, q queryer, accountID string, ids []string) ([]ApprovalRequest, error) {
	rows, err := q.Query(ctx, `SELECT `+requestColumns+` FROM approval_requests r
		WHERE r.account_id = $1 AND r.id = ANY($2::uuid[]) ORDER BY r.deadline_at, r.id`, accountID, ids)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ApprovalRequest, error) {
		var r ApprovalRequest
		return r, row.Scan(requestScan(&r)...)
	})
	if err != nil || len(out) == 0 {
		return out, err
	}
	at := make(map[string]int, len(out))
	found := make([]string, len(out))
	for i := range out {
		at[out[i].ID], found[i] = i, out[i].ID
		out[i].Approvers = []Approver{}
		if out[i].Stages != nil {
			out[i].StageApprovals = []StageApproval{}
		}
	}
	rows, err = q.Query(ctx, `SELECT a.request_id::text, u.id, u.name, u.email, a.state FROM approval_request_approvers a
		JOIN users u ON u.id = a.user_id WHERE a.request_id = ANY($1::uuid[]) ORDER BY a.request_id, lower(u.email)`, found)
	if err != nil {
		return nil, err
	}
	var rid string
	var ap Approver
	if _, err := pgx.ForEachRow(rows, []any{&rid, &ap.UserID, &ap.Name, &ap.Email, &ap.State}, func() error {
		out[at[rid]].Approvers = append(out[at[rid]].Approvers, ap)
		return nil
	}); err != nil {
		return nil, err
	}
	rows, err = q.Query(ctx, `SELECT request_id::text, stage, user_id, at FROM approval_stage_approvals
		WHERE request_id = ANY($1::uuid[]) ORDER BY request_id, stage, at, user_id`, found)
	if err != nil {
		return nil, err
	}
	var sa StageApproval
	if _, err := pgx.ForEachRow(rows, []any{&rid, &sa.Stage, &sa.UserID, &sa.At}, func() error {
		if r := &out[at[rid]]; r.Stages != nil {
			r.StageApprovals = append(r.StageApprovals, sa)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return out, nil
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

// LostAssignments lists the assignments on pending requests held by the users userIDs of account
// accountID who no longer hold the approval right (hasRightSQL): what a change of their role, of
// their role's permissions or of their grant expires at once (R-APPR-7, R-AUTH-5).
func (s *Store) LostAssignments(ctx context.Context, accountID string, userIDs []string) ([]StaleAssignment, error) {
	rows, err := s.Pool.Query(ctx, `SELECT r.account_id, a.request_id, a.user_id FROM approval_request_approvers a
		JOIN approval_requests r ON r.id = a.request_id JOIN users u ON u.id = a.user_id
		WHERE r.account_id = $1 AND a.user_id = ANY($2::uuid[]) AND r.status = 'pending' AND a.state = 'assigned'
		  AND NOT `+hasRightSQL+` ORDER BY a.user_id, a.request_id`, accountID, orEmpty(userIDs))
	if err != nil {
		return nil, fmt.Errorf("storage: lost assignments: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[StaleAssignment])
	if err != nil {
		return nil, fmt.Errorf("storage: lost assignments: %w", err)
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

// CountPendingRequests counts the pending approval requests of every account, for the
// signoff_approval_requests_pending gauge.
func (s *Store) CountPendingRequests(ctx context.Context) (int64, error) {
	var n int64
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM approval_requests WHERE status = 'pending'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("storage: count pending requests: %w", err)
	}
	return n, nil
}
