package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

type createUserRequest struct {
	Email      string `json:"email"`
	Name       string `json:"name"`
	Role       string `json:"role"`
	CanApprove bool   `json:"can_approve"`
}

func (r createUserRequest) validate() error {
	if err := checkEmail("email", r.Email, true); err != nil {
		return err
	}
	if err := checkText("name", r.Name, true, 200); err != nil {
		return err
	}
	if err := oneOf("role", r.Role, storage.Roles...); err != nil {
		return err
	}
	return checkCanApprove(r.Role, r.CanApprove)
}

// checkCanApprove enforces R-AUTH-3: only editors are granted the right; admins and approvers hold it always.
func checkCanApprove(role string, canApprove bool) error {
	if canApprove && role != storage.RoleEditor {
		return &fieldError{"can_approve", "only editors are granted the approval right; admins and approvers always hold it, other roles never do"}
	}
	return nil
}

func (s *Server) me(c *gin.Context) {
	c.JSON(http.StatusOK, currentUser(c))
}

func (s *Server) listUsers(c *gin.Context) {
	users, err := s.Store.Users(c.Request.Context(), currentUser(c).AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, items(users))
}

// createUser answers the new user and its token, shown this once (R-AUTH-1): never cached, never
// kept for an Idempotency-Key replay.
func (s *Server) createUser(c *gin.Context) {
	if !requireRole(c, storage.RoleAdmin) {
		return
	}
	var req createUserRequest
	if !bindJSON(c, &req) {
		return
	}
	req.Email = strings.TrimSpace(req.Email)
	if err := req.validate(); respondInvalid(c, err) {
		return
	}
	token, hash := storage.NewToken()
	u, err := s.Store.CreateUser(c.Request.Context(), currentUser(c).AccountID,
		storage.NewUser{Email: req.Email, Name: strings.TrimSpace(req.Name), Role: req.Role, CanApprove: req.CanApprove}, hash)
	if errors.Is(err, storage.ErrConflict) {
		abort(c, errs.EmailTaken, "a user with this email already exists in the account")
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	answerHasSecrets(c, "token") // a keyed retry answers the user with "token": null
	c.JSON(http.StatusCreated, gin.H{"user": u, "token": token})
}

type updateUserRequest struct {
	Role       *string `json:"role"`
	CanApprove *bool   `json:"can_approve"`
	Active     *bool   `json:"active"`
}

// updateUser changes a user's role, approval grant or activity. The last active admin cannot be
// demoted or deactivated, so an account always has someone who can manage it.
func (s *Server) updateUser(c *gin.Context) {
	if !requireRole(c, storage.RoleAdmin) {
		return
	}
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req updateUserRequest
	if !bindJSON(c, &req) {
		return
	}
	if req.Role == nil && req.CanApprove == nil && req.Active == nil {
		invalid(c, "body", "send at least one of role, can_approve, active")
		return
	}
	ctx := c.Request.Context()
	acct := currentUser(c).AccountID
	cur, err := s.Store.User(ctx, acct, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	role := cur.Role
	if req.Role != nil {
		if err := oneOf("role", *req.Role, storage.Roles...); respondInvalid(c, err) {
			return
		}
		role = *req.Role
	}
	patch := storage.UserPatch{Role: req.Role, CanApprove: req.CanApprove, Active: req.Active}
	if req.CanApprove != nil {
		if err := checkCanApprove(role, *req.CanApprove); respondInvalid(c, err) {
			return
		}
	} else if role != storage.RoleEditor && cur.CanApprove {
		off := false // leaving the editor role drops the grant
		patch.CanApprove = &off
	}
	before, after, err := s.Store.UpdateUser(ctx, acct, id, patch)
	if errors.Is(err, storage.ErrLastAdmin) {
		abort(c, errs.LastAdmin, "this is the account's last active admin; make another user admin first")
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	if before.HasApprovalRight() && !after.HasApprovalRight() {
		// R-APPR-7: the user's assignments on pending requests expire at once. The requests are found
		// in the database; the worker's sweeper repeats this should the signals not go out.
		ids, err := s.Store.PendingRequestsAssignedTo(ctx, acct, id)
		if err != nil {
			s.fail(c, err)
			return
		}
		s.signalRequests(ctx, logger(c), ids, workflows.SignalApproverRevoked, workflows.ApproverRevokedSignal{UserID: id})
	}
	c.JSON(http.StatusOK, after)
}
