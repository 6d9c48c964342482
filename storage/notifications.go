package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Notification is an in-app message to one user (R-APPR-9).
type Notification struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	Title      string     `json:"title"`
	Body       string     `json:"body"`
	CampaignID *string    `json:"campaign_id"`
	RequestID  *string    `json:"request_id"`
	DraftID    *string    `json:"draft_id"`
	ReadAt     *time.Time `json:"read_at"`
	CreatedAt  time.Time  `json:"created_at"`
}

// OutboxEmail is an email waiting in (or delivered from) the transactional outbox.
type OutboxEmail struct {
	ID        string     `json:"id"`
	ToEmail   string     `json:"to"`
	ToName    string     `json:"to_name"`
	Subject   string     `json:"subject"`
	Body      string     `json:"body"`
	RequestID *string    `json:"request_id"`
	CreatedAt time.Time  `json:"created_at"`
	SentAt    *time.Time `json:"sent_at"`
}

// notice is one notification to write: in the app and as an email, both exactly once per DedupeKey.
type notice struct {
	AccountID  string
	UserID     string
	Kind       string
	Title      string
	Body       string
	CampaignID string
	RequestID  string
	DraftID    string
	DedupeKey  string
	// DecisionLinkBase, when set, gives the email (not the in-app notification) a new decision link of
	// UserID's assignment on RequestID: this prefix followed by the link's token (R-ACT-1).
	DecisionLinkBase string
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// notify writes an in-app notification and an outbox email for n, skipping both if already written.
func notify(ctx context.Context, tx pgx.Tx, n notice) error {
	tag, err := tx.Exec(ctx, `INSERT INTO notifications (account_id, user_id, kind, title, body, campaign_id, request_id, draft_id, dedupe_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (dedupe_key) DO NOTHING`,
		n.AccountID, n.UserID, n.Kind, n.Title, n.Body, nullable(n.CampaignID), nullable(n.RequestID), nullable(n.DraftID), n.DedupeKey)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	body := n.Body
	if n.DecisionLinkBase != "" {
		token, err := newDecisionLink(ctx, tx, n.AccountID, n.RequestID, n.UserID)
		if err != nil {
			return err
		}
		body += "\n\n" + DecisionLinkSentence + " " + n.DecisionLinkBase + token
	}
	_, err = tx.Exec(ctx, `INSERT INTO outbox_emails (account_id, to_email, to_name, subject, body, request_id, draft_id, dedupe_key)
		SELECT $1, u.email, u.name, $3, $4, $5, $6, $7 FROM users u WHERE u.id = $2
		ON CONFLICT (dedupe_key) DO NOTHING`,
		n.AccountID, n.UserID, n.Title, body+"\n\n— Signoff", nullable(n.RequestID), nullable(n.DraftID), n.DedupeKey)
	return err
}

// DecisionLinkSentence introduces the decision link in an approver's email (R-ACT-1).
const DecisionLinkSentence = "Read the campaign and approve or reject it here, no login needed:"

func userName(ctx context.Context, q queryer, id string) (string, error) {
	var name string
	if err := q.QueryRow(ctx, `SELECT name FROM users WHERE id = $1`, id).Scan(&name); err != nil {
		return "", err
	}
	return name, nil
}

// Notifications lists a user's in-app notifications, newest first.
func (s *Store) Notifications(ctx context.Context, accountID, userID string, limit int) ([]Notification, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, kind, title, body, campaign_id, request_id, draft_id, read_at, created_at
		FROM notifications WHERE account_id = $1 AND user_id = $2 ORDER BY created_at DESC, id LIMIT $3`, accountID, userID, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: notifications: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Notification])
	if err != nil {
		return nil, fmt.Errorf("storage: notifications: %w", err)
	}
	return out, nil
}

// Outbox lists the account's outbox emails, newest first.
func (s *Store) Outbox(ctx context.Context, accountID string, limit int) ([]OutboxEmail, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, to_email, to_name, subject, body, request_id, created_at, sent_at
		FROM outbox_emails WHERE account_id = $1 ORDER BY created_at DESC, id LIMIT $2`, accountID, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: outbox: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[OutboxEmail])
	if err != nil {
		return nil, fmt.Errorf("storage: outbox: %w", err)
	}
	return out, nil
}

// UnsentEmails lists the outbox emails of a request or draft (by id) not yet delivered.
func (s *Store) UnsentEmails(ctx context.Context, ownerID string) ([]OutboxEmail, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, to_email, to_name, subject, body, request_id, created_at, sent_at
		FROM outbox_emails WHERE (request_id = $1 OR draft_id = $1) AND sent_at IS NULL ORDER BY created_at, id`, ownerID)
	if err != nil {
		return nil, fmt.Errorf("storage: unsent emails: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[OutboxEmail])
	if err != nil {
		return nil, fmt.Errorf("storage: unsent emails: %w", err)
	}
	return out, nil
}

// MarkEmailSent records that an outbox email was handed to the provider.
func (s *Store) MarkEmailSent(ctx context.Context, id string) error {
	if _, err := s.Pool.Exec(ctx, `UPDATE outbox_emails SET sent_at = now() WHERE id = $1 AND sent_at IS NULL`, id); err != nil {
		return fmt.Errorf("storage: mark email sent: %w", err)
	}
	return nil
}
