package testenv

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/signoff/signoff/storage"
)

// Roles lists the five roles in a stable order, admin first.
var Roles = []string{storage.RoleAdmin, storage.RoleEditor, storage.RoleCollaborator, storage.RoleApprover, storage.RoleCSM}

// Tenant is one account with one user, and that user's API token, per role.
type Tenant struct {
	Account storage.Account
	Users   map[string]storage.User // by role
	Tokens  map[string]string       // by role
}

// NewTenant creates, through the store, an account called name with its admin (admin@domain) and one
// user of each other role (<role>@domain), each holding an API token.
func NewTenant(t testing.TB, store *storage.Store, name, domain string) Tenant {
	t.Helper()
	tn := Tenant{Users: map[string]storage.User{}, Tokens: map[string]string{}}
	tok, hash := storage.NewToken()
	acct, admin, err := store.CreateAccountWithAdmin(context.Background(), name, "admin@"+domain, "Admin "+name, hash)
	if err != nil {
		t.Fatalf("testenv: create account %s: %v", name, err)
	}
	tn.Account = acct
	tn.Users[storage.RoleAdmin], tn.Tokens[storage.RoleAdmin] = admin, tok
	for _, role := range Roles[1:] {
		email := role + "@" + domain
		tn.Users[role], tn.Tokens[role] = NewUser(t, store, acct.ID,
			storage.NewUser{Email: email, Name: strings.ToUpper(role[:1]) + role[1:] + " " + email, Role: role})
	}
	return tn
}

// NewUser creates user nu in account accountID through the store and answers it with its API token.
func NewUser(t testing.TB, store *storage.Store, accountID string, nu storage.NewUser) (storage.User, string) {
	t.Helper()
	tok, hash := storage.NewToken()
	u, err := store.CreateUser(context.Background(), accountID, nu, hash)
	if err != nil {
		t.Fatalf("testenv: create user %s: %v", nu.Email, err)
	}
	return u, tok
}

// CampaignContent is small valid campaign content: one segment, one prompt, a one-email sequence.
func CampaignContent() storage.CampaignContent {
	return storage.CampaignContent{
		Segments: []storage.Segment{{Name: "Seg", Filters: storage.SearchFilters{Titles: []string{"CTO"}}}},
		Prompts:  []storage.Prompt{{Name: "P", Text: "Be brief."}},
		Sequences: []storage.Sequence{{Name: "Main", Steps: []storage.SequenceStep{
			{Subject: "Hi", Body: "Hello there.\n\nBye.", DelayDays: 0}}}},
	}
}

// Fixtures writes the states a test needs that neither the API nor the store produces on demand: the
// clock having moved on, a process that died half-way, rows an older version wrote. Each method says
// why it cannot go through the API. Everything else a test sets up goes through the API or the store.
type Fixtures struct {
	Pool *pgxpool.Pool
}

// exec runs one statement and requires it to change want rows (want < 0: any number).
func (f Fixtures) exec(t testing.TB, want int64, sql string, args ...any) int64 {
	t.Helper()
	tag, err := f.Pool.Exec(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("testenv fixture: %v", err)
	}
	if want >= 0 && tag.RowsAffected() != want {
		t.Fatalf("testenv fixture: changed %d rows, want %d: %s", tag.RowsAffected(), want, sql)
	}
	return tag.RowsAffected()
}

// SetCampaignStatus sets a campaign's status. Nothing in this repository writes live, ended or error
// (the schema keeps them for the journey engine that runs campaigns), and scheduled comes from a
// launch, which also records the launch: a test of a rule on the status alone sets it here.
func (f Fixtures) SetCampaignStatus(t testing.TB, campaignID, status string) {
	t.Helper()
	f.exec(t, 1, `UPDATE campaigns SET status = $2 WHERE id = $1`, campaignID, status)
}

// AgeDraft moves a draft's creation back by d, as if it had been asked for that long ago: the draft
// idempotency window is ten minutes of the clock.
func (f Fixtures) AgeDraft(t testing.TB, draftID string, d time.Duration) {
	t.Helper()
	f.exec(t, 1, `UPDATE approval_drafts SET created_at = created_at - $2::float8 * interval '1 second' WHERE id = $1`,
		draftID, d.Seconds())
}

// FailDraft marks a draft's build failed with reason, as the build workflow does (storage's
// MarkDraftFailed). Through the API a build fails only for a cause of its own (no contacts, bad
// filters), and the tests that use this need a build that never started to end.
func (f Fixtures) FailDraft(t testing.TB, draftID, reason string) {
	t.Helper()
	if _, err := storage.New(f.Pool).MarkDraftFailed(context.Background(), draftID, reason); err != nil {
		t.Fatalf("testenv fixture: fail draft: %v", err)
	}
	var status string
	if err := f.Pool.QueryRow(context.Background(), `SELECT status FROM approval_drafts WHERE id = $1`, draftID).Scan(&status); err != nil {
		t.Fatalf("testenv fixture: %v", err)
	}
	if status != storage.DraftStatusFailed {
		t.Fatalf("testenv fixture: draft %s is %s, not failed", draftID, status)
	}
}

// StuckDraft creates, through the store, a processing draft of campaignID from a CSV source, asked
// for a minute ago, whose workflow counts as started but which no workflow moves on: a build in
// flight that stays so. A draft asked for through the API is built by the test's worker.
func (f Fixtures) StuckDraft(t testing.TB, accountID, campaignID, createdBy string) string {
	t.Helper()
	ctx := context.Background()
	store := storage.New(f.Pool)
	d, _, err := store.CreateDraft(ctx, storage.NewDraft{AccountID: accountID, CampaignID: campaignID, CreatedBy: createdBy,
		Source:    json.RawMessage(`{"type":"csv","csv_upload_id":"00000000-0000-0000-0000-000000000000"}`),
		SourceKey: "csv:" + NewUUID(), ContactCount: 20}, false)
	if err != nil {
		t.Fatalf("testenv fixture: create draft: %v", err)
	}
	if err := store.MarkDraftWorkflowStarted(ctx, d.ID); err != nil {
		t.Fatalf("testenv fixture: %v", err)
	}
	f.AgeDraft(t, d.ID, time.Minute)
	return d.ID
}

// RenumberDraft adds one to a draft's number and answers the new number. A draft's number never
// changes in the product and no trigger announces it, so a renumbered draft tells an answer a cache
// kept from a fresh load (its name is "Draft <number>").
func (f Fixtures) RenumberDraft(t testing.TB, draftID string) int {
	t.Helper()
	var n int
	if err := f.Pool.QueryRow(context.Background(), `UPDATE approval_drafts SET number = number + 1 WHERE id = $1 RETURNING number`,
		draftID).Scan(&n); err != nil {
		t.Fatalf("testenv fixture: renumber draft: %v", err)
	}
	return n
}

// DraftToken gives a draft status and a share token (its hash and sealed form; failure reason
// "No contacts." when failed). A build sets a token only when the draft is ready: this is the state
// no code path leaves, for tests that check such a token still opens nothing.
func (f Fixtures) DraftToken(t testing.TB, draftID, status string, hash, sealed []byte) {
	t.Helper()
	f.exec(t, 1, `UPDATE approval_drafts SET token_hash = $2, token_sealed = $3, status = $4,
		failure_reason = CASE WHEN $4 = 'failed' THEN 'No contacts.' END WHERE id = $1`, draftID, hash, sealed, status)
}

// LegacyAudienceDescription rewrites the audience description frozen in a draft's snapshot, as
// builds of an older version wrote it (they named the saved search); today's builds never do.
func (f Fixtures) LegacyAudienceDescription(t testing.TB, draftID, description string) {
	t.Helper()
	f.exec(t, 1, `UPDATE approval_drafts SET snapshot = jsonb_set(snapshot, '{audience,description}', to_jsonb($2::text))
		WHERE id = $1`, draftID, description)
}

// UnversionDraft clears a draft's campaign_version, as drafts created before migration 00016 have it:
// the store pins a version to every draft it creates (R-VER-7).
func (f Fixtures) UnversionDraft(t testing.TB, draftID string) {
	t.Helper()
	f.exec(t, 1, `UPDATE approval_drafts SET campaign_version = NULL WHERE id = $1`, draftID)
}

// Notes stores n review notes on target of a draft, "<text> 1" to "<text> n", the i-th created at
// first + i×step. The API stamps feedback with the database's clock, so it can write neither past
// times nor one shared instant, and hundreds of notes through it would slow the suite down.
func (f Fixtures) Notes(t testing.TB, draftID, target, text string, n int, first time.Time, step time.Duration) {
	t.Helper()
	f.exec(t, int64(n), `INSERT INTO review_comments (draft_id, target, kind, comment, created_at)
		SELECT $1, $2, 'note', $3::text || ' ' || g, $4::timestamptz + g * $5::float8 * interval '1 second'
		FROM generate_series(1, $6::int) g`, draftID, target, text, first, step.Seconds(), n)
}

// Verdict stores a review verdict on target of a draft at time at (see Notes: the API cannot write
// a chosen time).
func (f Fixtures) Verdict(t testing.TB, draftID, target, verdict string, at time.Time) {
	t.Helper()
	f.exec(t, 1, `INSERT INTO review_items (draft_id, target, verdict, created_at) VALUES ($1, $2, $3, $4)`,
		draftID, target, verdict, at)
}

// AgeIdempotencyKey moves the first use of a user's Idempotency-Key back by d: keys expire after a
// day of the clock.
func (f Fixtures) AgeIdempotencyKey(t testing.TB, userID, key string, d time.Duration) {
	t.Helper()
	f.exec(t, 1, `UPDATE idempotency_keys SET created_at = created_at - $3::float8 * interval '1 second'
		WHERE user_id = $1 AND key = $2`, userID, key, d.Seconds())
}

// UnanswerIdempotencyKey makes a user's Idempotency-Key look claimed claimedAgo by a request that
// committed its work but died before it stored its answer: the state an API process killed at that
// moment leaves, which no request can be made to stop at.
func (f Fixtures) UnanswerIdempotencyKey(t testing.TB, userID, key string, claimedAgo time.Duration) {
	t.Helper()
	f.exec(t, 1, `UPDATE idempotency_keys SET status_code = NULL, response = NULL,
		created_at = now() - $3::float8 * interval '1 second' WHERE user_id = $1 AND key = $2`, userID, key, claimedAgo.Seconds())
}

// AgeUnansweredIdempotencyKeys moves every claimed but unanswered Idempotency-Key back by d (the
// lease of a killed API process running out) and answers how many it moved.
func (f Fixtures) AgeUnansweredIdempotencyKeys(t testing.TB, d time.Duration) int64 {
	t.Helper()
	return f.exec(t, -1, `UPDATE idempotency_keys SET created_at = created_at - $1::float8 * interval '1 second'
		WHERE status_code IS NULL`, d.Seconds())
}

// AgeDecision moves a decided request's decided_at back by d, as if it had been decided that long
// ago: a decision link shows the outcome for seven days of the clock after the decision (R-ACT-1).
func (f Fixtures) AgeDecision(t testing.TB, requestID string, d time.Duration) {
	t.Helper()
	f.exec(t, 1, `UPDATE approval_requests SET decided_at = decided_at - $2::float8 * interval '1 second'
		WHERE id = $1 AND decided_at IS NOT NULL`, requestID, d.Seconds())
}
