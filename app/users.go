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

// CreateUser adds a user to u's account (admins only) with a fresh token.
func (a *App) CreateUser(ctx context.Context, u User, in CreateUserInput) (NewUser, error) {
	if err := requireRole(u, storage.RoleAdmin); err != nil {
		return NewUser{}, err
	}
	in.Email = strings.TrimSpace(in.Email)
	if err := checkEmail("email", in.Email, true); err != nil {
		return NewUser{}, err
	}
	if err := checkText("name", in.Name, true, 200); err != nil {
		return NewUser{}, err
	}
	if err := oneOf("role", in.Role, storage.Roles...); err != nil {
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
	if err != nil {
		return NewUser{}, storeErr(err)
	}
	return NewUser{User: created, Token: token}, nil
}

// checkCanApprove enforces R-AUTH-3: only editors are granted the right; admins and approvers hold it
// always.
func checkCanApprove(role string, canApprove bool) error {
	if canApprove && role != storage.RoleEditor {
		return errs.Invalid("can_approve", "only editors are granted the approval right; admins and approvers always hold it, other roles never do")
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

// UpdateUser changes a user of u's account (admins only) and answers it. The last active admin cannot
// be demoted or deactivated, so an account always has someone who can manage it; leaving the editor
// role drops the approval grant; a user who loses the approval right has their assignments on pending
// requests expire at once (R-APPR-7).
func (a *App) UpdateUser(ctx context.Context, u User, in UpdateUserInput) (User, error) {
	if err := requireRole(u, storage.RoleAdmin); err != nil {
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
		if err := oneOf("role", *in.Role, storage.Roles...); err != nil {
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
	if err != nil {
		return User{}, storeErr(err)
	}
	if before.HasApprovalRight() && !after.HasApprovalRight() {
		// The requests are found in the database; the worker's sweeper repeats this should the
		// signals not go out.
		ids, err := a.Store.PendingRequestsAssignedTo(ctx, u.AccountID, in.ID)
		if err != nil {
			return User{}, storeErr(err)
		}
		a.signalRequests(ctx, ids, workflows.SignalApproverRevoked, workflows.ApproverRevokedSignal{UserID: in.ID})
	}
	return after, nil
}
