// Package api is the Gin HTTP API: auth, tenancy scoping, handlers, the OpenAPI document.
package api

import (
	"context"
	_ "embed"
	"errors"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/metrics"
)

//go:embed openapi.yaml
var openAPI []byte

// Server is the HTTP layer over the use cases: routes, auth, binding, answers.
type Server struct {
	// App runs the use cases; it is required.
	App *app.App
	// Log is the base logger; every request gets a child with its request id.
	Log *zap.Logger
	// OperatorToken enables the operator endpoints when not empty (R-AUTH-4).
	OperatorToken string
	// ReviewTokenRate and ReviewTokenBurst limit review requests per share token (per second, burst);
	// ReviewIPRate and ReviewIPBurst per client address. Zero means the defaults.
	ReviewTokenRate  float64
	ReviewTokenBurst int
	ReviewIPRate     float64
	ReviewIPBurst    int
	// TrustedProxies lists the load balancers (CIDRs or addresses, SIGNOFF_TRUSTED_PROXIES) whose
	// X-Forwarded-For names the client; empty trusts none, so the connection's peer is the client.
	TrustedProxies []string
	// DecisionGrace is how long a decision's outcome is still awaited after its client went away, so
	// it can be stored for a retry with the same Idempotency-Key; zero means 30 seconds.
	DecisionGrace time.Duration
	// Metrics records every request by route template, method and status (R-OPS-1), and its draining
	// makes /readyz answer 503; nil records nothing.
	Metrics *metrics.Metrics

	tokenLimiter  *rateLimiter
	ipLimiter     *rateLimiter
	reviewCache   *reviewCache
	decisionCache *decisionCache
}

func init() { gin.SetMode(gin.ReleaseMode) }

// WatchReviews follows Postgres's feed of review changes until ctx ends, so client review reads can be
// answered from memory (R-REVIEW-3). Without it every read goes to the database. Run it beside the
// handler in every API process, after Handler.
func (s *Server) WatchReviews(ctx context.Context) error {
	if s.reviewCache == nil {
		return errors.New("api: WatchReviews needs Handler first")
	}
	return s.App.WatchReviews(ctx, reviewFeed{cache: s.reviewCache, decisions: s.decisionCache, log: s.Log}, 5*time.Second)
}

// ReviewsWatched reports whether the review change feed is heard, so review reads may come from memory.
func (s *Server) ReviewsWatched() bool {
	return s.reviewCache != nil && s.reviewCache.isListening()
}

// reviewFeed passes the change feed to the review cache and the decision page cache, and logs when it
// goes quiet or comes back.
type reviewFeed struct {
	cache     *reviewCache
	decisions *decisionCache
	log       *zap.Logger
}

func (f reviewFeed) Listening(on bool, err error) {
	f.cache.Listening(on)
	f.decisions.Listening(on)
	switch {
	case on:
		f.log.Info("review change feed heard; review reads served from memory")
	case err != nil && !errors.Is(err, context.Canceled):
		f.log.Warn("review change feed lost; review reads go to the database until it is back", zap.Error(err))
	}
}

func (f reviewFeed) ReviewChanged(draftID string) { f.cache.ReviewChanged(draftID) }

func (f reviewFeed) DecisionLinksChanged(payload string) { f.decisions.DecisionLinksChanged(payload) }

// Handler builds the router with every route of SPEC §9.
func (s *Server) Handler() http.Handler {
	s.tokenLimiter, s.ipLimiter = s.reviewLimiters()
	s.reviewCache = newReviewCache()
	s.decisionCache = newDecisionCache()
	r := gin.New()
	r.HandleMethodNotAllowed = true
	// A path with an extra or missing trailing slash is not an endpoint: it answers the JSON 404 of
	// NoRoute, not an HTML redirect (SPEC §10).
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	s.trustProxies(r)
	r.Use(s.observe, s.requestContext, gin.CustomRecoveryWithWriter(nil, s.recovery), compress())
	r.NoRoute(func(c *gin.Context) { abort(c, errs.NotFound, "no such endpoint") })
	r.NoMethod(func(c *gin.Context) {
		abort(c, errs.MethodNotAllowed, "this method is not allowed here")
	})

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/openapi.yaml", func(c *gin.Context) { c.Data(http.StatusOK, "application/yaml", openAPI) })

	r.POST("/v1/operator/accounts", s.operatorOnly, s.createAccount)

	// The client review: no login, the share token is the credential (SPEC §5).
	r.GET("/r/:token", reviewHeaders, s.reviewDraft(true), s.reviewPage)
	r.GET("/favicon.ico", favicon)
	r.GET("/review-assets/*file", reviewHeaders, reviewAssetFilesOnly, gin.WrapH(reviewAssets()))
	// The approver's decision page: no login, the link's token is the credential (R-ACT-1).
	r.GET("/a/:token", reviewHeaders, s.decisionPageGet)
	r.POST("/a/:token", reviewHeaders, s.decisionPagePost)
	pub := r.Group("/v1/public/reviews/:token", reviewHeaders, s.reviewDraft(false))
	pub.GET("", s.getReview)
	pub.GET("/feedback", s.getReviewFeedback)
	pub.PUT("/items/:target", s.putReviewItem)
	pub.POST("/comments", s.addReviewComment)
	pub.DELETE("/comments/:id", s.deleteReviewComment)
	pub.POST("/submit", s.submitReview)

	v1 := r.Group("/v1", s.authenticate, s.idempotent)
	v1.GET("/me", s.me)
	v1.GET("/users", s.listUsers)
	v1.POST("/users", s.createUser)
	v1.PATCH("/users/:id", s.updateUser)
	v1.GET("/roles", s.listRoles)
	v1.POST("/roles", s.createRole)
	v1.PATCH("/roles/:id", s.updateRole)
	v1.DELETE("/roles/:id", s.deleteRole)
	v1.GET("/account/settings", s.getSettings)
	v1.PATCH("/account/settings", s.updateSettings)
	v1.POST("/contacts", s.createContacts)
	v1.GET("/saved-searches", s.listSavedSearches)
	v1.POST("/saved-searches", s.createSavedSearch)
	v1.GET("/saved-searches/:id", s.getSavedSearch)
	v1.DELETE("/saved-searches/:id", s.deleteSavedSearch)
	v1.GET("/campaigns", s.listCampaigns)
	v1.POST("/campaigns", s.createCampaign)
	v1.GET("/campaigns/:id", s.getCampaign)
	v1.PATCH("/campaigns/:id", s.updateCampaign)
	v1.DELETE("/campaigns/:id", s.deleteCampaign)
	v1.POST("/campaigns/:id/approval-requests", s.createApprovalRequest)
	v1.POST("/campaigns/:id/resubmit", s.resubmit)
	v1.GET("/campaigns/:id/approval-history", s.campaignHistory)
	v1.POST("/campaigns/:id/launch", s.launch)
	v1.GET("/campaigns/:id/launches", s.launches)
	v1.GET("/launches", s.launchFeed)
	v1.GET("/campaigns/:id/versions", s.listVersions)
	v1.GET("/campaigns/:id/versions/:n", s.getVersion)
	v1.GET("/approval-requests/:id", s.getApprovalRequest)
	v1.POST("/approval-requests/:id/approve", s.decide(app.DecisionApprove))
	v1.POST("/approval-requests/:id/reject", s.decide(app.DecisionReject))
	v1.POST("/approval-requests/:id/cancel", s.decide(app.DecisionCancel))
	v1.POST("/approval-requests/:id/review", s.review)
	v1.PUT("/approval-requests/:id/approvers", s.changeApprovers)
	v1.GET("/approval-requests/:id/history", s.requestHistory)
	v1.GET("/approval-requests/:id/changes", s.requestChanges)
	v1.GET("/approvals/inbox", s.inbox)
	v1.POST("/csv-uploads", s.createCSVUpload)
	v1.POST("/campaigns/:id/approval-drafts", s.createDraft)
	v1.GET("/campaigns/:id/approval-drafts", s.listDrafts)
	v1.GET("/approval-drafts/:id", s.getDraft)
	v1.POST("/approval-drafts/:id/rotate-link", s.rotateLink)
	v1.GET("/approval-drafts/:id/feedback", s.feedback)
	v1.GET("/notifications", s.notifications)
	v1.POST("/notifications/read-all", s.readAllNotifications)
	v1.POST("/notifications/:id/read", s.readNotification)
	v1.GET("/webhooks", s.listWebhooks)
	v1.POST("/webhooks", s.createWebhook)
	v1.GET("/webhooks/:id", s.getWebhook)
	v1.DELETE("/webhooks/:id", s.deleteWebhook)
	v1.GET("/webhooks/:id/deliveries", s.webhookDeliveries)
	v1.POST("/webhooks/:id/deliveries/:delivery_id/redeliver", s.redeliver)
	v1.GET("/dev/outbox", s.outbox)
	return r
}

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz answers 200 only when both Postgres and Temporal answer. Anyone may ask, so the answer names
// the dependency that failed ("unavailable") and the error itself goes to the log.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	if s.Metrics.Draining() {
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{
			"error": errorDetail{Code: string(errs.NotReady), Message: "this process is stopping"}, "status": "draining",
		})
		return
	}
	checks := gin.H{"postgres": "ok", "temporal": "ok"}
	ready := true
	pg, tc := s.App.Readiness(ctx)
	if pg != nil {
		logger(c).Warn("readyz: postgres does not answer", zap.Error(pg))
		checks["postgres"] = "unavailable"
		ready = false
	}
	if tc != nil {
		logger(c).Warn("readyz: temporal does not answer", zap.Error(tc))
		checks["temporal"] = "unavailable"
		ready = false
	}
	if !ready {
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{
			"error":  errorDetail{Code: string(errs.NotReady), Message: "a dependency does not answer"},
			"checks": checks,
		})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "checks": checks})
}

// reviewAssetFilesOnly lets through requests that name one file of the review page's assets; the folder
// itself, sub-folders and unknown names answer the JSON 404, so the folder is never listed.
func reviewAssetFilesOnly(c *gin.Context) {
	name := strings.TrimPrefix(c.Param("file"), "/")
	files, err := fs.Sub(reviewAssetsFS, "review/assets")
	var st fs.FileInfo
	if err == nil && fs.ValidPath(name) {
		st, err = fs.Stat(files, name)
	}
	if err != nil || st == nil || st.IsDir() {
		abort(c, errs.NotFound, "no such file")
		return
	}
}

// items wraps a list as SPEC §9 says lists are shaped.
func items[T any](list []T) gin.H {
	if list == nil {
		list = []T{}
	}
	return gin.H{"items": list}
}
