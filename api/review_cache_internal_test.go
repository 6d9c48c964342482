package api

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/storage"
)

// cacheHash is the token hash the unit tests of reviewCache store an answer under.
func cacheHash(name string) [32]byte { return sha256.Sum256([]byte(name)) }

// cacheAnswer is an answer of draft draftID, for the unit tests of reviewCache.
func cacheAnswer(draftID string) *reviewAnswer {
	return &reviewAnswer{draft: storage.ApprovalDraft{ID: draftID}}
}

// TestReviewCacheStore: an answer is kept only while the change feed is heard and when no change to
// its draft was heard since the load began (mark); a change, a lost feed or a new token drops it.
func TestReviewCacheStore(t *testing.T) {
	t.Parallel()
	h1, h2, h3 := cacheHash("token 1"), cacheHash("token 2"), cacheHash("token 3")
	cases := []struct {
		name string
		run  func(t *testing.T, c *reviewCache)
		kept map[[32]byte]string // token hash → draft id answered for it
		gone [][32]byte          // token hashes answered by nothing
	}{
		{name: "kept when nothing changed since mark", run: func(t *testing.T, c *reviewCache) {
			c.store(h1, cacheAnswer("d1"), c.mark())
		}, kept: map[[32]byte]string{h1: "d1"}},
		{name: "refused after a change of the same draft since mark", run: func(t *testing.T, c *reviewCache) {
			m := c.mark()
			c.ReviewChanged("d1")
			c.store(h1, cacheAnswer("d1"), m)
		}, gone: [][32]byte{h1}},
		{name: "kept when the draft changed before mark", run: func(t *testing.T, c *reviewCache) {
			c.ReviewChanged("d1")
			c.store(h1, cacheAnswer("d1"), c.mark())
		}, kept: map[[32]byte]string{h1: "d1"}},
		{name: "kept after a change of another draft", run: func(t *testing.T, c *reviewCache) {
			m := c.mark()
			c.ReviewChanged("d2")
			c.store(h1, cacheAnswer("d1"), m)
		}, kept: map[[32]byte]string{h1: "d1"}},
		{name: "a change drops its draft's answer only", run: func(t *testing.T, c *reviewCache) {
			c.store(h1, cacheAnswer("d1"), c.mark())
			c.store(h2, cacheAnswer("d2"), c.mark())
			c.ReviewChanged("d1")
		}, kept: map[[32]byte]string{h2: "d2"}, gone: [][32]byte{h1}},
		{name: "refused while not listening", run: func(t *testing.T, c *reviewCache) {
			c.Listening(false)
			c.store(h1, cacheAnswer("d1"), c.mark())
		}, gone: [][32]byte{h1}},
		{name: "Listening(false) empties and answers nothing", run: func(t *testing.T, c *reviewCache) {
			c.store(h1, cacheAnswer("d1"), c.mark())
			c.store(h2, cacheAnswer("d2"), c.mark())
			_, ok := c.answer(h1)
			require.True(t, ok, "h1 is answered before the feed is lost")
			c.Listening(false)
			require.Empty(t, c.answers)
			require.Empty(t, c.tokens)
		}, gone: [][32]byte{h1, h2}},
		{name: "nothing comes back with Listening(true)", run: func(t *testing.T, c *reviewCache) {
			c.store(h1, cacheAnswer("d1"), c.mark())
			c.Listening(false)
			c.Listening(true)
		}, gone: [][32]byte{h1}},
		{name: "Listening(true) refuses a mark taken while not listening", run: func(t *testing.T, c *reviewCache) {
			c.Listening(false)
			m := c.mark()
			c.Listening(true)
			c.store(h1, cacheAnswer("d1"), m)
		}, gone: [][32]byte{h1}},
		{name: "Listening(true) refuses a mark taken before the feed was lost", run: func(t *testing.T, c *reviewCache) {
			m := c.mark()
			c.Listening(false)
			c.Listening(true)
			c.store(h1, cacheAnswer("d1"), m)
		}, gone: [][32]byte{h1}},
		{name: "a mark taken after Listening(true) is kept", run: func(t *testing.T, c *reviewCache) {
			c.Listening(false)
			c.Listening(true)
			c.store(h1, cacheAnswer("d1"), c.mark())
		}, kept: map[[32]byte]string{h1: "d1"}},
		{name: "past reviewCacheSize changes every draft counts as changed", run: func(t *testing.T, c *reviewCache) {
			old := c.mark()
			for i := range reviewCacheSize + 1 {
				c.ReviewChanged(fmt.Sprintf("other-%d", i))
				require.LessOrEqual(t, len(c.changed), reviewCacheSize, "the change log is bounded")
			}
			require.Greater(t, c.floor, old, "the change log fell back to the floor")
			c.store(h1, cacheAnswer("d1"), old) // d1 never changed, but its change may have been forgotten
			fresh := c.mark()
			c.store(h2, cacheAnswer("d2"), fresh)
			// After the fallback the change log works again, per draft.
			c.ReviewChanged("d3")
			c.store(h3, cacheAnswer("d3"), fresh)
		}, kept: map[[32]byte]string{h2: "d2"}, gone: [][32]byte{h1, h3}},
		{name: "up to reviewCacheSize changes are told apart per draft", run: func(t *testing.T, c *reviewCache) {
			old := c.mark()
			for i := range reviewCacheSize - 1 {
				c.ReviewChanged(fmt.Sprintf("other-%d", i))
			}
			c.ReviewChanged("d2")
			require.Equal(t, reviewCacheSize, len(c.changed))
			c.store(h1, cacheAnswer("d1"), old)
			c.store(h2, cacheAnswer("d2"), old)
		}, kept: map[[32]byte]string{h1: "d1"}, gone: [][32]byte{h2}},
		{name: "a new token of the same draft replaces the old token's answer", run: func(t *testing.T, c *reviewCache) {
			c.store(h1, cacheAnswer("d1"), c.mark())
			c.store(h2, cacheAnswer("d1"), c.mark())
			require.Len(t, c.answers, 1)
			require.Equal(t, h2, c.tokens["d1"])
		}, kept: map[[32]byte]string{h2: "d1"}, gone: [][32]byte{h1}},
		{name: "a change after a new token drops the new token's answer", run: func(t *testing.T, c *reviewCache) {
			c.store(h1, cacheAnswer("d1"), c.mark())
			c.store(h2, cacheAnswer("d1"), c.mark())
			c.ReviewChanged("d1")
		}, gone: [][32]byte{h1, h2}},
		{name: "answers are bounded and stay consistent with tokens", run: func(t *testing.T, c *reviewCache) {
			for i := range reviewCacheSize + 50 {
				c.store(cacheHash(fmt.Sprintf("bulk %d", i)), cacheAnswer(fmt.Sprintf("bulk-%d", i)), c.mark())
			}
			require.LessOrEqual(t, len(c.answers), reviewCacheSize)
			require.Equal(t, len(c.answers), len(c.tokens))
			for d, h := range c.tokens {
				a, ok := c.answers[h]
				require.True(t, ok, "draft %s points at a kept answer", d)
				require.Equal(t, d, a.draft.ID)
			}
			c.store(h1, cacheAnswer("d1"), c.mark())
		}, kept: map[[32]byte]string{h1: "d1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newReviewCache()
			_, ok := c.answer(h1)
			require.False(t, ok, "a new cache answers nothing")
			c.Listening(true)
			tc.run(t, c)
			for h, draftID := range tc.kept {
				a, ok := c.answer(h)
				if !ok {
					t.Fatalf("want an answer of draft %s for %x, got none", draftID, h[:4])
				}
				require.Equal(t, draftID, a.draft.ID)
			}
			for _, h := range tc.gone {
				_, ok := c.answer(h)
				require.False(t, ok, "want no answer for %x", h[:4])
			}
		})
	}
}
