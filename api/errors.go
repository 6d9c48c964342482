package api

import (
	"errors"
	"strconv"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/signoff/signoff/errs"
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
