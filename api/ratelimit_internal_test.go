package api

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRateLimiterOnInjectedClock: each key's bucket admits burst requests, then refuses with the
// wait until the next token without taking one, and refills at the rate; a full bucket is forgotten
// at the next sweep, an emptied one is kept. Every time is given, never read from the clock.
func TestRateLimiterOnInjectedClock(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type call struct {
		key      string
		at       time.Duration
		ok       bool
		wait     time.Duration // when refused
		kept     int           // buckets kept after the call; -1 when not checked
		describe string
	}
	cases := []struct {
		name  string
		rate  float64
		burst int
		calls []call
	}{
		{"burst, then one a second", 1, 3, []call{
			{"a", 0, true, 0, 1, "1st of the burst"},
			{"a", 0, true, 0, 1, "2nd of the burst"},
			{"a", 0, true, 0, 1, "3rd of the burst"},
			{"a", 0, false, time.Second, 1, "the bucket is empty: a token in 1 s"},
			{"a", 250 * time.Millisecond, false, 750 * time.Millisecond, 1, "a refusal took nothing: 0.75 s left"},
			{"b", 250 * time.Millisecond, true, 0, 2, "another key has its own bucket"},
			{"a", time.Second, true, 0, 2, "refilled after 1 s"},
			{"a", time.Second, false, time.Second, 2, "and empty again"},
		}},
		{"a tiny rate never refills within a test", 1e-9, 1, []call{
			{"a", 0, true, 0, 1, "the one request"},
			{"a", time.Hour, false, maxRetryAfter, 1, "an hour later still refused; the wait is capped"},
		}},
		{"sweep forgets full buckets only", 1, 2, []call{
			{"idle", 0, true, 0, 1, "idle takes one"},
			{"busy", 0, true, 0, 2, "busy takes one"},
			{"busy", 0, true, 0, 2, "busy takes the other"},
			// At +61 s the sweep runs first: idle refilled long ago and is forgotten; busy too.
			{"busy", 61 * time.Second, true, 0, 1, "after the sweep only the caller's bucket is kept"},
			{"busy", 61 * time.Second, true, 0, 1, ""},
			{"other", 61 * time.Second, true, 0, 2, ""},
			// At +122.5 s the next sweep finds busy and other refilled (at +63 s and +62 s).
			{"fresh", 122*time.Second + 500*time.Millisecond, true, 0, 1, "every older bucket refilled and is forgotten"},
		}},
		{"sweep keeps a bucket that is not yet full", 0.01, 2, []call{
			{"slow", 0, true, 0, 1, "takes one of two; refills in 100 s"},
			{"other", 61 * time.Second, true, 0, 2, "at the sweep, slow is not full yet, so it is kept"},
			{"slow", 61 * time.Second, true, 0, 2, "and still has its second token"},
			{"slow", 61 * time.Second, false, 39 * time.Second, 2, "the next one in 39 s"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newRateLimiter(tc.rate, tc.burst)
			l.swept = t0
			for i, c := range tc.calls {
				ok, wait := l.allow(c.key, at(c.at))
				require.Equal(t, c.ok, ok, "call %d (%s at +%s): %s", i+1, c.key, c.at, c.describe)
				if !c.ok {
					require.InDelta(t, c.wait.Seconds(), wait.Seconds(), 0.001, "call %d: wait: %s", i+1, c.describe)
				}
				if c.kept >= 0 {
					require.Equal(t, c.kept, l.size(), "call %d: buckets kept: %s", i+1, c.describe)
				}
			}
		})
	}
}
