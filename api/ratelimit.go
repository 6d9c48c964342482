package api

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// rateLimiter keeps one token bucket (golang.org/x/time/rate) per key in memory: each key holds up
// to burst requests and regains rate per second. The buckets belong to this process, so N API
// processes behind a load balancer admit up to N times the rate of one (README, "Behind a load
// balancer").
type rateLimiter struct {
	mu      sync.Mutex
	limit   rate.Limit
	burst   int
	buckets map[string]*rate.Limiter
	swept   time.Time
}

// rateSweepEvery is how often allow looks for buckets to forget.
const rateSweepEvery = time.Minute

// maxRetryAfter bounds the wait a refused request is told about.
const maxRetryAfter = time.Hour

func newRateLimiter(perSecond float64, burst int) *rateLimiter {
	return &rateLimiter{limit: rate.Limit(perSecond), burst: max(burst, 1), buckets: map[string]*rate.Limiter{}, swept: time.Now()}
}

// allow takes one token of key's bucket at time now; when none is left it returns false and how
// long until one is. A refused request takes nothing.
func (l *rateLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) >= rateSweepEvery {
		l.sweep(now)
	}
	b, ok := l.buckets[key]
	if !ok {
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets[key] = b
	}
	if b.AllowN(now, 1) {
		return true, 0
	}
	wait := maxRetryAfter
	if secs := (1 - b.TokensAt(now)) / float64(l.limit); secs < maxRetryAfter.Seconds() {
		wait = time.Duration(secs * float64(time.Second))
	}
	return false, wait
}

// sweep forgets every bucket that is full again: a new bucket starts full, so forgetting one changes
// no answer, and memory stays bounded by the keys seen within one refill time.
func (l *rateLimiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
	l.swept = now
}

// size is how many buckets are kept.
func (l *rateLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
