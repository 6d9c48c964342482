package api

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/sharelink"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

// Error codes of the review.
const (
	CodeReviewSubmitted = "review_submitted"
	// CodeTooManyComments refuses a comment on a draft that holds the most comments it may (Store.MaxComments).
	CodeTooManyComments = "too_many_comments"
	ctxDraft            = "signoff.draft"
	ctxAnswer           = "signoff.review_answer"
	ctxTokenHash        = "signoff.token_hash"
	ctxMark             = "signoff.review_mark"
)

//go:embed review/review.html.tmpl
var reviewTemplateText string

//go:embed review/assets
var reviewAssetsFS embed.FS

var reviewTemplate = template.Must(template.New("review").Funcs(template.FuncMap{
	"pct":  func(f float64) float64 { return f * 100 },
	"add1": func(i int) int { return i + 1 },
	// verdict names a verdict group: its target and the words that tell its buttons apart.
	"verdict": func(target, name string) map[string]string { return map[string]string{"Target": target, "Name": name} },
	"tokens":  markPlaceholders,
}).Parse(reviewTemplateText))

// reviewPlaceholders are the placeholders the email copy may hold, each filled per lead when sent,
// in the order the page's legend lists them.
var reviewPlaceholders = []struct{ Name, Meaning string }{
	{"first_name", "the lead's first name"},
	{"last_name", "the lead's last name"},
	{"company_name", "the lead's company"},
	{"title", "the lead's job title"},
	{"industry", "the lead's industry"},
}

// placeholderPattern finds a {{name}} placeholder in the email copy.
var placeholderPattern = regexp.MustCompile(`\{\{\s*([a-z_]+)\s*\}\}`)

// markPlaceholders escapes s and wraps each placeholder in a token the page styles apart from the
// text; the text content is unchanged, so selections and quotes still match the copy.
func markPlaceholders(s string) template.HTML {
	var b strings.Builder
	last := 0
	for _, m := range placeholderPattern.FindAllStringIndex(s, -1) {
		b.WriteString(template.HTMLEscapeString(s[last:m[0]]))
		b.WriteString(`<span class="token">`)
		b.WriteString(template.HTMLEscapeString(s[m[0]:m[1]]))
		b.WriteString(`</span>`)
		last = m[1]
	}
	b.WriteString(template.HTMLEscapeString(s[last:]))
	return template.HTML(b.String())
}

// pagePlaceholder is one line of the page's placeholder legend: the token, what it becomes and what it
// becomes for the first sample lead.
type pagePlaceholder struct{ Token, Meaning, Sample string }

// placeholdersOf lists the placeholders the emails use, with the first lead's values as samples.
func placeholdersOf(emails []storage.SnapshotEmail, leads []reviewLead) []pagePlaceholder {
	var text strings.Builder
	for _, e := range emails {
		text.WriteString(e.Subject)
		for _, p := range e.Paragraphs {
			text.WriteString(p.Text)
		}
	}
	used := map[string]bool{}
	for _, m := range placeholderPattern.FindAllStringSubmatch(text.String(), -1) {
		used[m[1]] = true
	}
	var sample storage.SnapshotLead
	if len(leads) > 0 {
		sample = leads[0].SnapshotLead
	}
	samples := map[string]string{"first_name": sample.FirstName, "last_name": sample.LastName,
		"company_name": sample.CompanyName, "title": sample.Title, "industry": sample.Industry}
	var out []pagePlaceholder
	for _, p := range reviewPlaceholders {
		if used[p.Name] {
			out = append(out, pagePlaceholder{Token: "{{" + p.Name + "}}", Meaning: p.Meaning, Sample: samples[p.Name]})
		}
	}
	return out
}

// reviewCSP allows nothing but this host's own script, style and API: no inline code, no framing.
const reviewCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// Default review rate limits: per share token and per client address (R-REVIEW-7).
const (
	defaultReviewTokenRate  = 5.0
	defaultReviewTokenBurst = 120
	defaultReviewIPRate     = 10.0
	defaultReviewIPBurst    = 240
)

// reviewHeaders applies the privacy and framing headers of R-REVIEW-7 to every review answer.
func reviewHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Robots-Tag", "noindex, nofollow")
	h.Set("Content-Security-Policy", reviewCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	c.Next()
}

// reviewLimiters builds the per-token and per-address limiters from the configured rates.
func (s *Server) reviewLimiters() (*rateLimiter, *rateLimiter) {
	tr, tb, ir, ib := s.ReviewTokenRate, s.ReviewTokenBurst, s.ReviewIPRate, s.ReviewIPBurst
	if tr <= 0 {
		tr, tb = defaultReviewTokenRate, defaultReviewTokenBurst
	}
	if ir <= 0 {
		ir, ib = defaultReviewIPRate, defaultReviewIPBurst
	}
	return newRateLimiter(tr, tb), newRateLimiter(ir, ib)
}

// reviewDraft rate-limits the request and resolves the share token, from the review cache when it
// holds the token's answer; unknown, rotated and not-yet-ready tokens all answer the same 404 (R-REVIEW-2).
func (s *Server) reviewDraft(page bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		hash := sharelink.Hash(c.Param("token"))
		now := time.Now()
		// The client address is the connection's peer, or what a trusted proxy says in
		// X-Forwarded-For (Server.TrustedProxies); the token's bucket is keyed by its hash, so
		// the token itself is never kept.
		for _, lim := range []struct {
			l   *rateLimiter
			key string
		}{{s.ipLimiter, c.ClientIP()}, {s.tokenLimiter, string(hash)}} {
			if ok, wait := lim.l.allow(lim.key, now); !ok {
				c.Header("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
				abort(c, errs.RateLimited, "too many requests; wait a moment and try again")
				return
			}
		}
		c.Set(ctxTokenHash, hash)
		if a, ok := s.reviewCache.answer([32]byte(hash)); ok {
			c.Set(ctxDraft, a.draft)
			c.Set(ctxAnswer, a)
			c.Next()
			return
		}
		c.Set(ctxMark, s.reviewCache.mark())
		d, err := s.Store.DraftByTokenHash(c.Request.Context(), hash)
		if err != nil {
			if !isNotFound(err) {
				s.fail(c, err)
				return
			}
			reviewNotFound(c, page)
			return
		}
		c.Set(ctxDraft, d)
		c.Next()
	}
}

// reviewNotFound answers the one 404 of every token that opens nothing (R-REVIEW-2).
func reviewNotFound(c *gin.Context, page bool) {
	if page {
		c.Header("Content-Type", "text/html; charset=utf-8")
		c.String(http.StatusNotFound, reviewNotFoundHTML)
		c.Abort()
		return
	}
	abort(c, errs.NotFound, "this review link does not exist or is no longer valid")
}

const reviewNotFoundHTML = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><meta name="referrer" content="no-referrer"><title>Link not found</title>
<link rel="icon" href="/favicon.ico" type="image/svg+xml"><link rel="stylesheet" href="/review-assets/review.css"></head>
<body><main id="main" class="notfound"><section class="stage"><h1>This review link is not available</h1>
<p>It may have been replaced by a newer link. Ask the person who sent it for the current one.</p></section></main></body></html>`

// reviewView is the public JSON of a draft under review (R-REVIEW-3): the frozen snapshot, each
// lead's AI result, the saved feedback and the status. No internal id of any account appears.
type reviewView struct {
	Status      string                   `json:"status"`
	Name        string                   `json:"name"`
	SubmittedAt *time.Time               `json:"submitted_at"`
	Campaign    storage.SnapshotCampaign `json:"campaign"`
	Audience    storage.SnapshotAudience `json:"audience"`
	Leads       []reviewLead             `json:"leads"`
	Emails      []storage.SnapshotEmail  `json:"emails"`
	Feedback    []storage.FeedbackItem   `json:"feedback"`
}

type reviewLead struct {
	storage.SnapshotLead
	AI json.RawMessage `json:"ai"`
}

// snapshotOf returns the draft's frozen snapshot and write targets, from the cache when it has them.
func (s *Server) snapshotOf(c *gin.Context, d storage.ApprovalDraft) (*cachedReview, bool) {
	if e, ok := s.reviewCache.get(d.ID); ok {
		return e, true
	}
	raw, err := s.Store.DraftSnapshot(c.Request.Context(), d.ID)
	if err != nil {
		s.fail(c, err)
		return nil, false
	}
	e := &cachedReview{}
	if err := json.Unmarshal(raw, &e.snap); err != nil {
		s.fail(c, err)
		return nil, false
	}
	e.snap.Audience = e.snap.Audience.ForClient()
	e.targets = newReviewTargets(e.snap)
	s.reviewCache.put(d.ID, e)
	return e, true
}

// leadsAI returns each lead's AI result (JSON null while pending); once the pipeline is done for
// every lead, from the cache.
func (s *Server) leadsAI(c *gin.Context, d storage.ApprovalDraft, e *cachedReview) (map[string]json.RawMessage, bool) {
	if e.ai != nil {
		return e.ai, true
	}
	ai := map[string]json.RawMessage{}
	if d.CopyCampaignID != nil {
		leads, err := s.Store.Leads(c.Request.Context(), d.AccountID, *d.CopyCampaignID)
		if err != nil {
			s.fail(c, err)
			return nil, false
		}
		for _, l := range leads {
			ai[l.ID] = l.AI
		}
	}
	if d.AIDoneAt != nil {
		s.reviewCache.put(d.ID, &cachedReview{snap: e.snap, targets: e.targets, ai: ai})
	}
	return ai, true
}

func (s *Server) loadReview(c *gin.Context, d storage.ApprovalDraft) (reviewView, storage.Snapshot, bool) {
	e, ok := s.snapshotOf(c, d)
	if !ok {
		return reviewView{}, storage.Snapshot{}, false
	}
	snap := e.snap
	v := reviewView{Status: d.Status, Name: d.Name, SubmittedAt: d.SubmittedAt, Campaign: snap.Campaign,
		Audience: snap.Audience, Emails: snap.Emails, Leads: make([]reviewLead, len(snap.Leads))}
	ai, ok := s.leadsAI(c, d, e)
	if !ok {
		return reviewView{}, snap, false
	}
	for i, l := range snap.Leads {
		v.Leads[i] = reviewLead{SnapshotLead: l, AI: ai[l.ID]}
		if v.Leads[i].AI == nil {
			v.Leads[i].AI = json.RawMessage("null")
		}
	}
	var err error
	if v.Feedback, err = s.Store.DraftFeedback(c.Request.Context(), d.ID); err != nil {
		s.fail(c, err)
		return reviewView{}, snap, false
	}
	if v.Feedback == nil {
		v.Feedback = []storage.FeedbackItem{}
	}
	return v, snap, true
}

func currentDraft(c *gin.Context) storage.ApprovalDraft {
	return c.MustGet(ctxDraft).(storage.ApprovalDraft)
}

func tokenHash(c *gin.Context) []byte { return c.MustGet(ctxTokenHash).([]byte) }

// reviewAnswerOf returns the answer for the request's share token: from the review cache when the
// middleware found it there, else loaded, encoded and offered to the cache.
func (s *Server) reviewAnswerOf(c *gin.Context) (*reviewAnswer, bool) {
	if a, ok := c.Get(ctxAnswer); ok {
		return a.(*reviewAnswer), true
	}
	d := currentDraft(c)
	v, snap, ok := s.loadReview(c, d)
	if !ok {
		return nil, false
	}
	body, err := json.Marshal(v)
	if err != nil {
		s.fail(c, err)
		return nil, false
	}
	a := &reviewAnswer{draft: d, view: v, snap: snap, body: body}
	// While AI results are still attaching (they change without a draft change), nothing is kept.
	if d.AIDoneAt != nil || d.SubmittedAt != nil {
		s.reviewCache.store([32]byte(tokenHash(c)), a, c.MustGet(ctxMark).(uint64))
	}
	return a, true
}

func (s *Server) getReview(c *gin.Context) {
	if a, ok := s.reviewAnswerOf(c); ok {
		serveEncoded(c, "application/json; charset=utf-8", a.body, a.bodyGz.of(a.body))
	}
}

// reviewFeedbackView is the feedback-only read of a review: what the page reloads after each save.
type reviewFeedbackView struct {
	Status      string                 `json:"status"`
	SubmittedAt *time.Time             `json:"submitted_at"`
	Feedback    []storage.FeedbackItem `json:"feedback"`
}

// getReviewFeedback answers the review's status and saved feedback without the snapshot: from the
// kept answer when there is one, else one query.
func (s *Server) getReviewFeedback(c *gin.Context) {
	if a, ok := c.Get(ctxAnswer); ok {
		v := a.(*reviewAnswer).view
		c.JSON(http.StatusOK, reviewFeedbackView{Status: v.Status, SubmittedAt: v.SubmittedAt, Feedback: v.Feedback})
		return
	}
	d := currentDraft(c)
	fb, err := s.Store.DraftFeedback(c.Request.Context(), d.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if fb == nil {
		fb = []storage.FeedbackItem{}
	}
	c.JSON(http.StatusOK, reviewFeedbackView{Status: d.Status, SubmittedAt: d.SubmittedAt, Feedback: fb})
}

// reviewWritten makes this process forget the draft's kept answer at once, so the writer's next read
// shows the write; other processes hear of it through the change feed.
func (s *Server) reviewWritten(d storage.ApprovalDraft) { s.reviewCache.ReviewChanged(d.ID) }

// reviewRefused answers a write the store refused: 409 once submitted, the token's 404 when the token
// no longer opens the draft. It reports whether it answered.
func (s *Server) reviewRefused(c *gin.Context, err error) bool {
	if s.reviewClosed(c, err) {
		return true
	}
	if isNotFound(err) {
		reviewNotFound(c, false)
		return true
	}
	return false
}

// snapshotTargets returns the frozen snapshot's targets for validating a write.
func (s *Server) snapshotTargets(c *gin.Context, d storage.ApprovalDraft) (reviewTargets, bool) {
	e, ok := s.snapshotOf(c, d)
	if !ok {
		return reviewTargets{}, false
	}
	return e.targets, true
}

func (s *Server) reviewClosed(c *gin.Context, err error) bool {
	if errors.Is(err, storage.ErrReviewClosed) {
		abort(c, errs.ReviewSubmitted, "this review was already submitted; nothing more can be changed")
		return true
	}
	return false
}

// putReviewItem records a verdict (and optional comment) on a section, segment, lead, email or paragraph.
func (s *Server) putReviewItem(c *gin.Context) {
	d := currentDraft(c)
	var req reviewItemRequest
	if !bindJSON(c, &req) {
		return
	}
	t, ok := s.snapshotTargets(c, d)
	if !ok {
		return
	}
	target := c.Param("target")
	if err := t.validateItem(target, req); respondInvalid(c, err) {
		return
	}
	if d.SubmittedAt != nil {
		s.reviewClosed(c, storage.ErrReviewClosed)
		return
	}
	err := s.Store.PutReviewItem(c.Request.Context(), d.ID, tokenHash(c), target, req.Verdict.Value, req.Comment, req.Author)
	if s.reviewRefused(c, err) {
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	s.reviewWritten(d)
	var verdict any
	if req.Verdict.Value != nil {
		verdict = *req.Verdict.Value
	}
	c.JSON(http.StatusOK, gin.H{"target": target, "verdict": verdict, "comment": req.Comment, "author": req.Author})
}

// addReviewComment stores a note or a line comment on a paragraph.
func (s *Server) addReviewComment(c *gin.Context) {
	d := currentDraft(c)
	var req reviewCommentRequest
	if !bindJSON(c, &req) {
		return
	}
	t, ok := s.snapshotTargets(c, d)
	if !ok {
		return
	}
	if err := t.validateComment(req); respondInvalid(c, err) {
		return
	}
	if d.SubmittedAt != nil {
		s.reviewClosed(c, storage.ErrReviewClosed)
		return
	}
	it, err := s.Store.AddReviewComment(c.Request.Context(), d.ID, tokenHash(c), storage.ReviewComment{Target: req.Target, Kind: req.Kind,
		Quote: req.Quote, Comment: req.Comment, Author: req.Author})
	if errors.Is(err, storage.ErrTooManyComments) {
		abort(c, errs.TooManyComments, fmt.Sprintf(
			"this draft already holds %d comments, the most it takes; delete one to add another", s.Store.MaxComments()))
		return
	}
	if s.reviewRefused(c, err) {
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	s.reviewWritten(d)
	c.JSON(http.StatusCreated, it)
}

func (s *Server) deleteReviewComment(c *gin.Context) {
	d := currentDraft(c)
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		abort(c, errs.NotFound, "no such comment on this draft")
		return
	}
	if d.SubmittedAt != nil {
		s.reviewClosed(c, storage.ErrReviewClosed)
		return
	}
	err = s.Store.DeleteReviewComment(c.Request.Context(), d.ID, tokenHash(c), id.String())
	if s.reviewClosed(c, err) {
		return
	}
	if isNotFound(err) {
		abort(c, errs.NotFound, "no such comment on this draft")
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	s.reviewWritten(d)
	c.Status(http.StatusNoContent)
}

type submitReviewRequest struct {
	Author string `json:"author"`
}

// submitReview closes the review through the draft workflow's submit Update (R-REVIEW-6): it happens
// once; a second submit answers 409. The Update carries the token's hash, so a link rotated between
// the lookup and the database write answers the token's 404 and submits nothing (R-DRAFT-11).
func (s *Server) submitReview(c *gin.Context) {
	d := currentDraft(c)
	var req submitReviewRequest
	if c.Request.ContentLength != 0 && !bindJSON(c, &req) {
		return
	}
	if err := checkReviewText("author", req.Author, false, maxReviewAuthor); respondInvalid(c, err) {
		return
	}
	if d.SubmittedAt != nil {
		s.reviewClosed(c, storage.ErrReviewClosed)
		return
	}
	ctx := c.Request.Context()
	h, err := s.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflows.ApprovalDraftWorkflowID(d.ID),
		UpdateName:   workflows.UpdateSubmitReview,
		Args:         []any{workflows.SubmitReviewInput{Author: req.Author, TokenHash: tokenHash(c)}},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var out storage.ApprovalDraft
	if err == nil {
		err = h.Get(ctx, &out)
	}
	var nf *serviceerror.NotFound
	switch {
	case errs.Is(err, errs.AlreadyHandled), errors.As(err, &nf):
		abort(c, errs.ReviewSubmitted, "this review was already submitted or is closed")
		return
	case errs.Is(err, errs.NotFound):
		reviewNotFound(c, false)
		return
	case err != nil:
		s.fail(c, err)
		return
	}
	s.reviewWritten(d)
	c.JSON(http.StatusOK, gin.H{"status": out.Status, "submitted_at": out.SubmittedAt})
}

// Paging of the CSM's feedback (R-DRAFT-12): ?limit= items a page (default and most
// maxFeedbackPage, which holds every item of all but the largest drafts) and ?cursor=, the
// next_cursor of the page before.
const maxFeedbackPage = 1000

// feedbackCursor is the opaque cursor of the feedback pages: where the last item of a page sits.
type feedbackCursor struct {
	At     time.Time `json:"at"`
	Target string    `json:"target"`
	ID     string    `json:"id,omitempty"`
}

func encodeFeedbackCursor(k storage.FeedbackKey) string {
	b, _ := json.Marshal(feedbackCursor{At: k.CreatedAt.UTC(), Target: k.Target, ID: k.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeFeedbackCursor(v string) (storage.FeedbackKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return storage.FeedbackKey{}, err
	}
	var cur feedbackCursor
	if err := json.Unmarshal(b, &cur); err != nil {
		return storage.FeedbackKey{}, err
	}
	if cur.At.IsZero() {
		return storage.FeedbackKey{}, errors.New("no time")
	}
	if cur.ID != "" {
		if _, err := uuid.Parse(cur.ID); err != nil {
			return storage.FeedbackKey{}, err
		}
	}
	return storage.FeedbackKey{CreatedAt: cur.At, Target: cur.Target, ID: cur.ID}, nil
}

// feedback is the CSM's view of the client's feedback (R-DRAFT-12): saved items before submit
// (in_review), the submitted ones after, a page at a time; next_cursor is null on the last page.
func (s *Server) feedback(c *gin.Context) {
	d, ok := s.draftParam(c)
	if !ok {
		return
	}
	limit := maxFeedbackPage
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxFeedbackPage {
			invalid(c, "limit", fmt.Sprintf("must be a whole number from 1 to %d", maxFeedbackPage))
			return
		}
		limit = n
	}
	var after *storage.FeedbackKey
	if v := c.Query("cursor"); v != "" {
		k, err := decodeFeedbackCursor(v)
		if err != nil {
			invalid(c, "cursor", "is not a cursor this API returned")
			return
		}
		after = &k
	}
	items, more, err := s.Store.DraftFeedbackPage(c.Request.Context(), d.ID, after, limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	if items == nil {
		items = []storage.FeedbackItem{}
	}
	var next *string
	if more {
		v := encodeFeedbackCursor(items[len(items)-1].Key())
		next = &v
	}
	out := gin.H{"status": d.Status, "in_review": items, "submitted": []storage.FeedbackItem{}, "next_cursor": next}
	if d.SubmittedAt != nil {
		out["in_review"], out["submitted"] = []storage.FeedbackItem{}, items
	}
	c.JSON(http.StatusOK, out)
}

// reviewPage renders the no-login review page (R-REVIEW-1) from the frozen snapshot; a cached answer
// keeps its rendering.
func (s *Server) reviewPage(c *gin.Context) {
	a, ok := s.reviewAnswerOf(c)
	if !ok {
		return
	}
	page, err := a.page(c.Param("token"))
	if err != nil {
		s.fail(c, err)
		return
	}
	serveEncoded(c, "text/html; charset=utf-8", page, a.pageGz.of(page))
}

// page returns the review page of the answer for token (the token the answer is kept under),
// rendering it on first use.
func (a *reviewAnswer) page(token string) ([]byte, error) {
	a.pageOnce.Do(func() { a.pageHTML, a.pageErr = renderReviewPage(a, token) })
	return a.pageHTML, a.pageErr
}

func renderReviewPage(a *reviewAnswer, token string) ([]byte, error) {
	v, snap := a.view, a.snap
	type leadAI struct {
		Qualification struct {
			Qualified bool    `json:"qualified"`
			Score     float64 `json:"score"`
			Reason    string  `json:"reason"`
		} `json:"qualification"`
		Segmentation struct {
			Segment string `json:"segment"`
		} `json:"segmentation"`
		Personalisation struct {
			OpeningLine string `json:"opening_line"`
			ValueProp   string `json:"value_prop"`
		} `json:"personalisation"`
	}
	type pageLead struct {
		reviewLead
		Parsed *leadAI
	}
	leads := make([]pageLead, len(v.Leads))
	for i, l := range v.Leads {
		leads[i] = pageLead{reviewLead: l}
		if string(l.AI) != "null" {
			var ai leadAI
			if json.Unmarshal(l.AI, &ai) == nil {
				leads[i].Parsed = &ai
			}
		}
	}
	tokenKey := sha256.Sum256([]byte(token))
	var buf bytes.Buffer
	err := reviewTemplate.Execute(&buf, gin.H{
		"View": v, "Snapshot": snap, "Leads": leads, "Token": token, "Closed": a.draft.SubmittedAt != nil,
		"Placeholders": placeholdersOf(v.Emails, v.Leads),
		"StorageKey":   hex.EncodeToString(tokenKey[:8]),
	})
	if err != nil {
		return nil, fmt.Errorf("api: render review page: %w", err)
	}
	return buf.Bytes(), nil
}

// reviewIcon is the review page's icon, also answered at /favicon.ico.
const reviewIcon = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#1d2433"/>` +
	`<path d="M9 16.5l4.5 4.5L23 11" fill="none" stroke="#fff" stroke-width="3.2" stroke-linecap="round" stroke-linejoin="round"/></svg>`

func favicon(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=86400")
	c.Data(http.StatusOK, "image/svg+xml", []byte(reviewIcon))
}

// reviewAssets serves the page's embedded script and stylesheet.
func reviewAssets() http.Handler {
	sub, _ := fs.Sub(reviewAssetsFS, "review/assets")
	return http.StripPrefix("/review-assets/", http.FileServer(http.FS(sub)))
}
