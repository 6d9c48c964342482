package api

import (
	"crypto/subtle"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/errs"
)

const (
	ctxLogger = "signoff.logger"
	ctxUser   = "signoff.user"
	// RequestIDHeader carries the request id on every response (and is honoured on requests).
	RequestIDHeader = "X-Request-ID"
)

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestContext gives every request an id, a logger carrying it, and an access log line.
// Only the route pattern is logged, never the raw path, so share tokens never reach the logs.
func (s *Server) requestContext(c *gin.Context) {
	id := c.GetHeader(RequestIDHeader)
	if !validRequestID.MatchString(id) {
		id = uuid.NewString()
	}
	c.Header(RequestIDHeader, id)
	l := s.Log.With(zap.String("request_id", id))
	c.Set(ctxLogger, l)
	c.Request = c.Request.WithContext(app.WithRequestID(app.WithLogger(c.Request.Context(), l), id))
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	fields := []zap.Field{
		zap.String("method", c.Request.Method), zap.String("route", route),
		zap.Int("status", c.Writer.Status()), zap.Duration("latency", time.Since(start)),
	}
	if v, ok := c.Get(ctxUser); ok {
		u := v.(app.User)
		fields = append(fields, zap.String("user_id", u.ID), zap.String("account_id", u.AccountID))
	}
	if c.Writer.Status() >= 500 {
		l.Error("request", fields...)
	} else {
		l.Info("request", fields...)
	}
}

// observe records the request in the HTTP metrics under its route template (c.FullPath(), never the
// raw path, which holds ids and share tokens); a path no route matches is "unmatched".
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	s.Metrics.ObserveHTTP(route, c.Request.Method, c.Writer.Status(), time.Since(start))
}

// trustProxies sets where client addresses come from (the per-address limits of R-REVIEW-7): the
// connection's peer, or, when that peer is one of TrustedProxies, the right-most address of
// X-Forwarded-For that is not itself a trusted proxy. No other header is read. A list Gin refuses
// (config.Load checks it first) trusts no proxy.
func (s *Server) trustProxies(r *gin.Engine) {
	r.RemoteIPHeaders = []string{"X-Forwarded-For"}
	r.TrustedPlatform = ""
	if err := r.SetTrustedProxies(s.TrustedProxies); err != nil {
		s.Log.Error("trusted proxies not usable; every client address is the connection's peer", zap.Error(err))
		_ = r.SetTrustedProxies(nil)
	}
}

// recovery turns a panic into a logged JSON 500.
func (s *Server) recovery(c *gin.Context, recovered any) {
	logger(c).Error("panic", zap.String("panic", fmt.Sprint(recovered)), zap.Stack("stack"))
	abort(c, errs.Internal, "something went wrong on our side; retry, and report the request id if it persists")
}

func logger(c *gin.Context) *zap.Logger {
	if l, ok := c.Get(ctxLogger); ok {
		return l.(*zap.Logger)
	}
	return zap.NewNop()
}

func bearer(c *gin.Context) string {
	h := c.GetHeader("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return ""
	}
	return strings.TrimSpace(h[7:])
}

// authenticate resolves the bearer token to an active user (R-AUTH-1) or answers 401.
func (s *Server) authenticate(c *gin.Context) {
	tok := bearer(c)
	if tok == "" {
		abort(c, errs.Unauthorized, "send Authorization: Bearer <token>")
		return
	}
	u, err := s.App.Authenticate(c.Request.Context(), tok)
	if err != nil {
		respondError(c, err)
		return
	}
	c.Set(ctxUser, u)
	c.Next()
}

// operatorOnly admits the platform operator token and nothing else; without SIGNOFF_OPERATOR_TOKEN
// the operator endpoints do not exist (404).
func (s *Server) operatorOnly(c *gin.Context) {
	if s.OperatorToken == "" {
		abort(c, errs.NotFound, "no such endpoint")
		return
	}
	tok := bearer(c)
	if tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(s.OperatorToken)) != 1 {
		abort(c, errs.Unauthorized, "send Authorization: Bearer <operator token>")
		return
	}
	c.Next()
}

// currentUser is the authenticated caller.
func currentUser(c *gin.Context) app.User {
	return c.MustGet(ctxUser).(app.User)
}
