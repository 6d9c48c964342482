package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Notification is an in-app message to one user (R-APPR-9, R-ACT-3).
type Notification struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	Title      string     `json:"title"`
	Body       string     `json:"body"`
	CampaignID *string    `json:"campaign_id"`
	RequestID  *string    `json:"request_id"`
	DraftID    *string    `json:"draft_id"`
	Link       string     `json:"link"` // the API path of the subject (request, else draft, else campaign)
	ReadAt     *time.Time `json:"read_at"`
	CreatedAt  time.Time  `json:"created_at"`
}

// notificationColumns are the columns of a Notification, in its fields' order.
const notificationColumns = `id, kind, title, body, campaign_id, request_id, draft_id, link, read_at, created_at`

// OutboxEmail is an email waiting in (or delivered from) the transactional outbox, with its text and
// HTML parts (R-ACT-4).
type OutboxEmail struct {
	ID        string     `json:"id"`
	ToEmail   string     `json:"to"`
	ToName    string     `json:"to_name"`
	Subject   string     `json:"subject"`
	Body      string     `json:"body"`
	HTML      string     `json:"html"`
	RequestID *string    `json:"request_id"`
	CreatedAt time.Time  `json:"created_at"`
	SentAt    *time.Time `json:"sent_at"`
	// FailedAt is set when the provider refused the email for good; it is not sent again.
	FailedAt *time.Time `json:"failed_at"`
	// Failure is the provider's answer to a refused email.
	Failure string `json:"failure"`
}

// outboxColumns are the columns of an OutboxEmail, in its fields' order.
const outboxColumns = `id, to_email, to_name, subject, body, html, request_id, created_at, sent_at, failed_at, failure`

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
	// Actions are the links the email offers besides the decision link.
	Actions []emailAction
	// DecisionLinkBase, when set, gives the email (not the in-app notification) a new decision link of
	// UserID's assignment on RequestID, this prefix followed by the link's token, as its first action
	// (R-ACT-1).
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
	actions := n.Actions
	if n.DecisionLinkBase != "" {
		token, err := newDecisionLink(ctx, tx, n.AccountID, n.RequestID, n.UserID)
		if err != nil {
			return err
		}
		actions = append([]emailAction{{Label: DecisionLinkLabel, URL: n.DecisionLinkBase + token}}, actions...)
	}
	_, err = tx.Exec(ctx, `INSERT INTO outbox_emails (account_id, to_email, to_name, subject, body, html, request_id, draft_id, dedupe_key)
		SELECT $1, u.email, u.name, $3, $4, $5, $6, $7, $8 FROM users u WHERE u.id = $2
		ON CONFLICT (dedupe_key) DO NOTHING`,
		n.AccountID, n.UserID, n.Title, emailText(n.Body, actions), emailHTML(n.Title, n.Body, actions),
		nullable(n.RequestID), nullable(n.DraftID), n.DedupeKey)
	return err
}

// DecisionLinkLabel names the decision link in an approver's email (R-ACT-1): the button of the HTML
// part, the "label: link" line of the text part.
const DecisionLinkLabel = "Read the campaign and approve or reject it here, no login needed"

func userName(ctx context.Context, q queryer, id string) (string, error) {
	var name string
	if err := q.QueryRow(ctx, `SELECT name FROM users WHERE id = $1`, id).Scan(&name); err != nil {
		return "", err
	}
	return name, nil
}

// Notifications lists a user's in-app notifications, newest first; only the unread ones when unreadOnly.
func (s *Store) Notifications(ctx context.Context, accountID, userID string, unreadOnly bool, limit int) ([]Notification, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+notificationColumns+` FROM notifications
		WHERE account_id = $1 AND user_id = $2 AND (NOT $3 OR read_at IS NULL) ORDER BY created_at DESC, id LIMIT $4`,
		accountID, userID, unreadOnly, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: notifications: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Notification])
	if err != nil {
		return nil, fmt.Errorf("storage: notifications: %w", err)
	}
	return out, nil
}

// MarkNotificationRead marks notification id of user userID read (once: a notification read before
// keeps its read_at) and answers it; another user's notification is ErrNotFound.
func (s *Store) MarkNotificationRead(ctx context.Context, accountID, userID, id string) (Notification, error) {
	rows, err := s.Pool.Query(ctx, `UPDATE notifications SET read_at = COALESCE(read_at, now())
		WHERE account_id = $1 AND user_id = $2 AND id = $3 RETURNING `+notificationColumns, accountID, userID, id)
	if err != nil {
		return Notification{}, fmt.Errorf("storage: mark notification read: %w", err)
	}
	n, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[Notification])
	if err != nil {
		return Notification{}, notFound("storage: mark notification read", err)
	}
	return n, nil
}

// MarkAllNotificationsRead marks every unread notification of user userID read and answers how many.
func (s *Store) MarkAllNotificationsRead(ctx context.Context, accountID, userID string) (int64, error) {
	tag, err := s.Pool.Exec(ctx, `UPDATE notifications SET read_at = now()
		WHERE account_id = $1 AND user_id = $2 AND read_at IS NULL`, accountID, userID)
	if err != nil {
		return 0, fmt.Errorf("storage: mark all notifications read: %w", err)
	}
	return tag.RowsAffected(), nil
}

// UnreadNotifications counts the unread notifications of user userID.
func (s *Store) UnreadNotifications(ctx context.Context, accountID, userID string) (int, error) {
	var n int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE user_id = $2 AND read_at IS NULL AND account_id = $1`,
		accountID, userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("storage: unread notifications: %w", err)
	}
	return n, nil
}

// Outbox lists the account's outbox emails, newest first.
func (s *Store) Outbox(ctx context.Context, accountID string, limit int) ([]OutboxEmail, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+outboxColumns+`
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

// UnsentEmails lists the outbox emails of a request or draft (by id) neither delivered nor refused for good.
func (s *Store) UnsentEmails(ctx context.Context, ownerID string) ([]OutboxEmail, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+outboxColumns+`
		FROM outbox_emails WHERE (request_id = $1 OR draft_id = $1) AND sent_at IS NULL AND failed_at IS NULL ORDER BY created_at, id`, ownerID)
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

// MarkEmailFailed records that the provider refused an outbox email for good, with its answer: the
// email is not sent again.
func (s *Store) MarkEmailFailed(ctx context.Context, id, failure string) error {
	if _, err := s.Pool.Exec(ctx, `UPDATE outbox_emails SET failed_at = now(), failure = $2
		WHERE id = $1 AND sent_at IS NULL AND failed_at IS NULL`, id, failure); err != nil {
		return fmt.Errorf("storage: mark email failed: %w", err)
	}
	return nil
}
