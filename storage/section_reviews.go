package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The sections an approver may answer one by one (R-POL-4), in the order they are shown and named.
const (
	SectionAudience = "audience"
	SectionCopy     = "copy"
	SectionSchedule = "schedule"
)

// Sections lists the sections of a per-section review in their order.
var Sections = []string{SectionAudience, SectionCopy, SectionSchedule}

// The verdicts of a section.
const (
	VerdictApproved      = "approved"
	VerdictChangeRequest = "change_request"
)

// SectionReview is one approver's verdict on one section of a request (R-POL-4).
type SectionReview struct {
	UserID  string
	Section string
	Verdict string
	Note    string
	At      time.Time
	// CallID is the review call that wrote the verdict.
	CallID string
}

// SectionVerdict is a verdict to record: section, verdict and note.
type SectionVerdict struct {
	Section string
	Verdict string
	Note    string
}

// SectionRecord is what RecordSectionReviews did: the approver's verdicts on the request after the
// call (Mine, in section order), and those the call replaced (Previous), for UndoSectionReviews.
type SectionRecord struct {
	Mine     []SectionReview
	Previous []SectionReview
}

// sectionOrderSQL orders rows of approval_section_reviews aliased s by their section's place in Sections.
const sectionOrderSQL = `array_position(ARRAY['audience', 'copy', 'schedule'], s.section)`

const sectionColumns = `s.user_id, s.section, s.verdict, s.note, s.at, s.call_id`

// lockAssignment locks userID's assignment on request requestID of account accountID, the lock under
// which that approver's verdicts change, and checks, as a decision's validator does, that the request
// is pending (ErrAlreadyHandled) and then that the approver is assigned to it (ErrNotApprover).
func lockAssignment(ctx context.Context, tx pgx.Tx, accountID, requestID, userID string) error {
	var state *string
	err := tx.QueryRow(ctx, `SELECT a.state FROM approval_request_approvers a JOIN approval_requests r ON r.id = a.request_id
		WHERE r.account_id = $1 AND a.request_id = $2 AND a.user_id = $3 FOR UPDATE OF a`,
		accountID, requestID, userID).Scan(&state)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	var status string
	if err := tx.QueryRow(ctx, `SELECT status FROM approval_requests WHERE account_id = $1 AND id = $2`,
		accountID, requestID).Scan(&status); err != nil {
		return notFound("storage: request", err)
	}
	switch {
	case status != RequestStatusPending:
		return ErrAlreadyHandled
	case state == nil || *state != ApproverStateAssigned:
		return ErrNotApprover
	}
	return nil
}

// RecordSectionReviews stores approver userID's verdicts on pending request requestID, written by
// the review call callID: a section answered before is replaced (the last answer wins). It runs
// under the lock of the approver's assignment, so two calls of one approver follow each other and
// the second sees the first's verdicts. A request that is not pending is ErrAlreadyHandled, an
// approver not assigned to it ErrNotApprover.
func (s *Store) RecordSectionReviews(ctx context.Context, accountID, requestID, userID, callID string, verdicts []SectionVerdict) (SectionRecord, error) {
	var out SectionRecord
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockAssignment(ctx, tx, accountID, requestID, userID); err != nil {
			return err
		}
		sections := make([]string, len(verdicts))
		for i, v := range verdicts {
			sections[i] = v.Section
		}
		var err error
		out.Previous, err = querySectionReviews(ctx, tx, `SELECT `+sectionColumns+` FROM approval_section_reviews s
			WHERE s.request_id = $1 AND s.user_id = $2 AND s.section = ANY ($3) ORDER BY `+sectionOrderSQL,
			requestID, userID, sections)
		if err != nil {
			return err
		}
		for _, v := range verdicts {
			if _, err := tx.Exec(ctx, `INSERT INTO approval_section_reviews (request_id, user_id, section, verdict, note, call_id)
				VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (request_id, user_id, section) DO UPDATE
				SET verdict = EXCLUDED.verdict, note = EXCLUDED.note, call_id = EXCLUDED.call_id, at = EXCLUDED.at`,
				requestID, userID, v.Section, v.Verdict, v.Note, callID); err != nil {
				return err
			}
		}
		out.Mine, err = querySectionReviews(ctx, tx, `SELECT `+sectionColumns+` FROM approval_section_reviews s
			WHERE s.request_id = $1 AND s.user_id = $2 ORDER BY `+sectionOrderSQL, requestID, userID)
		return err
	})
	if err != nil {
		return SectionRecord{}, fmt.Errorf("storage: record section reviews: %w", err)
	}
	return out, nil
}

// UndoSectionReviews takes back what review call callID of approver userID wrote on request
// requestID, whose decision was refused: its rows that no later call replaced are deleted, and the
// verdicts they replaced (previous, from RecordSectionReviews) are put back where no later call
// answered the section since.
func (s *Store) UndoSectionReviews(ctx context.Context, requestID, userID, callID string, previous []SectionReview) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM approval_request_approvers WHERE request_id = $1 AND user_id = $2 FOR UPDATE`,
			requestID, userID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM approval_section_reviews WHERE request_id = $1 AND user_id = $2 AND call_id = $3`,
			requestID, userID, callID)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		for _, p := range previous {
			if _, err := tx.Exec(ctx, `INSERT INTO approval_section_reviews (request_id, user_id, section, verdict, note, call_id, at)
				VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (request_id, user_id, section) DO NOTHING`,
				requestID, userID, p.Section, p.Verdict, p.Note, p.CallID, p.At); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: undo section reviews: %w", err)
	}
	return nil
}

// SectionReviews lists every approver's verdicts on request requestID of account accountID, oldest
// first (then by approver and section order); an empty list, never nil, when there are none.
func (s *Store) SectionReviews(ctx context.Context, accountID, requestID string) ([]SectionReview, error) {
	out, err := querySectionReviews(ctx, s.Pool, `SELECT `+sectionColumns+` FROM approval_section_reviews s
		JOIN approval_requests r ON r.id = s.request_id
		WHERE r.account_id = $1 AND s.request_id = $2 ORDER BY s.at, s.user_id, `+sectionOrderSQL, accountID, requestID)
	if err != nil {
		return nil, fmt.Errorf("storage: section reviews: %w", err)
	}
	return out, nil
}

func querySectionReviews(ctx context.Context, q queryer, sql string, args ...any) ([]SectionReview, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[SectionReview])
	if out == nil {
		out = []SectionReview{}
	}
	return out, err
}
