package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The permissions of R-AUTH-5: what a role lets its users do. docs/roles.md says what each one
// opens and why each built-in role has it.
const (
	PermCampaignsCreate  = "campaigns.create"
	PermCampaignsEditAny = "campaigns.edit_any"
	PermCampaignsLaunch  = "campaigns.launch"
	PermDraftsBuild      = "drafts.build"
	PermApprovalsApprove = "approvals.approve"
	PermUsersManage      = "users.manage"
	PermSettingsManage   = "settings.manage"
)

// AllPermissions lists every permission in its canonical order, the order roles store them in.
var AllPermissions = []string{PermCampaignsCreate, PermCampaignsEditAny, PermCampaignsLaunch, PermDraftsBuild,
	PermApprovalsApprove, PermUsersManage, PermSettingsManage}

// Role is a named permission set of an account: one of the five built-in roles, which never change,
// or a custom role its admins define (R-AUTH-5).
type Role struct {
	ID          string    `json:"id"`
	AccountID   string    `json:"account_id"`
	Name        string    `json:"name"`
	Builtin     bool      `json:"builtin"`
	Permissions []string  `json:"permissions"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Has reports whether the role grants permission p.
func (r Role) Has(p string) bool { return slices.Contains(r.Permissions, p) }

// RolePatch holds the changes of PATCH /v1/roles/{id}; nil means unchanged.
type RolePatch struct {
	Name        *string
	Permissions []string
}

// ErrBuiltinRole is returned when a change or a deletion targets a built-in role.
var ErrBuiltinRole = errors.New("built-in role")

// ErrNoSuchRole is returned when a user is given a role their account does not have.
var ErrNoSuchRole = errors.New("no such role")

// RoleInUseError is returned when a role that users hold is deleted; Users counts them (0 when a
// user was given the role while it was being deleted).
type RoleInUseError struct {
	Users int
}

// Error says how many users hold the role.
func (e *RoleInUseError) Error() string { return fmt.Sprintf("role held by %d users", e.Users) }

// isRoleMissing reports whether err is the violation of users.role's reference to roles: a user given
// a role the account does not have (or that was deleted meanwhile).
func isRoleMissing(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503" && pgErr.ConstraintName == "users_role_fkey"
}

const roleColumns = `ro.id, ro.account_id, ro.name, ro.builtin, ro.permissions, ro.created_at, ro.updated_at`

func roleScan(r *Role) []any {
	return []any{&r.ID, &r.AccountID, &r.Name, &r.Builtin, &r.Permissions, &r.CreatedAt, &r.UpdatedAt}
}

// Roles lists the roles of account accountID: the built-in ones first, in the order of Roles, then
// the custom ones by name.
func (s *Store) Roles(ctx context.Context, accountID string) ([]Role, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+roleColumns+` FROM roles ro WHERE ro.account_id = $1
		ORDER BY NOT ro.builtin, array_position($2::text[], ro.name), lower(ro.name), ro.id`, accountID, Roles)
	if err != nil {
		return nil, fmt.Errorf("storage: roles: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Role, error) {
		var ro Role
		return ro, r.Scan(roleScan(&ro)...)
	})
	if err != nil {
		return nil, fmt.Errorf("storage: roles: %w", err)
	}
	return out, nil
}

// Role returns role id of account accountID.
func (s *Store) Role(ctx context.Context, accountID, id string) (Role, error) {
	var r Role
	err := s.Pool.QueryRow(ctx, `SELECT `+roleColumns+` FROM roles ro WHERE ro.account_id = $1 AND ro.id = $2`,
		accountID, id).Scan(roleScan(&r)...)
	if err != nil {
		return Role{}, notFound("storage: role", err)
	}
	return r, nil
}

// RoleByName returns the role called name (exactly) of account accountID.
func (s *Store) RoleByName(ctx context.Context, accountID, name string) (Role, error) {
	var r Role
	err := s.Pool.QueryRow(ctx, `SELECT `+roleColumns+` FROM roles ro WHERE ro.account_id = $1 AND ro.name = $2`,
		accountID, name).Scan(roleScan(&r)...)
	if err != nil {
		return Role{}, notFound("storage: role by name", err)
	}
	return r, nil
}

// CreateRole adds a custom role to account accountID; ErrConflict when the account has a role of that
// name in any case.
func (s *Store) CreateRole(ctx context.Context, accountID, name string, permissions []string) (Role, error) {
	var r Role
	err := s.Pool.QueryRow(ctx, `INSERT INTO roles AS ro (account_id, name, permissions) VALUES ($1, $2, $3)
		RETURNING `+roleColumns, accountID, name, permissions).Scan(roleScan(&r)...)
	if isUniqueViolation(err) {
		return Role{}, fmt.Errorf("storage: create role: %w", ErrConflict)
	}
	if err != nil {
		return Role{}, fmt.Errorf("storage: create role: %w", err)
	}
	return r, nil
}

// UpdateRole renames or re-permissions custom role id of account accountID and answers it before and
// after, with the ids of the users who hold it. A rename reaches its users through users.role's ON
// UPDATE CASCADE. It returns ErrBuiltinRole for a built-in role and ErrConflict for a name taken.
func (s *Store) UpdateRole(ctx context.Context, accountID, id string, p RolePatch) (before, after Role, holders []string, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockUsers(ctx, tx, accountID); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT `+roleColumns+` FROM roles ro WHERE ro.account_id = $1 AND ro.id = $2 FOR UPDATE`,
			accountID, id).Scan(roleScan(&before)...); err != nil {
			return err
		}
		if before.Builtin {
			return ErrBuiltinRole
		}
		if err := tx.QueryRow(ctx, `UPDATE roles AS ro SET name = COALESCE($3, name), permissions = COALESCE($4, permissions),
			updated_at = now() WHERE ro.account_id = $1 AND ro.id = $2 AND NOT ro.builtin RETURNING `+roleColumns,
			accountID, id, p.Name, p.Permissions).Scan(roleScan(&after)...); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT u.id FROM users u WHERE u.account_id = $1 AND u.role = $2 ORDER BY u.id`, accountID, after.Name)
		if err != nil {
			return err
		}
		holders, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	switch {
	case isUniqueViolation(err):
		return Role{}, Role{}, nil, fmt.Errorf("storage: update role: %w", ErrConflict)
	case errors.Is(err, ErrBuiltinRole):
		return Role{}, Role{}, nil, fmt.Errorf("storage: update role: %w", err)
	case err != nil:
		return Role{}, Role{}, nil, notFound("storage: update role", err)
	}
	return before, after, holders, nil
}

// DeleteRole deletes custom role id of account accountID. It returns ErrBuiltinRole for a built-in
// role and a *RoleInUseError while users (active or not) hold it; users.role's reference to the role
// refuses the deletion too, should a user be moved into it meanwhile.
func (s *Store) DeleteRole(ctx context.Context, accountID, id string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockUsers(ctx, tx, accountID); err != nil {
			return err
		}
		var r Role
		if err := tx.QueryRow(ctx, `SELECT `+roleColumns+` FROM roles ro WHERE ro.account_id = $1 AND ro.id = $2 FOR UPDATE`,
			accountID, id).Scan(roleScan(&r)...); err != nil {
			return err
		}
		if r.Builtin {
			return ErrBuiltinRole
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE account_id = $1 AND role = $2`, accountID, r.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return &RoleInUseError{Users: n}
		}
		_, err := tx.Exec(ctx, `DELETE FROM roles WHERE account_id = $1 AND id = $2 AND NOT builtin`, accountID, id)
		return err
	})
	if isRoleMissing(err) {
		err = &RoleInUseError{} // a user was given the role while it was being deleted
	}
	var inUse *RoleInUseError
	switch {
	case errors.Is(err, ErrBuiltinRole), errors.As(err, &inUse):
		return fmt.Errorf("storage: delete role: %w", err)
	case err != nil:
		return notFound("storage: delete role", err)
	}
	return nil
}
