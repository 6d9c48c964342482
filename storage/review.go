package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrReviewClosed is returned for a write after the client submitted (R-REVIEW-6).
var ErrReviewClosed = errors.New("review already submitted")

// Feedback kinds of R-DRAFT-12.
const (
	FeedbackApproved      = "approved"
	FeedbackChangeRequest = "change_request"
	FeedbackNote          = "note"
	FeedbackLineComment   = "line_comment"
)

// FeedbackItem is one piece of the client's feedback as the CSM sees it (R-DRAFT-12).
type FeedbackItem struct {
	ID        *string   `json:"id,omitempty"`
	Kind      string    `json:"kind"`
	Target    string    `json:"target"`
	Quote     string    `json:"quote"`
	Comment   string    `json:"comment"`
	Author    string    `json:"author"`
	CreatedAt time.Time `json:"created_at"`
}

// ReviewComment is a note or line comment to store.
type ReviewComment struct {
	Target  string
	Kind    string
	Quote   string
	Comment string
	Author  string
}

// DraftByTokenHash returns the reviewable draft whose share token has hash. A draft that is still
// building, failed, or whose token was rotated is ErrNotFound (R-REVIEW-2).
func (s *Store) DraftByTokenHash(ctx context.Context, hash []byte) (ApprovalDraft, error) {
	d, err := scanDraft(s.Pool.QueryRow(ctx, `SELECT `+draftColumns+` FROM approval_drafts d
		WHERE d.token_hash = $1 AND d.status IN ('ready', 'approved', 'not_approved')`, hash))
	if err != nil {
		return ApprovalDraft{}, notFound("storage: draft by token", err)
	}
	return d, nil
}

// lockOpenReview holds a shared lock on a draft that still takes feedback: writers do not wait for
// each other, and a submit (which takes the row exclusively) waits for them, so every write is
// either in the submitted review or refused.
func lockOpenReview(ctx context.Context, tx pgx.Tx, draftID string) error {
	var status string
	var submitted *time.Time
	if err := tx.QueryRow(ctx, `SELECT status, submitted_at FROM approval_drafts WHERE id = $1 FOR SHARE`, draftID).
		Scan(&status, &submitted); err != nil {
		return err
	}
	if submitted != nil || status != DraftReady {
		return ErrReviewClosed
	}
	return nil
}

func reviewErr(prefix string, err error) error {
	if errors.Is(err, ErrReviewClosed) {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	return notFound(prefix, err)
}

// PutReviewItem records the verdict and comment on one item; a nil verdict with no comment clears it.
func (s *Store) PutReviewItem(ctx context.Context, draftID, target string, verdict *string, comment, author string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockOpenReview(ctx, tx, draftID); err != nil {
			return err
		}
		if verdict == nil && comment == "" {
			_, err := tx.Exec(ctx, `DELETE FROM review_items WHERE draft_id = $1 AND target = $2`, draftID, target)
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO review_items (draft_id, target, verdict, comment, author) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (draft_id, target) DO UPDATE SET verdict = $3, comment = $4, author = $5, updated_at = now()`,
			draftID, target, verdict, comment, author)
		return err
	})
	if err != nil {
		return reviewErr("storage: put review item", err)
	}
	return nil
}

// AddReviewComment stores a note or line comment and returns it.
func (s *Store) AddReviewComment(ctx context.Context, draftID string, c ReviewComment) (FeedbackItem, error) {
	var it FeedbackItem
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockOpenReview(ctx, tx, draftID); err != nil {
			return err
		}
		var id string
		if err := tx.QueryRow(ctx, `INSERT INTO review_comments (draft_id, target, kind, quote, comment, author)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, created_at`, draftID, c.Target, c.Kind, c.Quote, c.Comment, c.Author).
			Scan(&id, &it.CreatedAt); err != nil {
			return err
		}
		it.ID, it.Kind, it.Target, it.Quote, it.Comment, it.Author = &id, c.Kind, c.Target, c.Quote, c.Comment, c.Author
		return nil
	})
	if err != nil {
		return FeedbackItem{}, reviewErr("storage: add review comment", err)
	}
	return it, nil
}

// DeleteReviewComment removes a comment of the draft; another draft's comment id is ErrNotFound.
func (s *Store) DeleteReviewComment(ctx context.Context, draftID, id string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockOpenReview(ctx, tx, draftID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM review_comments WHERE draft_id = $1 AND id = $2`, draftID, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		return nil
	})
	if err != nil {
		return reviewErr("storage: delete review comment", err)
	}
	return nil
}

// DraftFeedback lists the draft's saved feedback in the order it was given.
func (s *Store) DraftFeedback(ctx context.Context, draftID string) ([]FeedbackItem, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT NULL::uuid, COALESCE(verdict, 'note'), target, '', comment, author, created_at FROM review_items WHERE draft_id = $1
		UNION ALL
		SELECT id, kind, target, quote, comment, author, created_at FROM review_comments WHERE draft_id = $1
		ORDER BY 7, 3`, draftID)
	if err != nil {
		return nil, fmt.Errorf("storage: draft feedback: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (FeedbackItem, error) {
		var it FeedbackItem
		return it, r.Scan(&it.ID, &it.Kind, &it.Target, &it.Quote, &it.Comment, &it.Author, &it.CreatedAt)
	})
	if err != nil {
		return nil, fmt.Errorf("storage: draft feedback: %w", err)
	}
	return out, nil
}

// SubmitReview closes the review: the draft becomes approved when the client left no change request
// and no comment, not_approved otherwise (R-REVIEW-6), and the CSM who asked for it is notified in the
// app and by email. A repeated call answers the first outcome.
func (s *Store) SubmitReview(ctx context.Context, draftID, reviewer string) (ApprovalDraft, error) {
	var out ApprovalDraft
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		d, err := scanDraft(tx.QueryRow(ctx, `SELECT `+draftColumns+` FROM approval_drafts d WHERE d.id = $1 FOR UPDATE`, draftID))
		if err != nil {
			return err
		}
		if d.SubmittedAt != nil {
			out = d
			return nil
		}
		if d.Status != DraftReady {
			return ErrReviewClosed
		}
		var objections int
		if err := tx.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM review_items WHERE draft_id = $1 AND (verdict = 'change_request' OR comment <> '')) +
			(SELECT count(*) FROM review_comments WHERE draft_id = $1)`, draftID).Scan(&objections); err != nil {
			return err
		}
		status := DraftApproved
		if objections > 0 {
			status = DraftNotApproved
		}
		if out, err = scanDraft(tx.QueryRow(ctx, `UPDATE approval_drafts AS d SET status = $2, submitted_at = now(), updated_at = now()
			WHERE d.id = $1 RETURNING `+draftColumns, draftID, status)); err != nil {
			return err
		}
		var campaign string
		if err := tx.QueryRow(ctx, `SELECT name FROM campaigns WHERE id = $1`, d.CampaignID).Scan(&campaign); err != nil {
			return err
		}
		who := "The client"
		if reviewer != "" {
			who = reviewer
		}
		title := fmt.Sprintf("%s approved by the client: %s", out.Name, campaign)
		body := fmt.Sprintf("%s approved %s of %q without changes.", who, out.Name, campaign)
		if status == DraftNotApproved {
			title = fmt.Sprintf("%s not approved: %s", out.Name, campaign)
			body = fmt.Sprintf("%s submitted %d change request(s) or comment(s) on %s of %q. Open the draft to read them.", who, objections, out.Name, campaign)
		}
		return notify(ctx, tx, notice{AccountID: d.AccountID, UserID: d.CreatedBy, Kind: "draft_" + status, Title: title, Body: body,
			CampaignID: d.CampaignID, DraftID: d.ID, DedupeKey: "draft:" + d.ID + ":submitted"})
	})
	if err != nil {
		return ApprovalDraft{}, reviewErr("storage: submit review", err)
	}
	return out, nil
}
