// Package errs is Signoff's one error type: a code from one table, the HTTP status that code answers
// with, and a message a person can act on. The use-case layer and the activities produce it; the API
// maps it to its answer in one place (api.respondError).
package errs

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
)

// Code names a kind of failure; it is the "code" of every JSON error answer (SPEC §10) and the type of
// the Temporal application errors that carry it.
type Code string

// The codes, each answered with the status of the table below.
const (
	MalformedJSON         Code = "malformed_json"
	Unauthorized          Code = "unauthorized"
	Forbidden             Code = "forbidden"
	NotFound              Code = "not_found"
	MethodNotAllowed      Code = "method_not_allowed"
	PayloadTooLarge       Code = "payload_too_large"
	Validation            Code = "validation_failed"
	RateLimited           Code = "rate_limited"
	ClientClosed          Code = "client_closed"
	Internal              Code = "internal"
	NotReady              Code = "not_ready"
	Unavailable           Code = "unavailable"
	RetryLater            Code = "retry_later"
	AlreadyHandled        Code = "already_handled"
	ApprovalPending       Code = "approval_pending"
	ApprovalRequired      Code = "approval_required"
	RequestOpen           Code = "request_already_open"
	ApprovalDisabled      Code = "approval_disabled"
	NotSubmittable        Code = "not_submittable"
	CampaignLive          Code = "campaign_live"
	CampaignLaunched      Code = "campaign_launched"
	CampaignArchived      Code = "campaign_archived"
	CampaignError         Code = "campaign_error"
	CampaignHasDrafts     Code = "campaign_has_drafts"
	DraftNotReady         Code = "draft_not_ready"
	ReviewSubmitted       Code = "review_submitted"
	TooManyComments       Code = "too_many_comments"
	LastAdmin             Code = "last_admin"
	EmailTaken            Code = "email_taken"
	RoleNameTaken         Code = "role_name_taken"
	RoleBuiltin           Code = "role_builtin"
	RoleInUse             Code = "role_in_use"
	AccountExists         Code = "account_exists"
	IdempotencyInProgress Code = "idempotency_in_progress"
	WebhookDisabled       Code = "webhook_disabled"
	// AlreadyApproved refuses a second approval of a stage by the same person (R-POL-2).
	AlreadyApproved Code = "already_approved"
	// StageNotCurrent refuses an approval or rejection by someone who is not an approver of the
	// request's current stage (R-POL-2): they may act when their stage comes.
	StageNotCurrent Code = "stage_not_current"
	// BuildFailed ends a draft build; its message is the draft's failure reason, written for a CSM.
	// The API never answers it: a failed build is a draft in status failed.
	BuildFailed Code = "build_failed"
)

// spec is what a code answers with.
type spec struct {
	status     int
	retryAfter int // seconds; 0 sends no Retry-After
}

// table is the one place a code meets its HTTP status.
var table = map[Code]spec{
	MalformedJSON:         {400, 0},
	Unauthorized:          {401, 0},
	Forbidden:             {403, 0},
	NotFound:              {404, 0},
	MethodNotAllowed:      {405, 0},
	PayloadTooLarge:       {413, 0},
	Validation:            {422, 0},
	RateLimited:           {429, 0},
	ClientClosed:          {499, 0},
	Internal:              {500, 0},
	NotReady:              {503, 0},
	Unavailable:           {503, 1},
	RetryLater:            {503, 5},
	AlreadyHandled:        {409, 0},
	WebhookDisabled:       {409, 0},
	AlreadyApproved:       {409, 0},
	StageNotCurrent:       {409, 0},
	ApprovalPending:       {409, 0},
	ApprovalRequired:      {409, 0},
	RequestOpen:           {409, 0},
	ApprovalDisabled:      {409, 0},
	NotSubmittable:        {409, 0},
	CampaignLive:          {409, 0},
	CampaignLaunched:      {409, 0},
	CampaignArchived:      {409, 0},
	CampaignError:         {409, 0},
	CampaignHasDrafts:     {409, 0},
	DraftNotReady:         {409, 0},
	ReviewSubmitted:       {409, 0},
	TooManyComments:       {409, 0},
	LastAdmin:             {409, 0},
	EmailTaken:            {409, 0},
	RoleNameTaken:         {409, 0},
	RoleBuiltin:           {409, 0},
	RoleInUse:             {409, 0},
	AccountExists:         {409, 0},
	IdempotencyInProgress: {409, 1},
	BuildFailed:           {422, 0},
}

// Codes lists every code of the table, for tests and documentation.
func Codes() []Code {
	out := make([]Code, 0, len(table))
	for c := range table {
		out = append(out, c)
	}
	return out
}

// Status is the HTTP status code answers with; an unknown code is a 500.
func (c Code) Status() int {
	if s, ok := table[c]; ok {
		return s.status
	}
	return 500
}

// RetryAfter is the Retry-After, in seconds, answered with code; 0 means none.
func (c Code) RetryAfter() int { return table[c].retryAfter }

// Error is a failure with a code, a message for people, the field it concerns (validation only) and
// the cause, which is logged and never shown.
type Error struct {
	Code    Code
	Message string
	Field   string
	Err     error
}

// New is an error of code with message.
func New(code Code, message string) *Error { return &Error{Code: code, Message: message} }

// Newf is New with a formatted message.
func Newf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid is a validation failure on one field: a 422 whose message starts with the field's name.
func Invalid(field, message string) *Error {
	return &Error{Code: Validation, Message: field + ": " + message, Field: field}
}

// Wrap is an error of code with message whose cause is err.
func Wrap(code Code, message string, err error) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

func (e *Error) Error() string {
	if e.Err != nil {
		return string(e.Code) + ": " + e.Message + ": " + e.Err.Error()
	}
	return string(e.Code) + ": " + e.Message
}

// Unwrap is the cause.
func (e *Error) Unwrap() error { return e.Err }

// Status is the HTTP status of e's code.
func (e *Error) Status() int { return e.Code.Status() }

// legacyTypes are the Temporal error types workers wrote before the codes were the types; workflows
// still running may answer them.
var legacyTypes = map[string]Code{"AlreadyHandled": AlreadyHandled, "NotAllowed": Forbidden, "NotFound": NotFound,
	"BuildFailed": BuildFailed}

// As finds the *Error in err's chain, also reading a Temporal application error whose type is a code
// (an activity's or a workflow's failure as the client sees it). It reports false for anything else.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		code := Code(appErr.Type())
		if c, ok := legacyTypes[appErr.Type()]; ok {
			code = c
		}
		if _, known := table[code]; known {
			return &Error{Code: code, Message: appErr.Message(), Err: err}, true
		}
	}
	return nil, false
}

// Temporal turns e into a non-retryable Temporal application error whose type is e's code, for
// activities and workflow Update handlers; As reads it back on the other side.
func Temporal(e *Error) error {
	return temporal.NewNonRetryableApplicationError(e.Message, string(e.Code), e.Err)
}

// TemporalRetryable is Temporal for a failure the workflow may retry.
func TemporalRetryable(e *Error) error {
	return temporal.NewApplicationError(e.Message, string(e.Code))
}

// Is reports whether err carries code (directly or as a Temporal application error).
func Is(err error, code Code) bool {
	e, ok := As(err)
	return ok && e.Code == code
}
