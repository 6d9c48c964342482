package api

import (
	"strings"
	"sync"
	"time"
)

// decisionCache keeps, per process, the rendered pages of decision links (R-ACT-1) by token hash, so
// that opening a link again costs no database read and no rendering. A page is kept only while the
// process hears Postgres's change feed of decision pages (storage.DecisionLinkChannel, on the review
// feed's connection) and only until its ValidUntil; it is dropped when its request changes ('r:<id>':
// status, approvers, links) and every page is dropped when a user changes ('u:<id>': a name or an
// approval right may show on any page). A page loaded from the database is kept only if no change to
// its request was heard since the load began (mark/store), so a change committed during a load is
// never hidden. When the feed is down, nothing is kept.
type decisionCache struct {
	mu        sync.Mutex
	listening bool
	pages     map[[32]byte]*decisionPage   // by token hash
	byRequest map[string]map[[32]byte]bool // request id → token hashes of its pages
	seq       uint64                       // counts changes heard
	floor     uint64                       // every request counts as changed at floor
	changed   map[string]uint64            // request id → seq of its last change, above floor
}

// decisionPage is a rendered decision page: the HTML around the form token's values (head before the
// first, tail the parts after each; tail is nil for a page without a form), the request it shows and
// until when it may be served.
type decisionPage struct {
	requestID  string
	validUntil time.Time
	head       []byte
	tail       [][]byte
}

// decisionCacheSize bounds the pages kept and the changes remembered; past it an arbitrary page is
// dropped (or, for the changes, every request counts as changed).
const decisionCacheSize = 5000

func newDecisionCache() *decisionCache {
	return &decisionCache{pages: map[[32]byte]*decisionPage{}, byRequest: map[string]map[[32]byte]bool{},
		changed: map[string]uint64{}}
}

// get returns the page kept for hash, if it is still valid at now.
func (c *decisionCache) get(hash [32]byte, now time.Time) (*decisionPage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pages[hash]
	if !ok {
		return nil, false
	}
	if !now.Before(p.validUntil) {
		c.drop(hash, p)
		return nil, false
	}
	return p, true
}

// mark is taken before loading a page from the database; store keeps the page only if nothing
// changed since.
func (c *decisionCache) mark() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seq
}

// store keeps p for hash when the feed is heard and p's request did not change since mark.
func (c *decisionCache) store(hash [32]byte, p *decisionPage, mark uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.listening || c.floor > mark || c.changed[p.requestID] > mark {
		return
	}
	if old, ok := c.pages[hash]; ok {
		c.drop(hash, old)
	}
	if len(c.pages) >= decisionCacheSize {
		for h, old := range c.pages {
			c.drop(h, old)
			break
		}
	}
	c.pages[hash] = p
	if c.byRequest[p.requestID] == nil {
		c.byRequest[p.requestID] = map[[32]byte]bool{}
	}
	c.byRequest[p.requestID][hash] = true
}

// drop forgets the page p of hash; the caller holds mu.
func (c *decisionCache) drop(hash [32]byte, p *decisionPage) {
	delete(c.pages, hash)
	if hs := c.byRequest[p.requestID]; hs != nil {
		delete(hs, hash)
		if len(hs) == 0 {
			delete(c.byRequest, p.requestID)
		}
	}
}

// requestChanged drops the pages of request id; loads that began before are not kept.
func (c *decisionCache) requestChanged(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	if len(c.changed) >= decisionCacheSize {
		c.floor, c.changed = c.seq, map[string]uint64{}
	} else {
		c.changed[id] = c.seq
	}
	for h := range c.byRequest[id] {
		delete(c.pages, h)
	}
	delete(c.byRequest, id)
}

// allChanged drops every page; loads that began before are not kept.
func (c *decisionCache) allChanged() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.floor, c.changed = c.seq, map[string]uint64{}
	c.pages, c.byRequest = map[[32]byte]*decisionPage{}, map[string]map[[32]byte]bool{}
}

// DecisionLinksChanged hears the feed's payload: 'r:<request id>' or 'u:<user id>'.
func (c *decisionCache) DecisionLinksChanged(payload string) {
	if id, ok := strings.CutPrefix(payload, "r:"); ok {
		c.requestChanged(id)
		return
	}
	c.allChanged()
}

// Listening turns keeping pages on or off; either way what was kept is forgotten, since changes may
// have been missed.
func (c *decisionCache) Listening(on bool) {
	c.allChanged()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.listening = on
}

// size is how many pages are kept.
func (c *decisionCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pages)
}
