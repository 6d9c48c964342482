package app

import (
	"context"
	"errors"
	"strings"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

// Users lists the users of u's account by email; every user may read them.
func (a *App) Users(ctx context.Context, u User) ([]User, error) {
	users, err := a.Store.Users(ctx, u.AccountID)
	return users, storeErr(err)
}

// CreateUserInput is a user to add to the acting admin's account.
type CreateUserInput struct {
	Email      string
	Name       string
	Role       string
	CanApprove bool
}

// NewUser is a created user and its token, which is shown this once (R-AUTH-1).
type NewUser struct {
	User  User
	Token string
}

// CreateUser adds a user to u's account (users.manage) with a fresh token; the role is any role of the
// account, built-in or custom.
func (a *App) CreateUser(ctx context.Context, u User, in CreateUserInput) (NewUser, error) {
	if err := requirePermission(u, storage.PermUsersManage); err != nil {
		return NewUser{}, err
	}
	in.Email = strings.TrimSpace(in.Email)
	if err := checkEmail("email", in.Email, true); err != nil {
		return NewUser{}, err
	}
	if err := checkText("name", in.Name, true, 200); err != nil {
		return NewUser{}, err
	}
	if err := a.checkRole(ctx, u.AccountID, in.Role); err != nil {
		return NewUser{}, err
	}
	if err := checkCanApprove(in.Role, in.CanApprove); err != nil {
		return NewUser{}, err
	}
	token, hash := storage.NewToken()
	created, err := a.Store.CreateUser(ctx, u.AccountID,
		storage.NewUser{Email: in.Email, Name: strings.TrimSpace(in.Name), Role: in.Role, CanApprove: in.CanApprove}, hash)
	if errors.Is(err, storage.ErrConflict) {
		return NewUser{}, errs.Wrap(errs.EmailTaken, "a user with this email already exists in the account", err)
	}
	if errors.Is(err, storage.ErrNoSuchRole) {
		return NewUser{}, unknownRole(err) // the role was deleted since checkRole
	}
	if err != nil {
		return NewUser{}, storeErr(err)
	}
	return NewUser{User: created, Token: token}, nil
}

// checkRole refuses (422) a role name that is not one of the roles of account accountID, built-in or
// custom (R-AUTH-5).
func (a *App) checkRole(ctx context.Context, accountID, name string) error {
	if _, err := a.Store.RoleByName(ctx, accountID, name); errors.Is(err, storage.ErrNotFound) {
		return unknownRole(err)
	} else if err != nil {
		return storeErr(err)
	}
	return nil
}

// unknownRole answers a role name the account does not have.
func unknownRole(err error) error {
	return &errs.Error{Code: errs.Validation, Field: "role", Err: err,
		Message: "role: no such role in this account; GET /v1/roles lists the built-in and custom roles"}
}

// checkCanApprove enforces R-AUTH-3: the approval grant is for editors only. The other built-in roles
// hold approvals.approve through their permission set or never, and a custom role holds it when its
// permissions list it. It validates a grant and authorizes nothing.
func checkCanApprove(role string, canApprove bool) error {
	if canApprove && role != storage.RoleEditor {
		return errs.Invalid("can_approve", "only editors are granted the approval right; admins and approvers always hold it, "+
			"custom roles when their permissions list approvals.approve, other roles never do")
	}
	return nil
}

// UpdateUserInput changes user ID's role, approval grant or activity; nil leaves one as it is.
type UpdateUserInput struct {
	ID         string
	Role       *string
	CanApprove *bool
	Active     *bool
}

// UpdateUser changes a user of u's account (users.manage) and answers it. The last active admin cannot
// be demoted or deactivated, so an account always has someone who can manage it; leaving the editor
// role drops the approval grant; a user who loses the approval right has their assignments on pending
// requests expire at once (R-APPR-7).
func (a *App) UpdateUser(ctx context.Context, u User, in UpdateUserInput) (User, error) {
	if err := requirePermission(u, storage.PermUsersManage); err != nil {
		return User{}, err
	}
	if in.Role == nil && in.CanApprove == nil && in.Active == nil {
		return User{}, errs.Invalid("body", "send at least one of role, can_approve, active")
	}
	cur, err := a.Store.User(ctx, u.AccountID, in.ID)
	if err != nil {
		return User{}, storeErr(err)
	}
	role := cur.Role
	if in.Role != nil {
		if err := a.checkRole(ctx, u.AccountID, *in.Role); err != nil {
			return User{}, err
		}
		role = *in.Role
	}
	patch := storage.UserPatch{Role: in.Role, CanApprove: in.CanApprove, Active: in.Active}
	if in.CanApprove != nil {
		if err := checkCanApprove(role, *in.CanApprove); err != nil {
			return User{}, err
		}
	} else if role != storage.RoleEditor && cur.CanApprove {
		off := false
		patch.CanApprove = &off
	}
	before, after, err := a.Store.UpdateUser(ctx, u.AccountID, in.ID, patch)
	if errors.Is(err, storage.ErrLastAdmin) {
		return User{}, errs.Wrap(errs.LastAdmin, "this is the account's last active admin; make another user admin first", err)
	}
	if errors.Is(err, storage.ErrNoSuchRole) {
		return User{}, unknownRole(err) // the role was deleted since checkRole
	}
	if err != nil {
		return User{}, storeErr(err)
	}
	if before.Can(storage.PermApprovalsApprove) && !after.Can(storage.PermApprovalsApprove) {
		if err := a.expireLostAssignments(ctx, u.AccountID, []string{in.ID}); err != nil {
			return User{}, err
		}
	}
	return after, nil
}

// expireLostAssignments expires at once the assignments on pending requests of those of users who no
// longer hold the approval right (R-APPR-7, R-AUTH-5): the approver-revoked Signal to each request's
// workflow, which records the expiry and applies on_no_approvers. The assignments are found in the
// database by the SQL twin of User.Can; the worker's sweeper repeats this should a signal not go out.
func (a *App) expireLostAssignments(ctx context.Context, accountID string, users []string) error {
	lost, err := a.Store.LostAssignments(ctx, accountID, users)
	if err != nil {
		return storeErr(err)
	}
	for _, l := range lost {
		a.signalRequests(ctx, []string{l.RequestID}, workflows.SignalApproverRevoked, workflows.ApproverRevokedSignal{UserID: l.UserID})
	}
	return nil
}
