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
	max     int // comments one draft may hold; 0 means MaxCommentsPerDraft, below 0 no limit
}

// SetMaxComments changes how many comments one draft may hold (MaxCommentsPerDraft until set); a
// negative n removes the limit, and comments are then not counted. Only a benchmark that writes far
// more comments to one draft than any client may has reason to change it.
func (s *Store) SetMaxComments(n int) {
	s.comments.mu.Lock()
	defer s.comments.mu.Unlock()
	s.comments.max = n
}

// MaxComments is how many comments one draft may hold; negative when there is no limit.
func (s *Store) MaxComments() int {
	s.comments.mu.Lock()
	defer s.comments.mu.Unlock()
	if s.comments.max != 0 {
		return s.comments.max
	}
	return MaxCommentsPerDraft
}

// pendingComment is one caller's comment on its way to the database.
type pendingComment struct {
	id        string
	draftID   string
	tokenHash []byte
	c         ReviewComment
	createdAt time.Time
	written   bool  // false after done: the draft was not open to this token, or full
	full      bool  // the draft was open but held MaxComments comments
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

// writeComments inserts the batch in one implicit transaction of two statements, sent together.
// The first takes a transaction lock per draft of the batch (in one order, so two batches never
// deadlock), so comment writers of one draft take turns and the second statement, which starts
// after the lock, counts every comment committed before it: no draft ever holds more than
// MaxComments. Other review writes do not take that lock. Rows whose draft is open to the
// given token (under the shared lock every review write takes, see openReview) are written, in
// queue order, while the draft has room; the others are left for their callers to explain. Ids
// are made here, so each caller finds its own row.
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
	var limit *int // NULL: no limit, nothing counted
	if m := s.MaxComments(); m >= 0 {
		limit = &m
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock(k) FROM (
		SELECT DISTINCT hashtext('signoff-review-comments:' || id::text) AS k FROM unnest($1::uuid[]) AS t(id) ORDER BY k) l`, drafts)
	// Each row gets its own time, in the order the comments were queued (clock_timestamp over the
	// ordered rows; now() would give a whole batch one time and lose their order). The answer has a
	// row per comment whose draft is open to its token, with created_at null when the draft was full.
	b.Queue(`
		WITH input AS (
			SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bytea[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
				WITH ORDINALITY AS t(id, draft_id, token_hash, target, kind, quote, comment, author, ord)),
		open AS (
			SELECT d.id, d.token_hash FROM approval_drafts d
			WHERE d.id IN (SELECT draft_id FROM input) AND d.status = 'ready' AND d.submitted_at IS NULL FOR SHARE),
		matched AS (
			SELECT i.*, row_number() OVER (PARTITION BY i.draft_id ORDER BY i.ord) AS nth
			FROM input i JOIN open o ON o.id = i.draft_id AND o.token_hash = i.token_hash),
		existing AS (
			SELECT r.draft_id, count(*) AS n FROM review_comments r
			WHERE $9::bigint IS NOT NULL AND r.draft_id IN (SELECT id FROM open) GROUP BY r.draft_id),
		accepted AS (
			SELECT m.* FROM matched m LEFT JOIN existing e ON e.draft_id = m.draft_id
			WHERE $9::bigint IS NULL OR COALESCE(e.n, 0) + m.nth <= $9 ORDER BY m.ord OFFSET 0),
		ins AS (
			INSERT INTO review_comments (id, draft_id, target, kind, quote, comment, author, created_at)
			SELECT a.id, a.draft_id, a.target, a.kind, a.quote, a.comment, a.author, clock_timestamp() FROM accepted a
			RETURNING id, created_at)
		SELECT m.id, ins.created_at FROM matched m LEFT JOIN ins ON ins.id = m.id`,
		ids, drafts, hashes, targets, kinds, quotes, comments, authors, limit)
	res := s.Pool.SendBatch(ctx, b)
	_, err := res.Exec()
	if err == nil {
		var rows pgx.Rows
		if rows, err = res.Query(); err == nil {
			var id string
			var at *time.Time
			_, err = pgx.ForEachRow(rows, []any{&id, &at}, func() error {
				if p := byID[id]; p != nil {
					p.written, p.full = at != nil, at == nil
					if at != nil {
						p.createdAt = *at
					}
				}
				return nil
			})
		}
	}
	if cerr := res.Close(); err == nil {
		err = cerr
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
			p.written, p.full, p.err = false, false, err
		}
		close(p.done)
	}
}
