package api

import (
	"sync"

	"github.com/signoff/signoff/app"
)

// reviewCache keeps, per process, what a client review reads (R-REVIEW-3):
//   - per draft, what never changes (app.FrozenReview): the frozen snapshot (R-DRAFT-10) with the
//     write targets it allows, and the leads' AI results once every lead has one (they attach once);
//   - per share token, the whole answer (draft row, view and its JSON encoding), kept only while the
//     process hears Postgres's change feed (storage.WatchReviewChanges) and dropped on any change to
//     the draft. When the feed is down, nothing is answered from it.
//
// An answer loaded from the database is kept only if no change to its draft was heard since the load
// began (mark/store), so a change committed during a load is never hidden.
type reviewCache struct {
	mu     sync.Mutex
	frozen map[string]*app.FrozenReview // by draft id

	listening bool
	answers   map[[32]byte]*reviewAnswer // by token hash
	tokens    map[string][32]byte        // draft id → token hash of its answer
	seq       uint64                     // counts changes heard
	floor     uint64                     // every draft counts as changed at floor
	changed   map[string]uint64          // draft id → seq of its last change, above floor
}

// reviewAnswer is what a share token opens, ready to serve.
type reviewAnswer struct {
	draft app.ApprovalDraft
	view  reviewJSON
	body  []byte // JSON of view

	pageOnce sync.Once // the rendered page, made on first use (see page)
	pageHTML []byte
	pageErr  error

	// bodyGz and pageGz are the gzip encodings of body and pageHTML, each made once on first use, so a
	// kept answer is compressed once rather than on every read.
	bodyGz lazyGzip
	pageGz lazyGzip
}

// lazyGzip is a gzip encoding made on first use.
type lazyGzip struct {
	once sync.Once
	b    []byte
}

// of returns the gzip encoding of plain, made by the first call; later calls must pass the same plain.
func (z *lazyGzip) of(plain []byte) []byte {
	z.once.Do(func() { z.b = gzipBytes(plain) })
	return z.b
}

// reviewCacheSize bounds each map; past it an arbitrary entry is dropped (or, for the change
// log, every draft counts as changed).
const reviewCacheSize = 2000

func newReviewCache() *reviewCache {
	return &reviewCache{frozen: map[string]*app.FrozenReview{}, answers: map[[32]byte]*reviewAnswer{},
		tokens: map[string][32]byte{}, changed: map[string]uint64{}}
}

// get returns the frozen review kept for the draft, or nil and false.
func (c *reviewCache) get(draftID string) (*app.FrozenReview, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.frozen[draftID]
	return e, ok
}

// put keeps the draft's frozen review, dropping an arbitrary one when full.
func (c *reviewCache) put(draftID string, e *app.FrozenReview) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.frozen) >= reviewCacheSize {
		for k := range c.frozen {
			delete(c.frozen, k)
			break
		}
	}
	c.frozen[draftID] = e
}

// answer returns the kept answer for a token hash. While the change feed is not heard there is none:
// Listening(false) empties the answers and store keeps nothing.
func (c *reviewCache) answer(hash [32]byte) (*reviewAnswer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.answers[hash]
	return a, ok
}

// isListening reports whether the change feed is heard.
func (c *reviewCache) isListening() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.listening
}

// mark is taken before loading an answer from the database; store keeps the answer only if nothing
// changed since.
func (c *reviewCache) mark() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seq
}

// store keeps a for hash when the feed is heard and a's draft did not change since mark.
func (c *reviewCache) store(hash [32]byte, a *reviewAnswer, mark uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.listening || c.floor > mark || c.changed[a.draft.ID] > mark {
		return
	}
	if old, ok := c.tokens[a.draft.ID]; ok {
		delete(c.answers, old)
	}
	if len(c.answers) >= reviewCacheSize {
		for h, e := range c.answers {
			delete(c.answers, h)
			delete(c.tokens, e.draft.ID)
			break
		}
	}
	c.answers[hash] = a
	c.tokens[a.draft.ID] = hash
}

// ReviewChanged drops what was kept of the draft's review; loads that began before are not kept.
func (c *reviewCache) ReviewChanged(draftID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	if len(c.changed) >= reviewCacheSize {
		c.floor, c.changed = c.seq, map[string]uint64{}
	} else {
		c.changed[draftID] = c.seq
	}
	if h, ok := c.tokens[draftID]; ok {
		delete(c.answers, h)
		delete(c.tokens, draftID)
	}
}

// Listening turns answers from the cache on or off; either way what was kept is forgotten, since
// changes may have been missed.
func (c *reviewCache) Listening(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.floor, c.listening = c.seq, on
	c.answers, c.tokens, c.changed = map[[32]byte]*reviewAnswer{}, map[string][32]byte{}, map[string]uint64{}
}
