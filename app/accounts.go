package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

// Account is a tenant: every other row belongs to exactly one account (R-AUTH-2).
type Account = storage.Account

// Settings are an account's switches: approvals on or off, self-approval, what a request with no
// approver left does, which journey version a passive launch keeps, and the reminders and escalation
// of pending requests (R-ACT-2).
type Settings = storage.AccountSettings

// CreateAccountInput names a new account and the email of its first admin.
type CreateAccountInput struct {
	Name       string
	AdminEmail string
}

// NewAccount is a created account with its first admin and that admin's token, which is shown this
// once and never stored in the clear.
type NewAccount struct {
	Account Account
	Admin   User
	Token   string
}

// CreateAccount provisions a tenant with its first admin (R-AUTH-4); only the platform operator may
// ask, which the API checks with the operator token.
func (a *App) CreateAccount(ctx context.Context, in CreateAccountInput) (NewAccount, error) {
	name, email := strings.TrimSpace(in.Name), strings.TrimSpace(in.AdminEmail)
	if err := checkText("name", name, true, 100); err != nil {
		return NewAccount{}, err
	}
	if err := checkEmail("admin_email", email, true); err != nil {
		return NewAccount{}, err
	}
	token, hash := storage.NewToken()
	acct, admin, err := a.Store.CreateAccountWithAdmin(ctx, name, email, "Admin", hash)
	if errors.Is(err, storage.ErrConflict) {
		return NewAccount{}, errs.Wrap(errs.AccountExists, "an account with this name already exists", err)
	}
	if err != nil {
		return NewAccount{}, storeErr(err)
	}
	return NewAccount{Account: acct, Admin: admin, Token: token}, nil
}

// Settings answers the settings of u's account; every user may read them.
func (a *App) Settings(ctx context.Context, u User) (Settings, error) {
	st, err := a.Store.Settings(ctx, u.AccountID)
	return st, storeErr(err)
}

// SettingsPatch holds the settings to change; nil leaves one as it is.
type SettingsPatch struct {
	ApprovalEnabled      *bool
	AllowSelfApproval    *bool
	OnNoApprovers        *string
	JourneyVersionPolicy *string
	// ReminderAfter and EscalateAfter are durations as Go writes them ("24h", "90m", "1h30m"); "0" is off.
	ReminderAfter *string
	EscalateAfter *string
	// EscalationUserIDs lists the users requests escalate to, each with the approval right; an empty
	// list goes back to the default, the account's admins.
	EscalationUserIDs *[]string
	// SetApprovalPolicy says whether ApprovalPolicy, the account's approval policy as the client wrote
	// it (null: the default), changes (R-POL-1).
	SetApprovalPolicy bool
	ApprovalPolicy    json.RawMessage
}

// Bounds of the reminder and escalation durations.
const (
	minSettingDuration = time.Second
	maxSettingDuration = 366 * 24 * time.Hour
)

// FormatDuration writes a reminder or escalation duration as the settings answer it: "0", "24h",
// "1h30m", "90s".
func FormatDuration(d time.Duration) string { return storage.FormatDuration(d) }

// parseSettingDuration reads a reminder or escalation duration: "0" (off), or a duration Go's
// time.ParseDuration reads, from a second to a year.
func parseSettingDuration(field, v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errs.Invalid(field, fmt.Sprintf(`%q is not a duration: write it like "24h", "90m" or "1h30m" (units h, m, s), or "0" to turn it off`, v))
	}
	switch {
	case d < 0:
		return 0, errs.Invalid(field, `must not be negative; "0" turns it off`)
	case d == 0:
		return 0, nil
	case d < minSettingDuration:
		return 0, errs.Invalid(field, `must be at least 1s, or "0" to turn it off`)
	case d > maxSettingDuration:
		return 0, errs.Invalid(field, "must be at most 8784h (a year)")
	}
	return d, nil
}

// reminderPatch validates the reminder and escalation part of p and applies it to st; nothing is
// applied unless all of it is valid.
func (a *App) reminderPatch(ctx context.Context, accountID string, p SettingsPatch, st *Settings) error {
	next := *st
	var err error
	if p.ReminderAfter != nil {
		if next.ReminderAfter, err = parseSettingDuration("reminder_after", *p.ReminderAfter); err != nil {
			return err
		}
	}
	if p.EscalateAfter != nil {
		if next.EscalateAfter, err = parseSettingDuration("escalate_after", *p.EscalateAfter); err != nil {
			return err
		}
	}
	if p.EscalationUserIDs != nil {
		next.EscalationUserIDs = nil // the default: the account's admins
		if len(*p.EscalationUserIDs) > 0 {
			users, err := a.usersWithApprovalRight(ctx, accountID, "escalation_user_ids", *p.EscalationUserIDs)
			if err != nil {
				return err
			}
			for _, user := range users {
				next.EscalationUserIDs = append(next.EscalationUserIDs, user.ID)
			}
		}
	}
	*st = next
	return nil
}

// UpdateSettings changes the settings of u's account (settings.manage: admins) and answers all of them. Turning
// approvals off approves every pending request as the system's action (R-APPR-1).
func (a *App) UpdateSettings(ctx context.Context, u User, p SettingsPatch) (Settings, error) {
	if err := requirePermission(u, storage.PermSettingsManage); err != nil {
		return Settings{}, err
	}
	if p.OnNoApprovers != nil {
		if err := oneOf("on_no_approvers", *p.OnNoApprovers, "expire", "hold"); err != nil {
			return Settings{}, err
		}
	}
	if p.JourneyVersionPolicy != nil {
		if err := oneOf("journey_version_policy", *p.JourneyVersionPolicy, "keep_live", "passive"); err != nil {
			return Settings{}, err
		}
	}
	st, err := a.Store.Settings(ctx, u.AccountID)
	if err != nil {
		return Settings{}, storeErr(err)
	}
	if err := a.reminderPatch(ctx, u.AccountID, p, &st); err != nil {
		return Settings{}, err
	}
	if p.SetApprovalPolicy {
		if st.ApprovalPolicy, err = a.ParseApprovalPolicy(ctx, u.AccountID, p.ApprovalPolicy); err != nil {
			return Settings{}, err
		}
	}
	wasEnabled := st.ApprovalEnabled
	setIf(&st.AllowSelfApproval, p.AllowSelfApproval)
	setIf(&st.OnNoApprovers, p.OnNoApprovers)
	setIf(&st.JourneyVersionPolicy, p.JourneyVersionPolicy)
	setIf(&st.ApprovalEnabled, p.ApprovalEnabled)
	out, err := a.Store.UpdateSettings(ctx, u.AccountID, st)
	if err != nil {
		return Settings{}, storeErr(err)
	}
	if wasEnabled && !out.ApprovalEnabled {
		// Should this process die before signalling, the worker's sweeper signals from the database.
		ids, err := a.Store.PendingRequests(ctx, u.AccountID)
		if err != nil {
			return Settings{}, storeErr(err)
		}
		a.signalRequests(ctx, ids, workflows.SignalApprovalsDisabled, nil)
	}
	return out, nil
}

// setIf sets *dst to *v when v is not nil.
func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
