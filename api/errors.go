package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"

	"github.com/signoff/signoff/storage"
)

// Error codes of SPEC §10 and the ones the handlers add.
const (
	CodeMalformedJSON    = "malformed_json"
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeConflict         = "conflict"
	CodePayloadTooLarge  = "payload_too_large"
	CodeValidation       = "validation_failed"
	CodeRateLimited      = "rate_limited"
	CodeInternal         = "internal"
	CodeNotReady         = "not_ready"
)

// errorBody is the JSON shape of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// abort writes the error answer and stops the handler chain.
func abort(c *gin.Context, status int, code, message string) {
	c.AbortWithStatusJSON(status, errorBody{Error: errorDetail{Code: code, Message: message}})
}

// invalid writes a 422 naming the field that was wrong.
func invalid(c *gin.Context, field, message string) {
	c.AbortWithStatusJSON(http.StatusUnprocessableEntity,
		errorBody{Error: errorDetail{Code: CodeValidation, Message: field + ": " + message, Field: field}})
}

// fieldError is a validation failure on one field.
type fieldError struct {
	Field   string
	Message string
}

func (e *fieldError) Error() string { return e.Field + ": " + e.Message }

// respondInvalid writes err as a 422 when it is a field error and reports whether it did.
func respondInvalid(c *gin.Context, err error) bool {
	var fe *fieldError
	if errors.As(err, &fe) {
		invalid(c, fe.Field, fe.Message)
		return true
	}
	var ferr *storage.FilterError
	if errors.As(err, &ferr) {
		invalid(c, ferr.Field, ferr.Message)
		return true
	}
	return false
}

// fail maps a store error to its answer: ErrNotFound is 404, an archived campaign 409, anything else a
// logged 500.
func (s *Server) fail(c *gin.Context, err error) {
	if errors.Is(err, storage.ErrNotFound) {
		abort(c, http.StatusNotFound, CodeNotFound, "no such resource in this account")
		return
	}
	if errors.Is(err, c.Request.Context().Err()) && c.Request.Context().Err() != nil {
		abort(c, 499, "client_closed", "the request was cancelled")
		return
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		logger(c).Warn("database unavailable", zap.Error(err))
		c.Header("Retry-After", "1")
		abort(c, http.StatusServiceUnavailable, "unavailable", "the database is not reachable right now; retry in a moment")
		return
	}
	if storage.IsCampaignArchived(err) {
		abortArchived(c)
		return
	}
	logger(c).Error("request failed", zap.Error(err))
	abort(c, http.StatusInternalServerError, CodeInternal, "something went wrong on our side; retry, and report the request id if it persists")
}
