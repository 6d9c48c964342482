package storage

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Review comments are written with group commit: the comments waiting when a write starts go into
// one statement and transaction, up to maxCommentBatch, with at most maxCommentFlushes transactions
// in flight. Under load a burst of comments costs a few commits instead of one each (a commit that
// announces a review change serialises with every other such commit); alone, a comment is written
// at once. Each caller still gets its own answer, after its row is committed.
const (
	maxCommentBatch   = 128
	maxCommentFlushes = 2
	commentWriteLimit = 30 * time.Second
)

// commentBatcher queues comments for group commit; its zero value is ready.
type commentBatcher struct {
	mu      sync.Mutex
	queue   []*pendingComment
	flushes int
}

// pendingComment is one caller's comment on its way to the database.
type pendingComment struct {
	id        string
	draftID   string
	tokenHash []byte
	c         ReviewComment
	createdAt time.Time
	written   bool  // false after done: the draft was not open to this token
	err       error // the batch failed; nothing of it was written
	done      chan struct{}
}

// add queues p and starts a flush when fewer than maxCommentFlushes are running.
func (b *commentBatcher) add(s *Store, p *pendingComment) {
	b.mu.Lock()
	b.queue = append(b.queue, p)
	start := b.flushes < maxCommentFlushes
	if start {
		b.flushes++
	}
	b.mu.Unlock()
	if start {
		go b.flushLoop(s)
	}
}

// flushLoop writes batches until the queue is empty.
func (b *commentBatcher) flushLoop(s *Store) {
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxCommentBatch)
		if n == 0 {
			b.flushes--
			b.mu.Unlock()
			return
		}
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.mu.Unlock()
		s.writeComments(batch)
	}
}

// writeComments inserts the batch in one statement. Rows whose draft is open to the given token
// (under the shared lock every review write takes, see openReview) are written; the others are
// left for their callers to explain. Ids are made here, so each caller finds its own row.
func (s *Store) writeComments(batch []*pendingComment) {
	ctx, cancel := context.WithTimeout(context.Background(), commentWriteLimit)
	defer cancel()
	n := len(batch)
	byID := make(map[string]*pendingComment, n)
	ids, drafts, hashes := make([]string, n), make([]string, n), make([][]byte, n)
	targets, kinds, quotes, comments, authors := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, p := range batch {
		p.id = uuid.NewString()
		byID[p.id] = p
		ids[i], drafts[i], hashes[i] = p.id, p.draftID, p.tokenHash
		targets[i], kinds[i], quotes[i], comments[i], authors[i] = p.c.Target, p.c.Kind, p.c.Quote, p.c.Comment, p.c.Author
	}
	// Each row gets its own time, in the order the comments were queued (clock_timestamp over the
	// ordered rows; now() would give a whole batch one time and lose their order).
	rows, err := s.Pool.Query(ctx, `
		WITH input AS (
			SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bytea[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
				WITH ORDINALITY AS t(id, draft_id, token_hash, target, kind, quote, comment, author, ord)),
		open AS (
			SELECT d.id, d.token_hash FROM approval_drafts d
			WHERE d.id IN (SELECT draft_id FROM input) AND d.status = 'ready' AND d.submitted_at IS NULL FOR SHARE),
		accepted AS (
			SELECT i.* FROM input i JOIN open o ON o.id = i.draft_id AND o.token_hash = i.token_hash ORDER BY i.ord OFFSET 0)
		INSERT INTO review_comments (id, draft_id, target, kind, quote, comment, author, created_at)
		SELECT a.id, a.draft_id, a.target, a.kind, a.quote, a.comment, a.author, clock_timestamp() FROM accepted a
		RETURNING id, created_at`,
		ids, drafts, hashes, targets, kinds, quotes, comments, authors)
	if err == nil {
		var id string
		var at time.Time
		_, err = pgx.ForEachRow(rows, []any{&id, &at}, func() error {
			if p := byID[id]; p != nil {
				p.written, p.createdAt = true, at
			}
			return nil
		})
	}
	if err != nil && n > 1 {
		// One bad row fails the statement: write each alone, so it fails only its own caller.
		for _, p := range batch {
			s.writeComments([]*pendingComment{p})
		}
		return
	}
	for _, p := range batch {
		if err != nil {
			p.written, p.err = false, err
		}
		close(p.done)
	}
}
