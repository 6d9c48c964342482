package api

import (
	"encoding/json"
	"sync"

	"github.com/signoff/signoff/storage"
)

// reviewCache keeps what never changes about a draft under review, per process: its frozen snapshot
// (R-DRAFT-10) with the write targets it allows, and its leads' AI results once every lead has one
// (they attach once and never change). The share token and the feedback are read every time.
type reviewCache struct {
	mu      sync.Mutex
	entries map[string]*cachedReview
}

type cachedReview struct {
	snap    storage.Snapshot
	targets reviewTargets
	ai      map[string]json.RawMessage // nil until the draft's AI pipeline is done
}

// reviewCacheSize bounds the cache; past it an arbitrary entry is dropped.
const reviewCacheSize = 2000

func newReviewCache() *reviewCache { return &reviewCache{entries: map[string]*cachedReview{}} }

func (c *reviewCache) get(draftID string) (*cachedReview, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[draftID]
	return e, ok
}

func (c *reviewCache) put(draftID string, e *cachedReview) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= reviewCacheSize {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[draftID] = e
}
