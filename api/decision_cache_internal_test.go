package api

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDecisionCache: a page is kept only while the change feed is heard, until its own time is up, and
// when no change to its request was heard since its load began; a change to its request drops its pages
// (and only them), a change to a user or a lost feed drops every page.
func TestDecisionCache(t *testing.T) {
	t.Parallel()
	now := time.Now()
	page := func(req string) *decisionPage {
		return &decisionPage{requestID: req, validUntil: now.Add(time.Hour), head: []byte(req)}
	}
	h1, h2, h3 := cacheHash("link 1"), cacheHash("link 2"), cacheHash("link 3")
	c := newDecisionCache()

	c.store(h1, page("r1"), c.mark())
	_, ok := c.get(h1, now)
	require.False(t, ok, "nothing is kept while the feed is not heard")

	c.Listening(true)
	c.store(h1, page("r1"), c.mark())
	c.store(h2, page("r1"), c.mark())
	c.store(h3, page("r2"), c.mark())
	require.Equal(t, 3, c.size())
	p, ok := c.get(h1, now)
	require.True(t, ok)
	require.Equal(t, "r1", string(p.head))
	_, ok = c.get(h1, now.Add(time.Hour))
	require.False(t, ok, "a page is not served past its ValidUntil")
	require.Equal(t, 2, c.size(), "an expired page is dropped")

	c.DecisionLinksChanged("r:r1")
	_, ok = c.get(h2, now)
	require.False(t, ok, "a change to its request drops a page")
	_, ok = c.get(h3, now)
	require.True(t, ok, "other requests' pages stay")

	mark := c.mark()
	c.DecisionLinksChanged("r:r1")
	c.store(h1, page("r1"), mark)
	_, ok = c.get(h1, now)
	require.False(t, ok, "a page loaded while its request changed is not kept")
	c.store(h2, page("r2"), mark)
	_, ok = c.get(h2, now)
	require.True(t, ok, "a page of another request loaded meanwhile is kept")

	c.DecisionLinksChanged("u:someone")
	require.Zero(t, c.size(), "a change to a user drops every page")
	mark = c.mark()
	c.DecisionLinksChanged("u:someone")
	c.store(h3, page("r2"), mark)
	require.Zero(t, c.size(), "nor is a page loaded meanwhile kept")

	c.store(h3, page("r2"), c.mark())
	c.Listening(false)
	require.Zero(t, c.size(), "a lost feed drops every page")
}
