package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Account is a tenant. Every other row belongs to exactly one account (R-AUTH-2).
type Account struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// AccountSettings are the per-account switches of SPEC §6 and §3, and the reminders and escalation
// of R-ACT-2.
type AccountSettings struct {
	ApprovalEnabled      bool   `json:"approval_enabled"`
	AllowSelfApproval    bool   `json:"allow_self_approval"`
	OnNoApprovers        string `json:"on_no_approvers"`
	JourneyVersionPolicy string `json:"journey_version_policy"`
	// ReminderAfter is how long after submission, and then again, pending approvers are reminded; 0 is off.
	ReminderAfter time.Duration `json:"reminder_after"`
	// EscalateAfter is how long after submission a pending request is escalated; 0 is off.
	EscalateAfter time.Duration `json:"escalate_after"`
	// EscalationUserIDs are the users a request is escalated to; nil means the account's admins.
	EscalationUserIDs []string `json:"escalation_user_ids"`
	// ApprovalPolicy is the account's approval policy (R-POL-1); nil is the default, one stage of the
	// request's approvers with one approval required.
	ApprovalPolicy *ApprovalPolicy `json:"approval_policy"`
}

// settingsColumns are the columns of AccountSettings, in settingsScan's order.
const settingsColumns = `approval_enabled, allow_self_approval, on_no_approvers, journey_version_policy,
	reminder_after, escalate_after, escalation_user_ids, approval_policy`

func settingsScan(st *AccountSettings) []any {
	return []any{&st.ApprovalEnabled, &st.AllowSelfApproval, &st.OnNoApprovers, &st.JourneyVersionPolicy,
		&st.ReminderAfter, &st.EscalateAfter, &st.EscalationUserIDs, &st.ApprovalPolicy}
}

// CreateAccountWithAdmin creates an account and its first admin user holding tokenHash, in one transaction.
// It returns ErrConflict when an account of that name exists.
func (s *Store) CreateAccountWithAdmin(ctx context.Context, name, adminEmail, adminName string, tokenHash []byte) (Account, User, error) {
	var a Account
	var u User
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx,
			`INSERT INTO accounts (name) VALUES ($1) RETURNING id, name, created_at`, name).
			Scan(&a.ID, &a.Name, &a.CreatedAt)
		if isUniqueViolation(err) {
			return ErrConflict
		}
		if err != nil {
			return err
		}
		u, err = insertUser(ctx, tx, a.ID, NewUser{Email: adminEmail, Name: adminName, Role: RoleAdmin})
		if err != nil {
			return err
		}
		return insertToken(ctx, tx, a.ID, u.ID, tokenHash)
	})
	if err != nil {
		return Account{}, User{}, fmt.Errorf("storage: create account: %w", err)
	}
	return a, u, nil
}

// EnsureBootstrapAdmin makes sure account "default" exists with an admin holding tokenHash (R-AUTH-4).
// It is idempotent and safe to run from several processes at once.
func (s *Store) EnsureBootstrapAdmin(ctx context.Context, tokenHash []byte) (Account, User, error) {
	var a Account
	var u User
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// Serialise concurrent bootstraps (api and worker starting together).
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('signoff-bootstrap'))`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO accounts (name) VALUES ('default') ON CONFLICT (name) DO NOTHING`); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT id, name, created_at FROM accounts WHERE name = 'default'`).
			Scan(&a.ID, &a.Name, &a.CreatedAt); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `
			SELECT `+userColumns+` FROM users u JOIN api_tokens t ON t.user_id = u.id
			WHERE t.token_hash = $1`, tokenHash).Scan(userScan(&u)...)
		if err == nil {
			if u.AccountID != a.ID || u.Role != RoleAdmin || !u.Active {
				return fmt.Errorf("SIGNOFF_BOOTSTRAP_TOKEN belongs to a user that is not an active admin of account default")
			}
			return nil
		}
		if err != pgx.ErrNoRows {
			return err
		}
		err = tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE account_id = $1 AND lower(email) = 'admin@signoff.local'`, a.ID).
			Scan(userScan(&u)...)
		if err == pgx.ErrNoRows {
			u, err = insertUser(ctx, tx, a.ID, NewUser{Email: "admin@signoff.local", Name: "Bootstrap Admin", Role: RoleAdmin})
		}
		if err != nil {
			return err
		}
		return insertToken(ctx, tx, a.ID, u.ID, tokenHash)
	})
	if err != nil {
		return Account{}, User{}, fmt.Errorf("storage: bootstrap admin: %w", err)
	}
	return a, u, nil
}

// AccountByName returns the account called name.
func (s *Store) AccountByName(ctx context.Context, name string) (Account, error) {
	var a Account
	err := s.Pool.QueryRow(ctx, `SELECT id, name, created_at FROM accounts WHERE name = $1`, name).
		Scan(&a.ID, &a.Name, &a.CreatedAt)
	if err != nil {
		return Account{}, notFound("storage: account by name", err)
	}
	return a, nil
}

// Settings returns the settings of account accountID.
func (s *Store) Settings(ctx context.Context, accountID string) (AccountSettings, error) {
	var st AccountSettings
	err := s.Pool.QueryRow(ctx, `SELECT `+settingsColumns+` FROM accounts WHERE id = $1`, accountID).Scan(settingsScan(&st)...)
	if err != nil {
		return AccountSettings{}, notFound("storage: settings", err)
	}
	return st, nil
}

// UpdateSettings stores st for account accountID and returns what was stored.
func (s *Store) UpdateSettings(ctx context.Context, accountID string, st AccountSettings) (AccountSettings, error) {
	var out AccountSettings
	err := s.Pool.QueryRow(ctx, `
		UPDATE accounts SET approval_enabled = $2, allow_self_approval = $3, on_no_approvers = $4,
		       journey_version_policy = $5, reminder_after = $6, escalate_after = $7, escalation_user_ids = $8::uuid[],
		       approval_policy = $9, updated_at = now()
		WHERE id = $1
		RETURNING `+settingsColumns,
		accountID, st.ApprovalEnabled, st.AllowSelfApproval, st.OnNoApprovers, st.JourneyVersionPolicy,
		st.ReminderAfter, st.EscalateAfter, st.EscalationUserIDs, st.ApprovalPolicy).Scan(settingsScan(&out)...)
	if err != nil {
		return AccountSettings{}, notFound("storage: update settings", err)
	}
	return out, nil
}
