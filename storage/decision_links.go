package storage

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// DecisionLinkChannel is the Postgres channel announcing changes to what decision pages show (R-ACT-1):
// 'r:<request id>' for a request's status, approvers or links, 'u:<user id>' for a user's name or
// approval right (migration 00017).
const DecisionLinkChannel = "signoff_decision_links"

// decisionTokenBytes is how many random bytes a decision link's token carries (R-ACT-1: at least 32).
const decisionTokenBytes = 32

// NewDecisionToken returns a fresh decision link token (32 random bytes, URL-safe base64 without
// padding) and its SHA-256 hash, the only form stored.
func NewDecisionToken() (token string, hash []byte) {
	b := make([]byte, decisionTokenBytes)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("storage: crypto/rand: %v", err)) // never happens on Linux
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashDecisionToken(token)
}

// HashDecisionToken is the SHA-256 of a decision link token, the key it is looked up by.
func HashDecisionToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// DecisionLinkBase is the prefix of the decision links of a server whose public URL is publicURL
// (SIGNOFF_PUBLIC_URL): publicURL + "/a/", the page's route; "" (emails without a link) when no
// public URL is known.
func DecisionLinkBase(publicURL string) string {
	if publicURL == "" {
		return ""
	}
	return strings.TrimRight(publicURL, "/") + "/a/"
}

// reminderLinkSlots is how many decision tokens a reminder brings to its statement, one per reminded
// approver: more than a request can have assigned (20 chosen, plus as many escalation users).
const reminderLinkSlots = 40

// reminderTokens answers reminderLinkSlots fresh tokens and their hashes for a reminder whose emails
// carry links prefixed by linkBase; none when linkBase is "".
func reminderTokens(linkBase string) (tokens []string, hashes [][]byte) {
	if linkBase == "" {
		return []string{}, [][]byte{}
	}
	tokens, hashes = make([]string, reminderLinkSlots), make([][]byte, reminderLinkSlots)
	for i := range tokens {
		tokens[i], hashes[i] = NewDecisionToken()
	}
	return tokens, hashes
}

// newDecisionLink stores a new link for userID's assignment on request requestID (which must exist)
// and answers its token, for the email being written in the same transaction.
func newDecisionLink(ctx context.Context, q queryer, accountID, requestID, userID string) (string, error) {
	token, hash := NewDecisionToken()
	if _, err := q.Exec(ctx, `INSERT INTO decision_links (token_hash, account_id, request_id, user_id) VALUES ($1, $2, $3, $4)`,
		hash, accountID, requestID, userID); err != nil {
		return "", err
	}
	return token, nil
}

// revokeRemovedLinks revokes the links of request requestID's approvers who are not in keep: they
// were removed from it.
func revokeRemovedLinks(ctx context.Context, q queryer, requestID string, keep []string) error {
	_, err := q.Exec(ctx, `UPDATE decision_links SET revoked_at = now()
		WHERE request_id = $1 AND revoked_at IS NULL AND NOT (user_id = ANY($2::uuid[]))`, requestID, orEmpty(keep))
	return err
}

// revokeApproverLinks revokes the links of userID's assignment on request requestID: it expired.
func revokeApproverLinks(ctx context.Context, q queryer, requestID, userID string) error {
	_, err := q.Exec(ctx, `UPDATE decision_links SET revoked_at = now() WHERE request_id = $1 AND user_id = $2 AND revoked_at IS NULL`,
		requestID, userID)
	return err
}

// DecisionLink is what a decision link's token opens (R-ACT-1): the link, the approver it acts as
// (with their assignment's state), the request with its approvers and the names the page shows.
// Whether the link still works is the use case's rule, from these facts.
type DecisionLink struct {
	ID        int64
	CreatedAt time.Time
	RevokedAt *time.Time
	UsedAt    *time.Time
	// UsedCSRFHash is the SHA-256 of the form token that decided through the link; nil while unused.
	UsedCSRFHash []byte
	// Approver is the user the link acts as; AssignmentState their assignment's state on the request.
	Approver        User
	AssignmentState string
	Request         ApprovalRequest
	// CampaignCreatedBy is the creator of the request's campaign.
	CampaignCreatedBy string
	SubmitterName     string
	// DeciderName is the name of who decided the request; nil while pending or when the system did.
	DeciderName *string
}

// DecisionLink returns the link whose token hashes to hash, with its request and approver, or
// ErrNotFound. It reads whatever state the link is in: revoked, used and decided links are found.
func (s *Store) DecisionLink(ctx context.Context, hash []byte) (DecisionLink, error) {
	var l DecisionLink
	err := s.Pool.QueryRow(ctx, `SELECT l.id, l.created_at, l.revoked_at, l.used_at, l.used_csrf_hash, a.state,
		  `+userColumns+`, `+requestColumns+`, c.created_by, sbm.name, dcd.name
		FROM decision_links l
		JOIN approval_request_approvers a ON a.request_id = l.request_id AND a.user_id = l.user_id
		JOIN users u ON u.id = l.user_id
		JOIN approval_requests r ON r.id = l.request_id
		JOIN campaigns c ON c.id = r.campaign_id
		JOIN users sbm ON sbm.id = r.submitted_by
		LEFT JOIN users dcd ON dcd.id = r.decided_by
		WHERE l.token_hash = $1`, hash).
		Scan(append(append(append([]any{&l.ID, &l.CreatedAt, &l.RevokedAt, &l.UsedAt, &l.UsedCSRFHash, &l.AssignmentState},
			userScan(&l.Approver)...), requestScan(&l.Request)...), &l.CampaignCreatedBy, &l.SubmitterName, &l.DeciderName)...)
	if err != nil {
		return DecisionLink{}, notFound("storage: decision link", err)
	}
	rows, err := s.Pool.Query(ctx, approversSQL, l.Request.ID)
	if err == nil {
		l.Request.Approvers, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Approver])
	}
	if err != nil {
		return DecisionLink{}, fmt.Errorf("storage: decision link: %w", err)
	}
	return l, nil
}

// MarkDecisionLinkUsed records that a decision was made through link id with the form token whose
// hash is csrfHash; a link already marked keeps its first mark.
func (s *Store) MarkDecisionLinkUsed(ctx context.Context, id int64, csrfHash []byte) error {
	if _, err := s.Pool.Exec(ctx, `UPDATE decision_links SET used_at = now(), used_csrf_hash = $2 WHERE id = $1 AND used_at IS NULL`,
		id, csrfHash); err != nil {
		return fmt.Errorf("storage: mark decision link used: %w", err)
	}
	return nil
}
