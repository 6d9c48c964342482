package storage_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// The decision links of approver emails (R-ACT-1) in storage: tokens are random, stored only as their
// SHA-256 hash, bound to one assignment (request, approver), found by the hash in every state, and
// revoked when the approver is removed or expires.

// linkIn finds the decision link of base in an email body; group 1 is the token.
func linkIn(t *testing.T, base, body string) string {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(base) + `([A-Za-z0-9_-]+)`).FindStringSubmatch(body)
	require.Len(t, m, 2, "no link %s… in the email:\n%s", base, body)
	return m[1]
}

// emailTo answers the body of the newest outbox email to email about request reqID.
func emailTo(t *testing.T, store *storage.Store, reqID, email string) string {
	t.Helper()
	var body string
	require.NoError(t, store.Pool.QueryRow(context.Background(), `SELECT body FROM outbox_emails WHERE request_id = $1 AND to_email = $2
		ORDER BY created_at DESC, id DESC LIMIT 1`, reqID, email).Scan(&body))
	return body
}

func TestDecisionTokenIs32RandomBytesLookedUpByHash(t *testing.T) {
	tok, hash := storage.NewDecisionToken()
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	require.NoError(t, err)
	require.Len(t, raw, 32)
	sum := sha256.Sum256([]byte(tok))
	require.Equal(t, sum[:], hash)
	require.Equal(t, hash, storage.HashDecisionToken(tok))
	seen := map[string]bool{tok: true}
	for range 100 {
		next, _ := storage.NewDecisionToken()
		require.False(t, seen[next], "tokens are random")
		seen[next] = true
	}
	require.Equal(t, "https://signoff.example/a/", storage.DecisionLinkBase("https://signoff.example/"))
}

func TestDecisionLinksStoredHashedAndRevoked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := storage.New(testenv.Database(t))
	tn := testenv.NewTenant(t, store, "Links", "links.test")
	collab := tn.Users[storage.RoleCollaborator]
	a, b := tn.Users[storage.RoleApprover], tn.Users[storage.RoleAdmin]
	start, end := time.Now().Add(time.Hour), time.Now().Add(2*time.Hour)
	c, err := store.CreateCampaign(ctx, tn.Account.ID, collab.ID, storage.NewCampaign{Name: "Links", Kind: storage.CampaignKindCampaign,
		Mode: storage.CampaignModeActive, StartAt: &start, EndAt: &end, Content: testenv.CampaignContent()})
	require.NoError(t, err)
	const base = "https://signoff.example/a/"
	r, err := store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: tn.Account.ID, CampaignID: c.ID,
		SubmittedBy: collab.ID, Note: "please", ApproverIDs: []string{a.ID, b.ID}, DeadlineAt: end, LaunchAt: &start, DecisionLinkBase: base})
	require.NoError(t, err)

	// Each approver's email carries a link of their own, written in the submission's transaction.
	tokA, tokB := linkIn(t, base, emailTo(t, store, r.ID, a.Email)), linkIn(t, base, emailTo(t, store, r.ID, b.Email))
	require.NotEqual(t, tokA, tokB)
	for _, tok := range []string{tokA, tokB} {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		require.NoError(t, err)
		require.Len(t, raw, 32, "a link's token is 32 random bytes")
	}
	// Only hashes are stored: no column of decision_links holds a token, and the in-app notification
	// (readable through the API) carries no link.
	var rows string
	require.NoError(t, store.Pool.QueryRow(ctx, `SELECT string_agg(row_to_json(l)::text, ' ') FROM decision_links l WHERE request_id = $1`,
		r.ID).Scan(&rows))
	require.NotContains(t, rows, tokA)
	require.NotContains(t, rows, tokB)
	var hashes [][]byte
	require.NoError(t, store.Pool.QueryRow(ctx, `SELECT array_agg(token_hash ORDER BY id) FROM decision_links WHERE request_id = $1`,
		r.ID).Scan(&hashes))
	require.ElementsMatch(t, [][]byte{storage.HashDecisionToken(tokA), storage.HashDecisionToken(tokB)}, hashes)
	var linkedNotices int
	require.NoError(t, store.Pool.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE request_id = $1 AND body LIKE '%/a/%'`,
		r.ID).Scan(&linkedNotices))
	require.Zero(t, linkedNotices, "in-app notifications carry no link")

	// Looked up by hash, bound to its request and approver.
	la, err := store.DecisionLink(ctx, storage.HashDecisionToken(tokA))
	require.NoError(t, err)
	require.Equal(t, a.ID, la.Approver.ID)
	require.Equal(t, r.ID, la.Request.ID)
	require.Equal(t, storage.RequestStatusPending, la.Request.Status)
	require.Equal(t, storage.ApproverStateAssigned, la.AssignmentState)
	require.Equal(t, collab.Name, la.SubmitterName)
	require.Equal(t, collab.ID, la.CampaignCreatedBy)
	require.Nil(t, la.RevokedAt)
	require.Nil(t, la.UsedAt)
	require.Len(t, la.Request.Approvers, 2)
	_, err = store.DecisionLink(ctx, storage.HashDecisionToken(tokA+"x"))
	require.ErrorIs(t, err, storage.ErrNotFound)
	_, err = store.DecisionLink(ctx, []byte(tokA))
	require.ErrorIs(t, err, storage.ErrNotFound, "the token itself is no key")

	// Marked used once, with the form token's hash.
	require.NoError(t, store.MarkDecisionLinkUsed(ctx, la.ID, []byte("first-form-token-hash-32-bytes!!")))
	require.NoError(t, store.MarkDecisionLinkUsed(ctx, la.ID, []byte("second-form-token-hash-32-bytes!")))
	la, err = store.DecisionLink(ctx, storage.HashDecisionToken(tokA))
	require.NoError(t, err)
	require.NotNil(t, la.UsedAt)
	require.Equal(t, []byte("first-form-token-hash-32-bytes!!"), la.UsedCSRFHash, "the first mark stays")

	// Changing the approvers revokes the removed one's links and gives the added one a link.
	d := tn.Users[storage.RoleEditor]
	_, err = store.Pool.Exec(ctx, `UPDATE users SET can_approve = true WHERE id = $1`, d.ID)
	require.NoError(t, err)
	_, err = store.ChangeApprovers(ctx, tn.Account.ID, r.ID, collab.ID, []string{a.ID, d.ID}, "", r.ID+":approvers_changed:1", nil, base)
	require.NoError(t, err)
	lb, err := store.DecisionLink(ctx, storage.HashDecisionToken(tokB))
	require.NoError(t, err, "a revoked link is still found, for the use case to refuse")
	require.NotNil(t, lb.RevokedAt)
	require.Equal(t, storage.ApproverStateRemoved, lb.AssignmentState)
	tokD := linkIn(t, base, emailTo(t, store, r.ID, d.Email))
	ld, err := store.DecisionLink(ctx, storage.HashDecisionToken(tokD))
	require.NoError(t, err)
	require.Equal(t, d.ID, ld.Approver.ID)
	require.Nil(t, ld.RevokedAt)
	la, err = store.DecisionLink(ctx, storage.HashDecisionToken(tokA))
	require.NoError(t, err)
	require.Nil(t, la.RevokedAt, "a kept approver's link stays")

	// An assignment that expires revokes its links.
	_, err = store.ExpireApprover(ctx, tn.Account.ID, r.ID, d.ID)
	require.NoError(t, err)
	ld, err = store.DecisionLink(ctx, storage.HashDecisionToken(tokD))
	require.NoError(t, err)
	require.NotNil(t, ld.RevokedAt)
	require.Equal(t, storage.ApproverStateExpired, ld.AssignmentState)

	// A decision shows on the link: who decided and when.
	_, err = store.Decide(ctx, tn.Account.ID, storage.Decision{RequestID: r.ID, Type: storage.EventApproved, ActorID: &a.ID, Note: "ok"})
	require.NoError(t, err)
	la, err = store.DecisionLink(ctx, storage.HashDecisionToken(tokA))
	require.NoError(t, err)
	require.Equal(t, storage.RequestStatusApproved, la.Request.Status)
	require.NotNil(t, la.Request.DecidedAt)
	require.NotNil(t, la.DeciderName)
	require.Equal(t, a.Name, *la.DeciderName)

	// Without a base, emails carry no link and no link is stored.
	c2, err := store.CreateCampaign(ctx, tn.Account.ID, collab.ID, storage.NewCampaign{Name: "No links", Kind: storage.CampaignKindCampaign,
		Mode: storage.CampaignModeActive, StartAt: &start, EndAt: &end, Content: testenv.CampaignContent()})
	require.NoError(t, err)
	r2, err := store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: testenv.NewUUID(), AccountID: tn.Account.ID, CampaignID: c2.ID,
		SubmittedBy: collab.ID, ApproverIDs: []string{a.ID}, DeadlineAt: end, LaunchAt: &start})
	require.NoError(t, err)
	require.NotContains(t, emailTo(t, store, r2.ID, a.Email), "/a/")
	var n int
	require.NoError(t, store.Pool.QueryRow(ctx, `SELECT count(*) FROM decision_links WHERE request_id = $1`, r2.ID).Scan(&n))
	require.Zero(t, n)
}
