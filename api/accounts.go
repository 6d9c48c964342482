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

type createAccountRequest struct {
	Name       string `json:"name"`
	AdminEmail string `json:"admin_email"`
}

// createAccount provisions a tenant with its first admin (R-AUTH-4, operator token only); the admin's
// token is shown this once and never cached.
func (s *Server) createAccount(c *gin.Context) {
	var req createAccountRequest
	if !bindJSON(c, &req) {
		return
	}
	req.Name = strings.TrimSpace(req.Name)
	req.AdminEmail = strings.TrimSpace(req.AdminEmail)
	err := checkText("name", req.Name, true, 100)
	if err == nil {
		err = checkEmail("admin_email", req.AdminEmail, true)
	}
	if respondInvalid(c, err) {
		return
	}
	token, hash := storage.NewToken()
	acct, admin, err := s.Store.CreateAccountWithAdmin(c.Request.Context(), req.Name, req.AdminEmail, "Admin", hash)
	if errors.Is(err, storage.ErrConflict) {
		abort(c, errs.AccountExists, "an account with this name already exists")
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	answerHasSecrets(c, "token")
	c.JSON(http.StatusCreated, gin.H{"account": acct, "admin": admin, "token": token})
}

func (s *Server) getSettings(c *gin.Context) {
	st, err := s.Store.Settings(c.Request.Context(), currentUser(c).AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, st)
}

type settingsPatch struct {
	ApprovalEnabled      *bool   `json:"approval_enabled"`
	AllowSelfApproval    *bool   `json:"allow_self_approval"`
	OnNoApprovers        *string `json:"on_no_approvers"`
	JourneyVersionPolicy *string `json:"journey_version_policy"`
}

// updateSettings changes the account settings (admins only) and answers all of them.
func (s *Server) updateSettings(c *gin.Context) {
	if !requireRole(c, storage.RoleAdmin) {
		return
	}
	var req settingsPatch
	if !bindJSON(c, &req) {
		return
	}
	if req.OnNoApprovers != nil {
		if err := oneOf("on_no_approvers", *req.OnNoApprovers, "expire", "hold"); respondInvalid(c, err) {
			return
		}
	}
	if req.JourneyVersionPolicy != nil {
		if err := oneOf("journey_version_policy", *req.JourneyVersionPolicy, "keep_live", "passive"); respondInvalid(c, err) {
			return
		}
	}
	ctx := c.Request.Context()
	acct := currentUser(c).AccountID
	st, err := s.Store.Settings(ctx, acct)
	if err != nil {
		s.fail(c, err)
		return
	}
	if req.AllowSelfApproval != nil {
		st.AllowSelfApproval = *req.AllowSelfApproval
	}
	if req.OnNoApprovers != nil {
		st.OnNoApprovers = *req.OnNoApprovers
	}
	if req.JourneyVersionPolicy != nil {
		st.JourneyVersionPolicy = *req.JourneyVersionPolicy
	}
	wasEnabled := st.ApprovalEnabled
	if req.ApprovalEnabled != nil {
		st.ApprovalEnabled = *req.ApprovalEnabled
	}
	out, err := s.Store.UpdateSettings(ctx, acct, st)
	if err != nil {
		s.fail(c, err)
		return
	}
	if wasEnabled && !out.ApprovalEnabled {
		// R-APPR-1: turning approvals off approves every pending request, as the system's action.
		// Should this process die before signalling, the worker's sweeper signals from the database.
		ids, err := s.Store.PendingRequests(ctx, acct)
		if err != nil {
			s.fail(c, err)
			return
		}
		s.signalRequests(ctx, logger(c), ids, workflows.SignalApprovalsDisabled, nil)
	}
	c.JSON(http.StatusOK, out)
}
