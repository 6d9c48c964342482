package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/signoff/signoff/app"
)

type createAccountRequest struct {
	Name       string `json:"name"`
	AdminEmail string `json:"admin_email"`
}

// accountJSON is an account as the API answers it.
type accountJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func toAccountJSON(a app.Account) accountJSON {
	return accountJSON{ID: a.ID, Name: a.Name, CreatedAt: a.CreatedAt}
}

// createAccountResponse is a new account, its first admin and the admin's token.
type createAccountResponse struct {
	Account accountJSON `json:"account"`
	Admin   userJSON    `json:"admin"`
	Token   string      `json:"token"`
}

// createAccount provisions a tenant with its first admin (R-AUTH-4, operator token only); the admin's
// token is shown this once and never cached.
func (s *Server) createAccount(c *gin.Context) {
	var req createAccountRequest
	if !bindJSON(c, &req) {
		return
	}
	out, err := s.App.CreateAccount(c.Request.Context(), app.CreateAccountInput{Name: req.Name, AdminEmail: req.AdminEmail})
	if err != nil {
		respondError(c, err)
		return
	}
	answerHasSecrets(c, "token")
	c.JSON(http.StatusCreated, createAccountResponse{Account: toAccountJSON(out.Account), Admin: toUserJSON(out.Admin), Token: out.Token})
}

// settingsJSON is an account's settings as the API answers them; escalation_user_ids is null for the
// default, the account's admins.
type settingsJSON struct {
	ApprovalEnabled      bool     `json:"approval_enabled"`
	AllowSelfApproval    bool     `json:"allow_self_approval"`
	OnNoApprovers        string   `json:"on_no_approvers"`
	JourneyVersionPolicy string   `json:"journey_version_policy"`
	ReminderAfter        string   `json:"reminder_after"`
	EscalateAfter        string   `json:"escalate_after"`
	EscalationUserIDs    []string `json:"escalation_user_ids"`
	// ApprovalPolicy is absent for the default: one stage of the request's approvers, one approval
	// (R-POL-1); answers of accounts that never set one keep their shape.
	ApprovalPolicy *approvalPolicyJSON `json:"approval_policy,omitempty"`
}

func toSettingsJSON(st app.Settings) settingsJSON {
	return settingsJSON{ApprovalEnabled: st.ApprovalEnabled, AllowSelfApproval: st.AllowSelfApproval,
		OnNoApprovers: st.OnNoApprovers, JourneyVersionPolicy: st.JourneyVersionPolicy,
		ReminderAfter: app.FormatDuration(st.ReminderAfter), EscalateAfter: app.FormatDuration(st.EscalateAfter),
		EscalationUserIDs: st.EscalationUserIDs, ApprovalPolicy: toApprovalPolicyJSON(st.ApprovalPolicy)}
}

func (s *Server) getSettings(c *gin.Context) {
	st, err := s.App.Settings(c.Request.Context(), currentUser(c))
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, toSettingsJSON(st))
}

type settingsPatch struct {
	ApprovalEnabled      *bool     `json:"approval_enabled"`
	AllowSelfApproval    *bool     `json:"allow_self_approval"`
	OnNoApprovers        *string   `json:"on_no_approvers"`
	JourneyVersionPolicy *string   `json:"journey_version_policy"`
	ReminderAfter        *string   `json:"reminder_after"`
	EscalateAfter        *string   `json:"escalate_after"`
	EscalationUserIDs    *[]string `json:"escalation_user_ids"`
	// ApprovalPolicy is read and checked by the use case, which names the bad field (R-POL-1).
	ApprovalPolicy Optional[json.RawMessage] `json:"approval_policy"`
}

// updateSettings changes the account settings (admins only) and answers all of them.
func (s *Server) updateSettings(c *gin.Context) {
	var req settingsPatch
	if !bindJSON(c, &req) {
		return
	}
	st, err := s.App.UpdateSettings(c.Request.Context(), currentUser(c), app.SettingsPatch{
		ApprovalEnabled: req.ApprovalEnabled, AllowSelfApproval: req.AllowSelfApproval,
		OnNoApprovers: req.OnNoApprovers, JourneyVersionPolicy: req.JourneyVersionPolicy,
		ReminderAfter: req.ReminderAfter, EscalateAfter: req.EscalateAfter, EscalationUserIDs: req.EscalationUserIDs,
		SetApprovalPolicy: req.ApprovalPolicy.Set, ApprovalPolicy: rawOrNull(req.ApprovalPolicy),
	})
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, toSettingsJSON(st))
}
