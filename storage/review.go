package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrReviewClosed is returned for a write after the client submitted (R-REVIEW-6).
var ErrReviewClosed = errors.New("review already submitted")

// ErrTooManyComments is returned for a comment on a draft that already holds Store.MaxComments.
var ErrTooManyComments = errors.New("too many comments on this draft")

// MaxCommentsPerDraft bounds the notes and line comments one draft holds at a time (Store.MaxComments),
// so a share link cannot grow a draft's feedback without end; deleting a comment makes room for another.
const MaxCommentsPerDraft = 500

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

// openReview is the statement prefix that holds a shared lock on the draft whose id is $1 and share
// token hash is $2 while it still takes feedback: writers do not wait for each other, and a submit
// (which takes the row exclusively) waits for them, so every write is either in the submitted review
// or refused. Each write is this one statement: one round trip, no explicit transaction.
const openReview = `WITH d AS (SELECT id FROM approval_drafts
	WHERE id = $1 AND token_hash = $2 AND status = 'ready' AND submitted_at IS NULL FOR SHARE) `

// refusal explains why a review write matched no open draft: ErrNotFound when the token no longer
// opens the draft (rotated, or never did), ErrReviewClosed when it was submitted; nil when the draft
// is open, so the write itself matched nothing.
func (s *Store) refusal(ctx context.Context, draftID string, tokenHash []byte) error {
	var status string
	var submitted *time.Time
	err := s.Pool.QueryRow(ctx, `SELECT status, submitted_at FROM approval_drafts WHERE id = $1 AND token_hash = $2`,
		draftID, tokenHash).Scan(&status, &submitted)
	switch {
	case err != nil:
		return err
	case submitted != nil || status != DraftStatusReady:
		return ErrReviewClosed
	}
	return nil
}

func reviewErr(prefix string, err error) error {
	if errors.Is(err, ErrReviewClosed) || errors.Is(err, ErrTooManyComments) {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	return notFound(prefix, err)
}

// PutReviewItem records the verdict and comment on one item of the draft opened by the share token
// whose hash is tokenHash; a nil verdict with no comment clears it.
func (s *Store) PutReviewItem(ctx context.Context, draftID string, tokenHash []byte, target string, verdict *string, comment, author string) error {
	var n int64
	var err error
	if verdict == nil && comment == "" {
		// Clearing an item that has nothing is fine: count the open draft, not the deleted rows.
		err = s.Pool.QueryRow(ctx, openReview+`, del AS (DELETE FROM review_items r USING d WHERE r.draft_id = d.id AND r.target = $3)
			SELECT count(*) FROM d`, draftID, tokenHash, target).Scan(&n)
	} else {
		var tag pgconn.CommandTag
		tag, err = s.Pool.Exec(ctx, openReview+`INSERT INTO review_items (draft_id, target, verdict, comment, author)
			SELECT d.id, $3, $4, $5, $6 FROM d
			ON CONFLICT (draft_id, target) DO UPDATE SET verdict = $4, comment = $5, author = $6, updated_at = now()`,
			draftID, tokenHash, target, verdict, comment, author)
		n = tag.RowsAffected()
	}
	if err == nil && n == 0 {
		if err = s.refusal(ctx, draftID, tokenHash); err == nil {
			err = errors.New("draft open but nothing written")
		}
	}
	if err != nil {
		return reviewErr("storage: put review item", err)
	}
	return nil
}

// AddReviewComment stores a note or line comment on the draft opened by the share token whose hash is
// tokenHash, and returns it once committed; ErrTooManyComments when the draft already holds
// MaxComments. Concurrent comments share a transaction (review_batch.go).
func (s *Store) AddReviewComment(ctx context.Context, draftID string, tokenHash []byte, c ReviewComment) (FeedbackItem, error) {
	p := &pendingComment{draftID: draftID, tokenHash: tokenHash, c: c, done: make(chan struct{})}
	s.comments.add(s, p)
	select {
	case <-p.done:
	case <-ctx.Done():
		return FeedbackItem{}, fmt.Errorf("storage: add review comment: %w", ctx.Err())
	}
	err := p.err
	if err == nil && p.full {
		err = ErrTooManyComments
	}
	if err == nil && !p.written {
		if err = s.refusal(ctx, draftID, tokenHash); err == nil {
			// Opened or reopened since the batch looked: not possible for a frozen review, so say so.
			err = errors.New("draft open but nothing written")
		}
	}
	if err != nil {
		return FeedbackItem{}, reviewErr("storage: add review comment", err)
	}
	return FeedbackItem{ID: &p.id, Kind: c.Kind, Target: c.Target, Quote: c.Quote, Comment: c.Comment, Author: c.Author,
		CreatedAt: p.createdAt}, nil
}

// DeleteReviewComment removes a comment of the draft opened by the share token whose hash is
// tokenHash; another draft's comment id is ErrNotFound.
func (s *Store) DeleteReviewComment(ctx context.Context, draftID string, tokenHash []byte, id string) error {
	tag, err := s.Pool.Exec(ctx, openReview+`DELETE FROM review_comments r USING d WHERE r.draft_id = d.id AND r.id = $3`,
		draftID, tokenHash, id)
	if err == nil && tag.RowsAffected() == 0 {
		if err = s.refusal(ctx, draftID, tokenHash); err == nil {
			err = pgx.ErrNoRows // the draft is open: the comment is not one of its own
		}
	}
	if err != nil {
		return reviewErr("storage: delete review comment", err)
	}
	return nil
}

// FeedbackKey is where a feedback item sits in the order feedback is listed: by time given, then
// target, then comment id (empty for a verdict on an item, which has none). DraftFeedbackPage
// continues after a key.
type FeedbackKey struct {
	CreatedAt time.Time
	Target    string
	ID        string
}

// Key returns the item's place in the feedback order.
func (it FeedbackItem) Key() FeedbackKey {
	k := FeedbackKey{CreatedAt: it.CreatedAt, Target: it.Target}
	if it.ID != nil {
		k.ID = *it.ID
	}
	return k
}

// noCommentID sorts a verdict, which has no id, before any comment of the same time and target.
const noCommentID = "00000000-0000-0000-0000-000000000000"

// DraftFeedback lists the draft's saved feedback in the order it was given. A draft holds at most
// MaxComments comments and one verdict per snapshot target, so the list is bounded.
func (s *Store) DraftFeedback(ctx context.Context, draftID string) ([]FeedbackItem, error) {
	out, _, err := s.DraftFeedbackPage(ctx, draftID, nil, 0)
	return out, err
}

// DraftFeedbackPage lists up to limit items of the draft's feedback that come after the key after
// (from the start when nil), in the order it was given, and whether more follow. A limit of 0 lists
// them all.
func (s *Store) DraftFeedbackPage(ctx context.Context, draftID string, after *FeedbackKey, limit int) ([]FeedbackItem, bool, error) {
	var at *time.Time
	target, id := "", noCommentID
	if after != nil {
		at, target = &after.CreatedAt, after.Target
		if after.ID != "" {
			id = after.ID
		}
	}
	var lim *int // NULL: no limit
	if limit > 0 {
		n := limit + 1 // one more says whether another page follows
		lim = &n
	}
	rows, err := s.Pool.Query(ctx, `
		SELECT id, kind, target, quote, comment, author, created_at FROM (
			SELECT NULL::uuid AS id, COALESCE(verdict, 'note') AS kind, target, '' AS quote, comment, author, created_at,
				$5::uuid AS k FROM review_items WHERE draft_id = $1
			UNION ALL
			SELECT id, kind, target, quote, comment, author, created_at, id FROM review_comments WHERE draft_id = $1) f
		WHERE $2::timestamptz IS NULL OR (created_at, target, k) > ($2, $3, $4::uuid)
		ORDER BY created_at, target, k
		LIMIT $6`, draftID, at, target, id, noCommentID, lim)
	if err != nil {
		return nil, false, fmt.Errorf("storage: draft feedback: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (FeedbackItem, error) {
		var it FeedbackItem
		return it, r.Scan(&it.ID, &it.Kind, &it.Target, &it.Quote, &it.Comment, &it.Author, &it.CreatedAt)
	})
	if err != nil {
		return nil, false, fmt.Errorf("storage: draft feedback: %w", err)
	}
	if limit > 0 && len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

// SubmitReview closes the review opened by the share token whose hash is tokenHash: the draft becomes
// approved when the client left no change request and no comment, not_approved otherwise
// (R-REVIEW-6), and the CSM who asked for it is notified in the app and by email. A repeated call
// answers the first outcome. Like every review write it is tied to the token: once the link is
// rotated the old token's submit is ErrNotFound, however late it arrives. A nil tokenHash skips that
// check; only submits accepted before the check existed carry none.
func (s *Store) SubmitReview(ctx context.Context, draftID string, tokenHash []byte, reviewer string) (ApprovalDraft, error) {
	var out ApprovalDraft
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var tokenOpens bool
		d, err := scanDraft(tx.QueryRow(ctx, `SELECT `+draftColumns+`, ($2::bytea IS NULL OR d.token_hash = $2)
			FROM approval_drafts d WHERE d.id = $1 FOR UPDATE`, draftID, tokenHash), &tokenOpens)
		if err != nil {
			return err
		}
		if d.SubmittedAt != nil {
			out = d
			return nil
		}
		if !tokenOpens {
			return pgx.ErrNoRows
		}
		if d.Status != DraftStatusReady {
			return ErrReviewClosed
		}
		var objections int
		if err := tx.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM review_items WHERE draft_id = $1 AND (verdict = 'change_request' OR comment <> '')) +
			(SELECT count(*) FROM review_comments WHERE draft_id = $1)`, draftID).Scan(&objections); err != nil {
			return err
		}
		status := DraftStatusApproved
		if objections > 0 {
			status = DraftStatusNotApproved
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
		if status == DraftStatusNotApproved {
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
