package api

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// errorBody is the JSON shape of every error answer (SPEC §10).
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// respondError is the one place an error becomes an HTTP answer: an *errs.Error (or a Temporal
// application error carrying a code) answers its code's status, message and field, with Retry-After
// when the code has one; a cancelled request answers 499; anything else is logged and answers 500.
func respondError(c *gin.Context, err error) {
	e, ok := errs.As(err)
	if !ok {
		if ctxErr := c.Request.Context().Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			e = errs.Wrap(errs.ClientClosed, "the request was cancelled", err)
		} else {
			logger(c).Error("request failed", zap.Error(err))
			e = errs.Wrap(errs.Internal, "something went wrong on our side; retry, and report the request id if it persists", err)
		}
	}
	switch e.Code {
	case errs.Internal:
		if e.Err != nil {
			logger(c).Error("request failed", zap.Error(e.Err))
		}
	case errs.Unavailable:
		logger(c).Warn("database unavailable", zap.Error(e.Err))
	}
	if ra := e.Code.RetryAfter(); ra > 0 {
		c.Header("Retry-After", strconv.Itoa(ra))
	}
	c.AbortWithStatusJSON(e.Status(), errorBody{Error: errorDetail{Code: string(e.Code), Message: e.Message, Field: e.Field}})
}

// abort answers an error of code with message and stops the handler chain.
func abort(c *gin.Context, code errs.Code, message string) {
	respondError(c, errs.New(code, message))
}

// invalid answers a 422 naming the field that was wrong.
func invalid(c *gin.Context, field, message string) {
	respondError(c, errs.Invalid(field, message))
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
	if e, ok := errs.As(err); ok && e.Code == errs.Validation {
		respondError(c, e)
		return true
	}
	return false
}

// fail maps a store error to its answer: ErrNotFound is 404, an archived campaign 409, anything else a
// logged 500.
func (s *Server) fail(c *gin.Context, err error) {
	if errors.Is(err, storage.ErrNotFound) {
		abort(c, errs.NotFound, "no such resource in this account")
		return
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		respondError(c, errs.Wrap(errs.Unavailable, "the database is not reachable right now; retry in a moment", err))
		return
	}
	if storage.IsCampaignArchived(err) {
		abortArchived(c)
		return
	}
	respondError(c, err)
}

// requireRole answers 403 unless the caller has one of roles, for handlers that still check roles
// themselves rather than through a use case of app.
func requireRole(c *gin.Context, roles ...string) bool {
	u := currentUser(c)
	for _, r := range roles {
		if u.Role == r {
			return true
		}
	}
	abort(c, errs.Forbidden, fmt.Sprintf("this needs the role %s; you are %s", strings.Join(roles, " or "), u.Role))
	return false
}
