package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ReviewChannel is the Postgres notification channel on which every change to what a client review
// shows is announced, with the draft id as payload (migration 00006).
const ReviewChannel = "signoff_review"

// ReviewListener hears of changes to reviews.
type ReviewListener interface {
	// Listening is called with true once changes are being heard, and with false and the reason when
	// they may have been missed (the connection dropped): whatever was learnt before must be forgotten.
	Listening(on bool, err error)
	// ReviewChanged is called with the id of a draft whose review changed.
	ReviewChanged(draftID string)
}

// DecisionLinkListener is a ReviewListener that also hears of changes to decision pages (R-ACT-1).
type DecisionLinkListener interface {
	// DecisionLinksChanged is called with the payload of DecisionLinkChannel: 'r:<request id>' or
	// 'u:<user id>'.
	DecisionLinksChanged(payload string)
}

// WatchReviewChanges listens on ReviewChannel over a connection of its own until ctx ends,
// reconnecting after failures with a backoff of up to retryMax. It returns ctx's error. When l is
// also a DecisionLinkListener, the same connection listens on DecisionLinkChannel for it.
func (s *Store) WatchReviewChanges(ctx context.Context, l ReviewListener, retryMax time.Duration) error {
	const first = 50 * time.Millisecond
	wait := first
	for {
		heard, err := s.listenReviews(ctx, l)
		if ctx.Err() != nil {
			l.Listening(false, ctx.Err())
			return ctx.Err()
		}
		l.Listening(false, err)
		if heard {
			wait = first
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, retryMax)
	}
}

// listenReviews holds one listening connection until it fails; heard reports whether it got as far
// as listening.
func (s *Store) listenReviews(ctx context.Context, l ReviewListener) (heard bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, s.Pool.Config().ConnConfig.Copy())
	if err != nil {
		return false, fmt.Errorf("storage: listen reviews: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+ReviewChannel); err != nil {
		return false, fmt.Errorf("storage: listen reviews: %w", err)
	}
	dl, links := l.(DecisionLinkListener)
	if links {
		if _, err := conn.Exec(ctx, "LISTEN "+DecisionLinkChannel); err != nil {
			return false, fmt.Errorf("storage: listen decision links: %w", err)
		}
	}
	l.Listening(true, nil)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, fmt.Errorf("storage: listen reviews: %w", err)
		}
		if n.Channel == DecisionLinkChannel {
			if links {
				dl.DecisionLinksChanged(n.Payload)
			}
			continue
		}
		l.ReviewChanged(n.Payload)
	}
}
