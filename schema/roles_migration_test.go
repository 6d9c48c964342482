package schema_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/demodata"
	"github.com/signoff/signoff/schema"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// beforeRoles is the schema of the release before roles became permission sets (migration 00019).
const beforeRoles = 14

// builtinPermissions are the built-in roles' permission sets of docs/roles.md.
var builtinPermissions = map[string][]string{
	"admin": {"campaigns.create", "campaigns.edit_any", "campaigns.launch", "drafts.build", "approvals.approve",
		"users.manage", "settings.manage"},
	"editor":       {"campaigns.create", "campaigns.edit_any"},
	"collaborator": {"campaigns.create"},
	"approver":     {"campaigns.create", "approvals.approve"},
	"csm":          {"campaigns.create", "campaigns.edit_any", "drafts.build"},
}

// TestRolesMigrationCarriesUsersOver fills a database at the schema before 00019 with two accounts
// and users of every role (an editor with the approval grant and one without, a collaborator with a
// grant that gave nothing, a deactivated approver), assigned to a pending request, migrates it, and
// checks the carry-over: every account has the five built-in roles as their permission sets, every
// user keeps their role, and everyone's approval right, in Go (User.Can) and in SQL (the query that
// finds lost assignments), is what R-AUTH-3 gave them before. An account created afterwards gets the
// built-in roles too, and a user cannot hold a role the account does not have.
func TestRolesMigrationCarriesUsersOver(t *testing.T) {
	ctx := context.Background()
	pool := testenv.EmptyDatabase(t)
	v, err := schema.MigrateTo(ctx, pool, beforeRoles)
	require.NoError(t, err)
	require.EqualValues(t, beforeRoles, v)

	type oldUser struct {
		role       string
		canApprove bool
		active     bool
		right      bool // the approval right R-AUTH-3 gave before the migration
	}
	olds := []oldUser{
		{"admin", false, true, true},
		{"editor", true, true, true},
		{"editor", false, true, false},
		{"collaborator", true, true, false}, // a grant on another role than editor counted for nothing
		{"collaborator", false, true, false},
		{"approver", false, true, true},
		{"approver", false, false, false},
		{"csm", false, true, false},
	}
	o := oldRelease{t: t, pool: pool}
	accts := []string{uuid.NewString(), uuid.NewString()}
	users := map[string]oldUser{}
	accountA := []string{}
	for i, acct := range accts {
		o.exec(`INSERT INTO accounts (id, name) VALUES ($1, $2)`, acct, []string{"Old A", "Old B"}[i])
		for _, u := range olds {
			id := uuid.NewString()
			o.exec(`INSERT INTO users (id, account_id, email, name, role, can_approve, active) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				id, acct, uuid.NewString()+"@old.test", "Old "+u.role, u.role, u.canApprove, u.active)
			users[id] = u
			if i == 0 {
				accountA = append(accountA, id)
			}
		}
	}
	var before []string
	rows, err := pool.Query(ctx, `SELECT id::text || role FROM users ORDER BY id`)
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		before = append(before, s)
	}
	require.NoError(t, rows.Err())

	_, err = schema.Migrate(ctx, pool)
	require.NoError(t, err)
	store := storage.New(pool)

	for _, acct := range accts {
		roles, err := store.Roles(ctx, acct)
		require.NoError(t, err)
		got := map[string][]string{}
		for _, r := range roles {
			require.True(t, r.Builtin, "role %s", r.Name)
			got[r.Name] = r.Permissions
		}
		require.Equal(t, builtinPermissions, got, "account %s", acct)
	}
	var after []string
	rows, err = pool.Query(ctx, `SELECT id::text || role FROM users ORDER BY id`)
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		after = append(after, s)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, before, after, "every user keeps their role")

	var wantLost []string
	for id, old := range users {
		var acct string
		require.NoError(t, pool.QueryRow(ctx, `SELECT account_id FROM users WHERE id = $1`, id).Scan(&acct))
		u, err := store.User(ctx, acct, id)
		require.NoError(t, err)
		require.Equalf(t, old.right, u.HasApprovalRight(), "user %s (%+v): the approval right", id, old)
		require.Equal(t, old.role, u.Role)
		require.Equal(t, old.right && old.role == "editor", u.CanApprove, "only an editor's grant is kept")
		if acct == accts[0] && !old.right {
			wantLost = append(wantLost, id)
		}
	}
	// Every user of account A assigned to one pending request (the store checks no right): the
	// assignments of those without the right are the lost ones.
	nc := demodata.Campaigns(time.Now())[0]
	camp, err := store.CreateCampaign(ctx, accts[0], accountA[0], nc)
	require.NoError(t, err)
	request := uuid.NewString()
	_, err = store.CreateApprovalRequest(ctx, storage.NewApprovalRequest{ID: request, AccountID: accts[0], CampaignID: camp.ID,
		SubmittedBy: accountA[0], ApproverIDs: accountA, DeadlineAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	lost, err := store.LostAssignments(ctx, accts[0], accountA)
	require.NoError(t, err)
	var gotLost []string
	for _, l := range lost {
		require.Equal(t, request, l.RequestID)
		gotLost = append(gotLost, l.UserID)
	}
	slices.Sort(wantLost)
	slices.Sort(gotLost)
	require.Equal(t, wantLost, gotLost, "the SQL approval right agrees with User.Can")

	// An account created after the migration, by any path, has the built-in roles.
	fresh := uuid.NewString()
	o.exec(`INSERT INTO accounts (id, name) VALUES ($1, 'New Co')`, fresh)
	roles, err := store.Roles(ctx, fresh)
	require.NoError(t, err)
	require.Len(t, roles, 5)
	var names []string
	for _, r := range roles {
		names = append(names, r.Name)
	}
	require.Equal(t, storage.Roles, names, "built-in roles, in their order")
	// A user's role is one of the account's roles.
	_, err = pool.Exec(ctx, `INSERT INTO users (account_id, email, name, role) VALUES ($1, 'x@new.test', 'X', 'owner')`, fresh)
	require.ErrorContains(t, err, "users_role_fkey")
}
