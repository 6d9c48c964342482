package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// Role is a named permission set of an account: built-in or custom (R-AUTH-5).
type Role = storage.Role

// maxRoleNameChars bounds a role's name.
const maxRoleNameChars = 60

// Roles lists the roles of u's account, built-in first; every user may read them, as they read the
// users.
func (a *App) Roles(ctx context.Context, u User) ([]Role, error) {
	list, err := a.Store.Roles(ctx, u.AccountID)
	return list, storeErr(err)
}

// RoleInput is a custom role to create.
type RoleInput struct {
	Name string
	// Permissions is required: nil is refused, an empty list is a role that grants nothing.
	Permissions *[]string
}

// CreateRole adds a custom role to u's account (users.manage) and answers it.
func (a *App) CreateRole(ctx context.Context, u User, in RoleInput) (Role, error) {
	if err := requirePermission(u, storage.PermUsersManage); err != nil {
		return Role{}, err
	}
	name, err := roleName(in.Name)
	if err != nil {
		return Role{}, err
	}
	if in.Permissions == nil {
		return Role{}, errs.Invalid("permissions", "is required: a list of permissions (it may be empty), each one of "+permissionList())
	}
	perms, err := checkPermissions(*in.Permissions)
	if err != nil {
		return Role{}, err
	}
	r, err := a.Store.CreateRole(ctx, u.AccountID, name, perms)
	if errors.Is(err, storage.ErrConflict) {
		return Role{}, roleNameTaken(name, err)
	}
	return r, storeErr(err)
}

// UpdateRoleInput renames or re-permissions custom role ID; nil leaves one as it is.
type UpdateRoleInput struct {
	ID          string
	Name        *string
	Permissions *[]string
}

// UpdateRole renames or re-permissions a custom role of u's account (users.manage) and answers it.
// Built-in roles never change (409 role_builtin). A rename reaches every user holding the role; when
// the role loses approvals.approve, its users' assignments on pending requests expire at once, as when
// a user's own role changes (R-APPR-7).
func (a *App) UpdateRole(ctx context.Context, u User, in UpdateRoleInput) (Role, error) {
	if err := requirePermission(u, storage.PermUsersManage); err != nil {
		return Role{}, err
	}
	if in.Name == nil && in.Permissions == nil {
		return Role{}, errs.Invalid("body", "send at least one of name, permissions")
	}
	var p storage.RolePatch
	if in.Name != nil {
		name, err := roleName(*in.Name)
		if err != nil {
			return Role{}, err
		}
		p.Name = &name
	}
	if in.Permissions != nil {
		perms, err := checkPermissions(*in.Permissions)
		if err != nil {
			return Role{}, err
		}
		p.Permissions = perms
	}
	before, after, holders, err := a.Store.UpdateRole(ctx, u.AccountID, in.ID, p)
	switch {
	case errors.Is(err, storage.ErrBuiltinRole):
		return Role{}, builtinRole(err)
	case errors.Is(err, storage.ErrConflict):
		return Role{}, roleNameTaken(*p.Name, err)
	case err != nil:
		return Role{}, storeErr(err)
	}
	if before.Has(storage.PermApprovalsApprove) && !after.Has(storage.PermApprovalsApprove) {
		if err := a.expireLostAssignments(ctx, u.AccountID, holders); err != nil {
			return Role{}, err
		}
	}
	return after, nil
}

// DeleteRole deletes a custom role of u's account (users.manage). A built-in role (409 role_builtin)
// and a role users still hold, active or not (409 role_in_use), are refused: nobody ever loses a
// right by a deletion, so it never expires an assignment.
func (a *App) DeleteRole(ctx context.Context, u User, id string) error {
	if err := requirePermission(u, storage.PermUsersManage); err != nil {
		return err
	}
	err := a.Store.DeleteRole(ctx, u.AccountID, id)
	var inUse *storage.RoleInUseError
	switch {
	case errors.Is(err, storage.ErrBuiltinRole):
		return builtinRole(err)
	case errors.As(err, &inUse):
		who := "users hold"
		switch {
		case inUse.Users == 1:
			who = "1 user holds"
		case inUse.Users > 1:
			who = fmt.Sprintf("%d users hold", inUse.Users)
		}
		return errs.Wrap(errs.RoleInUse, who+" this role (deactivated users count too): move them to another role "+
			"with PATCH /v1/users/{id}, then delete it", err)
	}
	return storeErr(err)
}

// roleName trims and checks a role's name.
func roleName(v string) (string, error) {
	name := strings.TrimSpace(v)
	if err := checkText("name", name, true, maxRoleNameChars); err != nil {
		return "", err
	}
	if p := TextProblem(name, false); p != "" {
		return "", errs.Invalid("name", p)
	}
	return name, nil
}

// checkPermissions refuses unknown and repeated permissions (422 naming the entry) and answers the
// list in the canonical order of storage.AllPermissions.
func checkPermissions(perms []string) ([]string, error) {
	seen := map[string]bool{}
	for i, p := range perms {
		f := fmt.Sprintf("permissions[%d]", i)
		if !slices.Contains(storage.AllPermissions, p) {
			return nil, errs.Invalid(f, fmt.Sprintf("%q is not a permission; the permissions are %s", p, permissionList()))
		}
		if seen[p] {
			return nil, errs.Invalid(f, fmt.Sprintf("%s is listed twice", p))
		}
		seen[p] = true
	}
	out := []string{}
	for _, p := range storage.AllPermissions {
		if seen[p] {
			out = append(out, p)
		}
	}
	return out, nil
}

// permissionList names every permission, for messages.
func permissionList() string { return strings.Join(storage.AllPermissions, ", ") }

// roleNameTaken answers a role name the account already has.
func roleNameTaken(name string, err error) error {
	return errs.Wrap(errs.RoleNameTaken, fmt.Sprintf("the account already has a role named %q (names are compared without case); choose another name", name), err)
}

// builtinRole answers a change or deletion of a built-in role.
func builtinRole(err error) error {
	return errs.Wrap(errs.RoleBuiltin, "built-in roles cannot be renamed, re-permissioned or deleted; create a custom role (POST /v1/roles) with the permissions you want", err)
}
