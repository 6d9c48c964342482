package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ApprovalPolicy is who must approve a request and in what order (R-POL-1): stages run in order,
// and rules append stages when their condition holds. Stored as JSON on accounts, campaigns and
// requests; nil everywhere is the default, one stage of the request's approvers with one approval.
type ApprovalPolicy struct {
	Stages []PolicyStage `json:"stages"`
	Rules  []PolicyRule  `json:"rules"`
}

// PolicyStage is one stage of a policy: its approvers (nil: the request's approver_ids) and how many
// of them must approve.
type PolicyStage struct {
	Name        string        `json:"name"`
	ApproverIDs []string      `json:"approver_ids"`
	Required    StageRequired `json:"required"`
}

// StageRequired is a stage's required count: a number, or "all" of the stage's approvers.
type StageRequired struct {
	N   int
	All bool
}

// MarshalJSON writes the count, or "all".
func (r StageRequired) MarshalJSON() ([]byte, error) {
	if r.All {
		return []byte(`"all"`), nil
	}
	return []byte(strconv.Itoa(r.N)), nil
}

// UnmarshalJSON reads a whole number or "all".
func (r *StageRequired) UnmarshalJSON(b []byte) error {
	if string(b) == `"all"` {
		*r = StageRequired{All: true}
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New(`must be a whole number or "all"`)
	}
	*r = StageRequired{N: n}
	return nil
}

// PolicyRule appends AddStage when its condition holds (R-POL-3).
type PolicyRule struct {
	If       RuleCondition `json:"if"`
	AddStage PolicyStage   `json:"add_stage"`
}

// RuleCondition is a rule's condition: the audience is larger than AudienceSizeGT contacts.
type RuleCondition struct {
	AudienceSizeGT *int `json:"audience_size_gt"`
}

// RequestStage is a stage of a request as it runs: the stage's resolved approvers and required count.
type RequestStage struct {
	Name        string   `json:"name"`
	ApproverIDs []string `json:"approver_ids"`
	Required    int      `json:"required"`
}

// StageApproval is one approval counted in a stage (R-POL-2).
type StageApproval struct {
	Stage  int       `json:"stage"`
	UserID string    `json:"user_id"`
	At     time.Time `json:"at"`
}

// ErrStageApproved is returned when a person approves a stage they already approved: the unique
// key of the stage approvals, the second guard of N-of-M counting (R-POL-5).
var ErrStageApproved = errors.New("already approved this stage")

// ErrStageNotCurrent is returned when an approval names a stage the request no longer waits for.
var ErrStageNotCurrent = errors.New("the stage is not the request's current stage")

// stageApprovalsSQL lists the approvals counted in the stages of request $1, by stage and time.
const stageApprovalsSQL = `SELECT stage, user_id, at FROM approval_stage_approvals WHERE request_id = $1 ORDER BY stage, at, user_id`

// StageApprovals lists the approvals counted in the stages of request requestID, by stage and time.
func (s *Store) StageApprovals(ctx context.Context, requestID string) ([]StageApproval, error) {
	rows, err := s.Pool.Query(ctx, stageApprovalsSQL, requestID)
	if err != nil {
		return nil, fmt.Errorf("storage: stage approvals: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[StageApproval])
	if err != nil {
		return nil, fmt.Errorf("storage: stage approvals: %w", err)
	}
	return out, nil
}

// CampaignPolicy answers the approval_policy override of campaign campaignID; nil when it has none.
func (s *Store) CampaignPolicy(ctx context.Context, accountID, campaignID string) (*ApprovalPolicy, error) {
	var p *ApprovalPolicy
	err := s.Pool.QueryRow(ctx, `SELECT approval_policy FROM campaigns WHERE account_id = $1 AND id = $2`, accountID, campaignID).Scan(&p)
	if err != nil {
		return nil, notFound("storage: campaign policy", err)
	}
	return p, nil
}

// SetCampaignPolicy stores campaign campaignID's approval_policy override (nil: the account's).
func (s *Store) SetCampaignPolicy(ctx context.Context, accountID, campaignID string, p *ApprovalPolicy) error {
	tag, err := s.Pool.Exec(ctx, `UPDATE campaigns SET approval_policy = $3, updated_at = now() WHERE account_id = $1 AND id = $2`,
		accountID, campaignID, p)
	if err != nil {
		return fmt.Errorf("storage: set campaign policy: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("storage: set campaign policy: %w", ErrNotFound)
	}
	return nil
}

// RequestRule is a rule of a request's policy, resolved: when the audience is larger than
// AudienceSizeGT, AddStage is appended (R-POL-3).
type RequestRule struct {
	AudienceSizeGT int          `json:"audience_size_gt"`
	AddStage       RequestStage `json:"add_stage"`
}

// RequestPolicy is the policy a request was submitted under, resolved against its approvers: what
// its workflow runs.
type RequestPolicy struct {
	Stages []RequestStage `json:"stages"`
	Rules  []RequestRule  `json:"rules"`
}

// StagesFor is the stages a request under p runs once its audience is audience contacts: p's
// stages, then the stage of every rule whose condition holds, in the rules' order.
func (p *RequestPolicy) StagesFor(audience int) []RequestStage {
	out := append([]RequestStage(nil), p.Stages...)
	for _, r := range p.Rules {
		if audience > r.AudienceSizeGT {
			out = append(out, r.AddStage)
		}
	}
	return out
}

// EventStageApproved is the history type of a completed stage (R-POL-2).
const EventStageApproved = "stage_approved"

// StageApprovalInput is an approval of stage Stage of a request by UserID that does not decide the
// request: the stage needs Required approvals.
type StageApprovalInput struct {
	AccountID string
	RequestID string
	Stage     int
	UserID    string
	Required  int
	// LinkBase prefixes the decision links of the next stage's approvers (R-ACT-1); empty: none.
	LinkBase string
	// CountChanges counts the changes the request brings, for the next stage's emails; nil leaves it out.
	CountChanges ChangeCounter
}

// StageApprovalResult is the request as a stage approval left it, and whether the approval completed
// its stage.
type StageApprovalResult struct {
	Request   ApprovalRequest
	StageDone bool
}

// ApproveStage counts an approval of a stage of a pending request (R-POL-2, R-POL-5), under the
// request's row lock: the approver must be assigned and hold the approval right (ErrNotApprover), the
// stage must be the request's current one (ErrStageNotCurrent) and the request pending
// (ErrAlreadyHandled). The key (request, stage, user) counts a person once: a retry counts nothing
// more. When the stage has Required approvals it is done: stage_approved is recorded, the request
// moves to the next stage and that stage's approvers are asked to decide, in the app and by email
// with a decision link, as the first stage's were at submission.
func (s *Store) ApproveStage(ctx context.Context, in StageApprovalInput) (StageApprovalResult, error) {
	var out StageApprovalResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		req, err := loadRequestForUpdate(ctx, tx, in.AccountID, in.RequestID)
		if err != nil {
			return err
		}
		var counted bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM approval_stage_approvals WHERE request_id = $1 AND stage = $2 AND user_id = $3)`,
			in.RequestID, in.Stage, in.UserID).Scan(&counted); err != nil {
			return err
		}
		switch {
		case counted && (req.Status != RequestStatusPending || req.CurrentStage != in.Stage):
			// A retry of an approval that completed its stage (or the request): answer it as it is.
			out = StageApprovalResult{Request: req, StageDone: req.CurrentStage > in.Stage || req.Status == RequestStatusApproved}
			out.Request.StageApprovals, err = stageApprovals(ctx, tx, in.RequestID)
			return err
		case req.Status != RequestStatusPending:
			return ErrAlreadyHandled
		case req.CurrentStage != in.Stage || in.Stage >= len(req.Stages):
			return ErrStageNotCurrent
		}
		var may bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM approval_request_approvers a JOIN users u ON u.id = a.user_id
			WHERE a.request_id = $1 AND a.user_id = $2 AND a.state = 'assigned' AND `+hasRightSQL+`)`, in.RequestID, in.UserID).Scan(&may); err != nil {
			return err
		}
		if !may {
			return ErrNotApprover
		}
		if _, err := tx.Exec(ctx, `INSERT INTO approval_stage_approvals (request_id, stage, user_id) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, in.RequestID, in.Stage, in.UserID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM approval_stage_approvals WHERE request_id = $1 AND stage = $2`,
			in.RequestID, in.Stage).Scan(&n); err != nil {
			return err
		}
		if n >= in.Required {
			out.StageDone = true
			if err := startNextStage(ctx, tx, req, in); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE approval_requests SET updated_at = now() WHERE id = $1`, in.RequestID); err != nil {
			return err
		}
		out.Request, err = loadRequest(ctx, tx, in.AccountID, in.RequestID)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrAlreadyHandled) || errors.Is(err, ErrNotApprover) || errors.Is(err, ErrStageNotCurrent) {
			return StageApprovalResult{}, fmt.Errorf("storage: approve stage: %w", err)
		}
		return StageApprovalResult{}, notFound("storage: approve stage", err)
	}
	return out, nil
}

// startNextStage records that stage in.Stage of req is done, by in.UserID's approval, and moves req to
// the next stage, whose approvers are asked to decide; the caller holds req's row lock.
func startNextStage(ctx context.Context, tx pgx.Tx, req ApprovalRequest, in StageApprovalInput) error {
	if err := insertStageEvent(ctx, tx, req, in.Stage, &in.UserID); err != nil {
		return err
	}
	next := in.Stage + 1
	if _, err := tx.Exec(ctx, `UPDATE approval_requests SET current_stage = $2 WHERE id = $1`, req.ID, next); err != nil {
		return err
	}
	if next >= len(req.Stages) {
		return nil
	}
	var campaign string
	if err := tx.QueryRow(ctx, `SELECT name FROM campaigns WHERE id = $1`, req.CampaignID).Scan(&campaign); err != nil {
		return err
	}
	submitter, err := userName(ctx, tx, req.SubmittedBy)
	if err != nil {
		return err
	}
	sentence, err := changesSentence(ctx, tx, req.AccountID, req.ID, in.CountChanges)
	if err != nil {
		return err
	}
	st := req.Stages[next]
	body := approvalAsked(submitter, campaign, sentence) + fmt.Sprintf("\n\nYou approve stage %d of %d, %q: %d approval(s) needed.",
		next+1, len(req.Stages), st.Name, st.Required)
	if req.Note != "" {
		body += "\n\nNote: " + req.Note
	}
	for _, uid := range st.ApproverIDs {
		if err := notify(ctx, tx, notice{AccountID: req.AccountID, UserID: uid, Kind: "approval_requested",
			Title: "Approval requested: " + campaign, Body: body, CampaignID: req.CampaignID, RequestID: req.ID,
			DedupeKey: fmt.Sprintf("%s:stage:%d:%s", req.ID, next, uid), DecisionLinkBase: in.LinkBase}); err != nil {
			return err
		}
	}
	return nil
}

// insertStageEvent records stage_approved of stage stage of req, once.
func insertStageEvent(ctx context.Context, tx pgx.Tx, req ApprovalRequest, stage int, actorID *string) error {
	name := ""
	if stage < len(req.Stages) {
		name = req.Stages[stage].Name
	}
	_, err := tx.Exec(ctx, `INSERT INTO approval_events (account_id, request_id, campaign_id, type, actor_id, note, dedupe_key, version, stage)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (dedupe_key) DO NOTHING`,
		req.AccountID, req.ID, req.CampaignID, EventStageApproved, actorID,
		fmt.Sprintf("stage %d of %d (%s) approved", stage+1, len(req.Stages), name),
		fmt.Sprintf("%s:stage:%d:approved", req.ID, stage), req.CampaignVersion, stage)
	return err
}

// stageApprovals lists the approvals counted in the stages of request requestID.
func stageApprovals(ctx context.Context, q queryer, requestID string) ([]StageApproval, error) {
	rows, err := q.Query(ctx, stageApprovalsSQL, requestID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[StageApproval])
}

// SetAudience records the audience size of a pending request under a policy (R-POL-3) and the stages
// it runs: the policy's and those its rules add for that size. Once: a request whose size is
// recorded answers as it is.
func (s *Store) SetAudience(ctx context.Context, accountID, requestID string, size int) (ApprovalRequest, error) {
	var out ApprovalRequest
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		req, err := loadRequestForUpdate(ctx, tx, accountID, requestID)
		if err != nil {
			return err
		}
		if req.AudienceSize == nil {
			var stages []RequestStage
			if req.Policy != nil {
				stages = req.Policy.StagesFor(size)
			}
			if _, err := tx.Exec(ctx, `UPDATE approval_requests SET audience_size = $2, stages = COALESCE($3, stages), updated_at = now()
				WHERE id = $1`, requestID, size, stages); err != nil {
				return err
			}
		}
		out, err = loadRequest(ctx, tx, accountID, requestID)
		return err
	})
	if err != nil {
		return ApprovalRequest{}, notFound("storage: set audience", err)
	}
	return out, nil
}

// AudienceSize counts the directory contacts of account accountID that any of filters match (the
// segments of a campaign version, R-POL-3): a contact two segments match counts once. No filter
// matches nobody.
func (s *Store) AudienceSize(ctx context.Context, accountID string, filters []SearchFilters) (int, error) {
	if len(filters) == 0 {
		return 0, nil
	}
	var conds []string
	args := []any{accountID}
	for _, f := range filters {
		where, fargs := f.where(len(args) + 1)
		conds = append(conds, "("+where+")")
		args = append(args, fargs...)
	}
	var n int
	err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM contacts WHERE account_id = $1 AND (`+strings.Join(conds, " OR ")+`)`, args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("storage: audience size: %w", err)
	}
	return n, nil
}
