package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// The names of the five built-in roles (R-AUTH-3); their permission sets are rows of the roles table
// (migration 00019, docs/roles.md).
const (
	RoleAdmin        = "admin"
	RoleEditor       = "editor"
	RoleCollaborator = "collaborator"
	RoleApprover     = "approver"
	RoleCSM          = "csm"
)

// Roles lists the built-in roles.
var Roles = []string{RoleAdmin, RoleEditor, RoleCollaborator, RoleApprover, RoleCSM}

// User is a person in an account.
type User struct {
	ID         string    `json:"id"`
	AccountID  string    `json:"account_id"`
	Email      string    `json:"email"`
	Name       string    `json:"name"`
	Role       string    `json:"role"` // the name of the user's role, built-in or custom
	CanApprove bool      `json:"can_approve"`
	Active     bool      `json:"active"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// RolePermissions are the permissions of the user's role as the row was read; Can adds the
	// approval grant.
	RolePermissions []string `json:"role_permissions"`
}

// Can is the one authorization check (R-AUTH-5): whether u holds permission p, through its role or,
// for approvals.approve, the can_approve grant (which the API gives editors only, R-AUTH-3). An
// inactive user holds nothing. hasRightSQL is its SQL twin for approvals.approve.
func (u User) Can(p string) bool {
	if !u.Active {
		return false
	}
	return slices.Contains(u.RolePermissions, p) || (p == PermApprovalsApprove && u.CanApprove)
}

// HasApprovalRight reports the approval right: Can(approvals.approve).
func (u User) HasApprovalRight() bool { return u.Can(PermApprovalsApprove) }

// Permissions lists what u may do, in the canonical order of AllPermissions.
func (u User) Permissions() []string {
	out := []string{}
	for _, p := range AllPermissions {
		if u.Can(p) {
			out = append(out, p)
		}
	}
	return out
}

// NewUser holds the fields of a user to create.
type NewUser struct {
	Email      string
	Name       string
	Role       string
	CanApprove bool
}

// UserPatch holds the optional changes of PATCH /v1/users/{id}; nil means unchanged.
type UserPatch struct {
	Role       *string
	CanApprove *bool
	Active     *bool
}

// userColumns are a users row aliased u, with the permissions of its role.
const userColumns = `u.id, u.account_id, u.email, u.name, u.role, u.can_approve, u.active, u.created_at, u.updated_at,
	COALESCE((SELECT ro.permissions FROM roles ro WHERE ro.account_id = u.account_id AND ro.name = u.role), '{}')`

func userScan(u *User) []any {
	return []any{&u.ID, &u.AccountID, &u.Email, &u.Name, &u.Role, &u.CanApprove, &u.Active, &u.CreatedAt, &u.UpdatedAt,
		&u.RolePermissions}
}

func insertUser(ctx context.Context, q queryer, accountID string, nu NewUser) (User, error) {
	var u User
	err := q.QueryRow(ctx, `
		INSERT INTO users AS u (account_id, email, name, role, can_approve)
		VALUES ($1, $2, $3, $4, $5)
		RETURNING `+userColumns, accountID, nu.Email, nu.Name, nu.Role, nu.CanApprove).Scan(userScan(&u)...)
	if isUniqueViolation(err) {
		return User{}, ErrConflict
	}
	if isRoleMissing(err) {
		return User{}, ErrNoSuchRole
	}
	return u, err
}

// CreateUser creates a user in accountID with a token whose hash is tokenHash.
// It returns ErrConflict when the email is taken in that account, ErrNoSuchRole when the account has
// no role of that name.
func (s *Store) CreateUser(ctx context.Context, accountID string, nu NewUser, tokenHash []byte) (User, error) {
	var u User
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if u, err = insertUser(ctx, tx, accountID, nu); err != nil {
			return err
		}
		return insertToken(ctx, tx, accountID, u.ID, tokenHash)
	})
	if err != nil {
		return User{}, fmt.Errorf("storage: create user: %w", err)
	}
	return u, nil
}

// User returns user id of account accountID.
func (s *Store) User(ctx context.Context, accountID, id string) (User, error) {
	var u User
	err := s.Pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE u.account_id = $1 AND u.id = $2`,
		accountID, id).Scan(userScan(&u)...)
	if err != nil {
		return User{}, notFound("storage: user", err)
	}
	return u, nil
}

// UserByEmail returns the user with email in account accountID.
func (s *Store) UserByEmail(ctx context.Context, accountID, email string) (User, error) {
	var u User
	err := s.Pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE u.account_id = $1 AND lower(u.email) = lower($2)`,
		accountID, email).Scan(userScan(&u)...)
	if err != nil {
		return User{}, notFound("storage: user by email", err)
	}
	return u, nil
}

// Users lists the users of account accountID by email.
func (s *Store) Users(ctx context.Context, accountID string) ([]User, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+userColumns+` FROM users u WHERE u.account_id = $1 ORDER BY lower(u.email)`, accountID)
	if err != nil {
		return nil, fmt.Errorf("storage: users: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) {
		var u User
		return u, r.Scan(userScan(&u)...)
	})
	if err != nil {
		return nil, fmt.Errorf("storage: users: %w", err)
	}
	return out, nil
}

// ErrLastAdmin is returned when a change would leave an account without an active admin.
var ErrLastAdmin = errors.New("last active admin")

// UpdateUser applies p to user id of account accountID and returns the user before and after.
// Changes to one account's users and roles are serialised (lockUsers), so two admins demoting each
// other at once cannot leave the account without an active admin (ErrLastAdmin), and a user moved
// into a role while that role loses a permission is seen by one change or the other. A role the
// account does not have is ErrNoSuchRole.
func (s *Store) UpdateUser(ctx context.Context, accountID, id string, p UserPatch) (before, after User, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockUsers(ctx, tx, accountID); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE u.account_id = $1 AND u.id = $2 FOR UPDATE`,
			accountID, id).Scan(userScan(&before)...); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `
			UPDATE users AS u SET role = COALESCE($3, role), can_approve = COALESCE($4, can_approve),
			       active = COALESCE($5, active), updated_at = now()
			WHERE u.account_id = $1 AND u.id = $2
			RETURNING `+userColumns, accountID, id, p.Role, p.CanApprove, p.Active).Scan(userScan(&after)...); err != nil {
			return err
		}
		// The account keeps an active holder of the built-in admin role, which holds every permission
		// and cannot be edited: an account invariant, not an authorization check.
		if before.Role == RoleAdmin && before.Active && (after.Role != RoleAdmin || !after.Active) {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE account_id = $1 AND role = 'admin' AND active`, accountID).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return ErrLastAdmin
			}
		}
		return nil
	})
	if isRoleMissing(err) {
		err = ErrNoSuchRole
	}
	if errors.Is(err, ErrLastAdmin) || errors.Is(err, ErrNoSuchRole) {
		return User{}, User{}, fmt.Errorf("storage: update user: %w", err)
	}
	if err != nil {
		return User{}, User{}, notFound("storage: update user", err)
	}
	return before, after, nil
}

// lockUsers serialises the changes to account accountID's users and roles until tx ends.
func lockUsers(ctx context.Context, tx pgx.Tx, accountID string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('signoff-users:' || $1))`, accountID)
	return err
}

// CountActiveAdmins counts the active admins of account accountID.
func (s *Store) CountActiveAdmins(ctx context.Context, accountID string) (int, error) {
	var n int
	err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE account_id = $1 AND role = 'admin' AND active`, accountID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("storage: count admins: %w", err)
	}
	return n, nil
}
