package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Campaign kinds, modes and statuses of SPEC §3.
const (
	CampaignKindCampaign = "campaign"
	CampaignKindJourney  = "journey"

	CampaignModeActive  = "active"
	CampaignModePassive = "passive"
	CampaignModeTest    = "test"

	CampaignStatusDraft     = "draft"
	CampaignStatusReady     = "ready"
	CampaignStatusError     = "error"
	CampaignStatusScheduled = "scheduled"
	CampaignStatusLive      = "live"
)

// Campaign is a campaign or journey with its approval state. Content is loaded only for single reads.
// ArchivedAt is when a campaign with approval history was deleted: it is kept, readable by id, out of
// lists and closed to edits (R-APPR-10); null for a campaign in use.
type Campaign struct {
	ID              string           `json:"id"`
	AccountID       string           `json:"account_id"`
	CreatedBy       string           `json:"created_by"`
	Name            string           `json:"name"`
	Kind            string           `json:"kind"`
	Mode            string           `json:"mode"`
	StartAt         *time.Time       `json:"start_at"`
	EndAt           *time.Time       `json:"end_at"`
	Status          string           `json:"status"`
	ApprovalStatus  string           `json:"approval_status"`
	Version         int              `json:"version"`
	ApprovedVersion *int             `json:"approved_version"` // approved by the current approval, or nil (R-VER-2)
	LiveVersion     *int             `json:"live_version"`     // launched and live, or nil (R-VER-2)
	CreatedAt       time.Time        `json:"created_at"`
	UpdatedAt       time.Time        `json:"updated_at"`
	ArchivedAt      *time.Time       `json:"archived_at"`
	Content         *CampaignContent `json:"content,omitempty"`
	// ApprovalPolicy overrides the account's approval policy for this campaign's requests (R-POL-1);
	// nil uses the account's.
	ApprovalPolicy *ApprovalPolicy `json:"approval_policy"`
}

// CampaignContent is everything a campaign sends and how it is personalised.
type CampaignContent struct {
	Segments       []Segment       `json:"segments"`
	Prompts        []Prompt        `json:"prompts"`
	AIModelConfigs []AIModelConfig `json:"ai_model_configs"`
	Sequences      []Sequence      `json:"sequences"`
	TrackingLinks  []TrackingLink  `json:"tracking_links"`
}

// Segment is a named audience slice with its filters.
type Segment struct {
	Name    string        `json:"name"`
	Filters SearchFilters `json:"filters"`
}

// Prompt is a named instruction for the AI pipeline.
type Prompt struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

// AIModelConfig chooses the provider and model of one AI pipeline step.
type AIModelConfig struct {
	Step        string  `json:"step"`
	Provider    string  `json:"provider"`
	Model       string  `json:"model"`
	Temperature float64 `json:"temperature"`
}

// Sequence is an ordered list of email steps.
type Sequence struct {
	Name  string         `json:"name"`
	Steps []SequenceStep `json:"steps"`
}

// SequenceStep is one email of a sequence.
type SequenceStep struct {
	Subject   string `json:"subject"`
	Body      string `json:"body"`
	DelayDays int    `json:"delay_days"`
}

// TrackingLink is a link whose clicks are tracked.
type TrackingLink struct {
	URL   string `json:"url"`
	Label string `json:"label"`
}

// NewCampaign holds the fields of a campaign to create.
type NewCampaign struct {
	// ID is the new campaign's id; empty means a random one.
	ID      string
	Name    string
	Kind    string
	Mode    string
	StartAt *time.Time
	EndAt   *time.Time
	Content CampaignContent
	// ApprovalPolicy is the campaign's override of the account's approval policy; nil has none.
	ApprovalPolicy *ApprovalPolicy
}

// CampaignPatch holds the optional changes of PATCH /v1/campaigns/{id}; a nil pointer means unchanged.
// SetStartAt and SetEndAt say whether StartAt and EndAt (which may be nil, meaning null) are changed.
type CampaignPatch struct {
	Name       *string
	Kind       *string
	Mode       *string
	SetStartAt bool
	StartAt    *time.Time
	SetEndAt   bool
	EndAt      *time.Time
	Status     *string
	Content    *CampaignContent
	// SetApprovalPolicy says whether ApprovalPolicy (nil: the account's) replaces the campaign's
	// override; the policy is not content: changing it changes no version.
	SetApprovalPolicy bool
	ApprovalPolicy    *ApprovalPolicy
}

// Cursor is a keyset position in a list ordered by creation time, newest first.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// campaignColumns are a campaigns row aliased c in campaignScan's order. The approval policy (00021)
// is read through to_jsonb so the same reads work on a database not yet migrated (the migration tests
// read old schemas with today's store).
const campaignColumns = `c.id, c.account_id, c.created_by, c.name, c.kind, c.mode, c.start_at, c.end_at,
	c.status, c.approval_status, c.version, c.approved_version, c.live_version, c.created_at, c.updated_at, c.archived_at,
	to_jsonb(c)->'approval_policy'`

func campaignScan(c *Campaign) []any {
	return []any{&c.ID, &c.AccountID, &c.CreatedBy, &c.Name, &c.Kind, &c.Mode, &c.StartAt, &c.EndAt,
		&c.Status, &c.ApprovalStatus, &c.Version, &c.ApprovedVersion, &c.LiveVersion, &c.CreatedAt, &c.UpdatedAt, &c.ArchivedAt,
		&c.ApprovalPolicy}
}

// CreateCampaign creates a campaign in status draft with its content, in one transaction.
func (s *Store) CreateCampaign(ctx context.Context, accountID, createdBy string, nc NewCampaign) (Campaign, error) {
	var c Campaign
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			INSERT INTO campaigns AS c (id, account_id, created_by, name, kind, mode, start_at, end_at, approval_policy)
			VALUES (COALESCE($8::uuid, gen_random_uuid()), $1, $2, $3, $4, $5, $6, $7, $9)
			RETURNING `+campaignColumns, accountID, createdBy, nc.Name, nc.Kind, nc.Mode, nc.StartAt, nc.EndAt, nullable(nc.ID),
			nc.ApprovalPolicy).
			Scan(campaignScan(&c)...)
		if isUniqueViolation(err) {
			return ErrConflict
		}
		if err != nil {
			return err
		}
		if err := writeContent(ctx, tx, c.ID, nc.Content); err != nil {
			return err
		}
		content := nc.Content
		c.Content = &content
		return nil
	})
	if err != nil {
		return Campaign{}, fmt.Errorf("storage: create campaign: %w", err)
	}
	return c, nil
}

// Campaign returns campaign id of account accountID with its content, hidden draft copies included.
func (s *Store) Campaign(ctx context.Context, accountID, id string) (Campaign, error) {
	return s.campaign(ctx, accountID, id, true)
}

// VisibleCampaign is Campaign without hidden draft copies, for the campaign endpoints.
func (s *Store) VisibleCampaign(ctx context.Context, accountID, id string) (Campaign, error) {
	return s.campaign(ctx, accountID, id, false)
}

// CampaignSummary returns campaign id of account accountID without its content (one query), hidden
// copies included, for checks that need only its header.
func (s *Store) CampaignSummary(ctx context.Context, accountID, id string) (Campaign, error) {
	return s.campaignSummary(ctx, accountID, id, true)
}

func (s *Store) campaignSummary(ctx context.Context, accountID, id string, includeHidden bool) (Campaign, error) {
	var c Campaign
	err := s.Pool.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaigns c WHERE c.account_id = $1 AND c.id = $2
		AND (NOT c.hidden OR $3)`, accountID, id, includeHidden).Scan(campaignScan(&c)...)
	if err != nil {
		return Campaign{}, notFound("storage: campaign", err)
	}
	return c, nil
}

// CampaignSummaryVisible is CampaignSummary without hidden draft copies.
func (s *Store) CampaignSummaryVisible(ctx context.Context, accountID, id string) (Campaign, error) {
	return s.campaignSummary(ctx, accountID, id, false)
}

func (s *Store) campaign(ctx context.Context, accountID, id string, includeHidden bool) (Campaign, error) {
	var c Campaign
	err := s.Pool.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaigns c
		WHERE c.account_id = $1 AND c.id = $2 AND (NOT c.hidden OR $3)`,
		accountID, id, includeHidden).Scan(campaignScan(&c)...)
	if err != nil {
		return Campaign{}, notFound("storage: campaign", err)
	}
	content, err := readContent(ctx, s.Pool, c.ID)
	if err != nil {
		return Campaign{}, fmt.Errorf("storage: campaign content: %w", err)
	}
	c.Content = &content
	return c, nil
}

// Campaigns lists the visible campaigns of account accountID that are not archived, newest first, after
// the cursor when given.
func (s *Store) Campaigns(ctx context.Context, accountID string, after *Cursor, limit int) ([]Campaign, error) {
	args := []any{accountID, limit}
	where := ""
	if after != nil {
		where = ` AND (c.created_at, c.id) < ($3, $4)`
		args = append(args, after.CreatedAt, after.ID)
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+campaignColumns+` FROM campaigns c
		WHERE c.account_id = $1 AND NOT c.hidden AND c.archived_at IS NULL`+where+`
		ORDER BY c.created_at DESC, c.id DESC LIMIT $2`, args...)
	if err != nil {
		return nil, fmt.Errorf("storage: campaigns: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Campaign, error) {
		var c Campaign
		return c, r.Scan(campaignScan(&c)...)
	})
	if err != nil {
		return nil, fmt.Errorf("storage: campaigns: %w", err)
	}
	return out, nil
}

// ErrApprovalPending is returned for any edit of a campaign whose approval request is pending (R-CAMP-2).
var ErrApprovalPending = errors.New("campaign has a pending approval request")

// ErrCampaignLive is returned for an edit of a live campaign (journeys get a new version instead).
var ErrCampaignLive = errors.New("campaign is live")

// ErrCampaignArchived is returned for any edit, submission or launch of an archived campaign.
var ErrCampaignArchived = errors.New("campaign is archived")

// ErrCampaignLaunched is returned when deleting a scheduled or live campaign.
var ErrCampaignLaunched = errors.New("campaign is scheduled or live")

// archivedConstraint names the database's refusal of a request for an archived campaign (migration 00008).
const archivedConstraint = "campaigns_not_archived"

// IsCampaignArchived reports whether err refuses a write because the campaign is archived, whether the
// store found it (ErrCampaignArchived) or the database's trigger did.
func IsCampaignArchived(err error) bool {
	return errors.Is(err, ErrCampaignArchived) || constraintName(err) == archivedConstraint
}

// EditOutcome says what an edit did to the campaign's approval.
type EditOutcome struct {
	// DroppedApproval is true when the edit voided an approval not yet launched (R-CAMP-3).
	DroppedApproval bool
	// NewVersion is true when the edit of a live journey created a new version (R-CAMP-4).
	NewVersion bool
}

// EditEffect is what an edit does to a campaign's status and approval, before the edit's own fields
// apply.
type EditEffect struct {
	Status         string
	ApprovalStatus string
	// ClearLive is true when a journey's new version takes the live one off the air (policy passive).
	ClearLive bool
	EditOutcome
}

// EditEffectOn is the effect of editing a campaign of kind in status with approval approvalStatus, in
// an account whose journey_version_policy is policy; changesFrozen says whether the edit changes a
// frozen field (FrozenFields). It refuses a campaign waiting for approval (ErrApprovalPending) and a
// live campaign that is not a journey (ErrCampaignLive), whatever the edit changes. An edit that changes
// a frozen field drops an approval not yet launched, making a scheduled campaign ready again (R-CAMP-3),
// and makes the edit of a live journey a new version (R-CAMP-4); one that changes none keeps both
// (R-VER-5). UpdateCampaign applies it under the campaign's row lock; the use cases use it to foresee an
// edit's outcome.
func EditEffectOn(status, kind, approvalStatus, policy string, changesFrozen bool) (EditEffect, error) {
	e := EditEffect{Status: status, ApprovalStatus: approvalStatus}
	switch {
	case approvalStatus == RequestStatusPending:
		return e, ErrApprovalPending
	case status == CampaignStatusLive && kind != CampaignKindJourney:
		return e, ErrCampaignLive
	case !changesFrozen:
	case status == CampaignStatusLive:
		e.ApprovalStatus, e.NewVersion = "none", true
		if policy == "passive" {
			e.Status, e.ClearLive = CampaignStatusReady, true
		}
	case approvalStatus == RequestStatusApproved:
		e.ApprovalStatus, e.DroppedApproval = "none", true
		if status == CampaignStatusScheduled {
			e.Status = CampaignStatusReady
		}
	}
	return e, nil
}

// Apply is cur as it is after p: every field p sets is set, the others are kept.
func (p CampaignPatch) Apply(cur Campaign) Campaign {
	if p.Name != nil {
		cur.Name = *p.Name
	}
	if p.Kind != nil {
		cur.Kind = *p.Kind
	}
	if p.Mode != nil {
		cur.Mode = *p.Mode
	}
	if p.SetStartAt {
		cur.StartAt = p.StartAt
	}
	if p.SetEndAt {
		cur.EndAt = p.EndAt
	}
	if p.Status != nil {
		cur.Status = *p.Status
	}
	if p.Content != nil {
		cur.Content = p.Content
	}
	if p.SetApprovalPolicy {
		cur.ApprovalPolicy = p.ApprovalPolicy
	}
	return cur
}

// ChangesFrozen reports whether applying p to cur (whose Content is loaded) changes a frozen field.
// UpdateCampaign decides on what it stored instead; this foresees it for the use cases.
func ChangesFrozen(cur Campaign, p CampaignPatch) bool {
	return FrozenOf(p.Apply(cur)).Hash() != FrozenOf(cur).Hash()
}

// UpdateCampaign applies p to visible campaign id of account accountID and returns it with its content.
// It refuses edits while a request is pending, and when the edit changes a frozen field (compared as
// stored, before and after) drops an approval not yet launched and turns the edit of a live journey
// into a new version that follows the account's journey_version_policy (EditEffectOn).
func (s *Store) UpdateCampaign(ctx context.Context, accountID, id string, p CampaignPatch) (Campaign, EditOutcome, error) {
	var c Campaign
	var out EditOutcome
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var kind, status, approval, policy string
		var archived bool
		err := tx.QueryRow(ctx, `SELECT c.kind, c.status, c.approval_status, a.journey_version_policy, c.archived_at IS NOT NULL
			FROM campaigns c JOIN accounts a ON a.id = c.account_id
			WHERE c.account_id = $1 AND c.id = $2 AND NOT c.hidden FOR UPDATE OF c`, accountID, id).
			Scan(&kind, &status, &approval, &policy, &archived)
		if err != nil {
			return err
		}
		if archived {
			return ErrCampaignArchived
		}
		if _, err := EditEffectOn(status, kind, approval, policy, true); err != nil {
			return err
		}
		before, err := workingCopy(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE campaigns SET
			  name = COALESCE($2, name), kind = COALESCE($3, kind), mode = COALESCE($4, mode),
			  start_at = CASE WHEN $5 THEN $6 ELSE start_at END,
			  end_at = CASE WHEN $7 THEN $8 ELSE end_at END,
			  approval_policy = CASE WHEN $9 THEN $10 ELSE approval_policy END
			WHERE id = $1`, id, p.Name, p.Kind, p.Mode, p.SetStartAt, p.StartAt, p.SetEndAt, p.EndAt,
			p.SetApprovalPolicy, p.ApprovalPolicy); err != nil {
			return err
		}
		if p.Content != nil {
			for _, q := range []string{
				`DELETE FROM campaign_segments WHERE campaign_id = $1`,
				`DELETE FROM campaign_prompts WHERE campaign_id = $1`,
				`DELETE FROM campaign_ai_model_configs WHERE campaign_id = $1`,
				`DELETE FROM campaign_sequences WHERE campaign_id = $1`,
				`DELETE FROM campaign_tracking_links WHERE campaign_id = $1`,
			} {
				if _, err := tx.Exec(ctx, q, id); err != nil {
					return err
				}
			}
			if err := writeContent(ctx, tx, id, *p.Content); err != nil {
				return err
			}
		}
		after, err := workingCopy(ctx, tx, id)
		if err != nil {
			return err
		}
		eff, err := EditEffectOn(status, kind, approval, policy, before.Hash() != after.Hash())
		if err != nil {
			return err
		}
		out = eff.EditOutcome
		newStatus := eff.Status
		if p.Status != nil {
			newStatus = *p.Status
		}
		// A live journey's edit is the next version: one past the latest frozen one, once however often
		// it is edited before it is frozen (R-CAMP-4).
		err = tx.QueryRow(ctx, `
			UPDATE campaigns AS c SET
			  status = $3, approval_status = $4,
			  version = CASE WHEN $5 THEN GREATEST(version,
			    COALESCE((SELECT max(v.version) FROM campaign_versions v WHERE v.campaign_id = c.id), version) + 1) ELSE version END,
			  live_version = CASE WHEN $6 THEN NULL ELSE live_version END,
			  approved_version = CASE WHEN $4 = 'approved' THEN approved_version END,
			  updated_at = now()
			WHERE c.id = $1 AND c.account_id = $2
			RETURNING `+campaignColumns, id, accountID, newStatus, eff.ApprovalStatus, eff.NewVersion, eff.ClearLive).
			Scan(campaignScan(&c)...)
		if err != nil {
			return err
		}
		c.Content = &after.Content
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrApprovalPending) || errors.Is(err, ErrCampaignLive) || errors.Is(err, ErrCampaignArchived) {
			return Campaign{}, EditOutcome{}, fmt.Errorf("storage: update campaign: %w", err)
		}
		return Campaign{}, EditOutcome{}, notFound("storage: update campaign", err)
	}
	return c, out, nil
}

// workingCopy reads the frozen fields of campaign id's working copy.
func workingCopy(ctx context.Context, q queryer, id string) (FrozenFields, error) {
	var f FrozenFields
	if err := q.QueryRow(ctx, `SELECT name, kind, mode, start_at, end_at FROM campaigns WHERE id = $1`, id).
		Scan(&f.Name, &f.Kind, &f.Mode, &f.StartAt, &f.EndAt); err != nil {
		return f, err
	}
	var err error
	f.Content, err = readContent(ctx, q, id)
	return f, err
}

// ErrHasDrafts is returned when deleting a campaign whose approval drafts are a permanent record (R-DRAFT-13).
var ErrHasDrafts = errors.New("campaign has approval drafts")

// DeleteCampaign deletes visible campaign id of account accountID and its content, in one transaction
// with the campaign row locked. A campaign that ever had an approval request or a launch is archived
// instead (archived_at set, every row kept), since its history is append-only (R-APPR-10); deleting an
// archived campaign again changes nothing. It refuses a campaign waiting for approval
// (ErrApprovalPending), a scheduled or live one (ErrCampaignLaunched), and one with approval drafts
// (ErrHasDrafts), which are a permanent record.
func (s *Store) DeleteCampaign(ctx context.Context, accountID, id string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var status, approval string
		var archived bool
		if err := tx.QueryRow(ctx, `SELECT status, approval_status, archived_at IS NOT NULL FROM campaigns
			WHERE account_id = $1 AND id = $2 AND NOT hidden FOR UPDATE`, accountID, id).Scan(&status, &approval, &archived); err != nil {
			return err
		}
		switch {
		case archived:
			return nil
		case approval == RequestStatusPending:
			return ErrApprovalPending
		case status == CampaignStatusScheduled || status == CampaignStatusLive:
			return ErrCampaignLaunched
		}
		// Separate statements, run after the lock: each sees what committed before it was taken.
		var drafts bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM approval_drafts WHERE campaign_id = $1)`, id).Scan(&drafts); err != nil {
			return err
		}
		if drafts {
			return ErrHasDrafts
		}
		var history bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM approval_requests WHERE campaign_id = $1)
			OR EXISTS (SELECT 1 FROM campaign_launches WHERE campaign_id = $1)`, id).Scan(&history); err != nil {
			return err
		}
		if history {
			_, err := tx.Exec(ctx, `UPDATE campaigns SET archived_at = now(), updated_at = now() WHERE id = $1`, id)
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM campaigns WHERE id = $1`, id)
		return err
	})
	for _, known := range []error{ErrApprovalPending, ErrCampaignLaunched, ErrHasDrafts} {
		if errors.Is(err, known) {
			return fmt.Errorf("storage: delete campaign: %w", err)
		}
	}
	if err != nil {
		return notFound("storage: delete campaign", err)
	}
	return nil
}

func writeContent(ctx context.Context, tx pgx.Tx, campaignID string, c CampaignContent) error {
	b := &pgx.Batch{}
	for i, s := range c.Segments {
		b.Queue(`INSERT INTO campaign_segments (campaign_id, position, name, filters) VALUES ($1, $2, $3, $4)`,
			campaignID, i, s.Name, s.Filters)
	}
	for i, p := range c.Prompts {
		b.Queue(`INSERT INTO campaign_prompts (campaign_id, position, name, text) VALUES ($1, $2, $3, $4)`,
			campaignID, i, p.Name, p.Text)
	}
	for _, m := range c.AIModelConfigs {
		b.Queue(`INSERT INTO campaign_ai_model_configs (campaign_id, step, provider, model, temperature) VALUES ($1, $2, $3, $4, $5)`,
			campaignID, m.Step, m.Provider, m.Model, m.Temperature)
	}
	for i, l := range c.TrackingLinks {
		b.Queue(`INSERT INTO campaign_tracking_links (campaign_id, position, url, label) VALUES ($1, $2, $3, $4)`,
			campaignID, i, l.URL, l.Label)
	}
	for i, seq := range c.Sequences {
		b.Queue(`WITH s AS (INSERT INTO campaign_sequences (campaign_id, position, name) VALUES ($1, $2, $3) RETURNING id)
			INSERT INTO campaign_sequence_steps (sequence_id, position, subject, body, delay_days)
			SELECT s.id, st.ord - 1, st.subject, st.body, st.delay_days
			FROM s, unnest($4::text[], $5::text[], $6::int[]) WITH ORDINALITY AS st(subject, body, delay_days, ord)`,
			campaignID, i, seq.Name, stepSubjects(seq.Steps), stepBodies(seq.Steps), stepDelays(seq.Steps))
	}
	if b.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, b).Close()
}

func stepSubjects(st []SequenceStep) []string {
	out := make([]string, len(st))
	for i, s := range st {
		out[i] = s.Subject
	}
	return out
}

func stepBodies(st []SequenceStep) []string {
	out := make([]string, len(st))
	for i, s := range st {
		out[i] = s.Body
	}
	return out
}

func stepDelays(st []SequenceStep) []int32 {
	out := make([]int32, len(st))
	for i, s := range st {
		out[i] = int32(s.DelayDays)
	}
	return out
}

func readContent(ctx context.Context, q queryer, campaignID string) (CampaignContent, error) {
	return scanContent(func(i int) (pgx.Rows, error) { return q.Query(ctx, contentQueries[i], campaignID) })
}

// contentQueries read a campaign's content (parameter $1 the campaign id), in the order scanContent
// reads their answers.
var contentQueries = []string{
	`SELECT name, filters FROM campaign_segments WHERE campaign_id = $1 ORDER BY position`,
	`SELECT name, text FROM campaign_prompts WHERE campaign_id = $1 ORDER BY position`,
	`SELECT step, provider, model, temperature FROM campaign_ai_model_configs WHERE campaign_id = $1
		ORDER BY array_position(ARRAY['qualify','segment','personalise','rewrite'], step)`,
	`SELECT url, label FROM campaign_tracking_links WHERE campaign_id = $1 ORDER BY position`,
	`SELECT s.id, s.name, st.subject, st.body, st.delay_days
		FROM campaign_sequences s LEFT JOIN campaign_sequence_steps st ON st.sequence_id = s.id
		WHERE s.campaign_id = $1 ORDER BY s.position, st.position`,
}

// scanContent builds a campaign's content from the answers of contentQueries, which query(i) runs
// (one at a time, or as the results of a batch that queued them in order).
func scanContent(query func(i int) (pgx.Rows, error)) (CampaignContent, error) {
	c := CampaignContent{Segments: []Segment{}, Prompts: []Prompt{}, AIModelConfigs: []AIModelConfig{},
		Sequences: []Sequence{}, TrackingLinks: []TrackingLink{}}
	rows, err := query(0)
	if err != nil {
		return c, err
	}
	if c.Segments, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Segment, error) {
		var s Segment
		return s, r.Scan(&s.Name, &s.Filters)
	}); err != nil {
		return c, err
	}
	if rows, err = query(1); err != nil {
		return c, err
	}
	if c.Prompts, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Prompt]); err != nil {
		return c, err
	}
	if rows, err = query(2); err != nil {
		return c, err
	}
	if c.AIModelConfigs, err = pgx.CollectRows(rows, pgx.RowToStructByPos[AIModelConfig]); err != nil {
		return c, err
	}
	if rows, err = query(3); err != nil {
		return c, err
	}
	if c.TrackingLinks, err = pgx.CollectRows(rows, pgx.RowToStructByPos[TrackingLink]); err != nil {
		return c, err
	}
	if rows, err = query(4); err != nil {
		return c, err
	}
	defer rows.Close()
	lastID := ""
	for rows.Next() {
		var seqID, name string
		var subject, body *string
		var delay *int
		if err := rows.Scan(&seqID, &name, &subject, &body, &delay); err != nil {
			return c, err
		}
		if seqID != lastID {
			c.Sequences = append(c.Sequences, Sequence{Name: name, Steps: []SequenceStep{}})
			lastID = seqID
		}
		if subject != nil {
			seq := &c.Sequences[len(c.Sequences)-1]
			seq.Steps = append(seq.Steps, SequenceStep{Subject: *subject, Body: *body, DelayDays: *delay})
		}
	}
	return c, rows.Err()
}
