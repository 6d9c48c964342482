package api

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/errs"
)

// Context keys of a review request: the draft its token opens, the kept answer when there is one, the
// token's hash, and the review cache's mark taken before loading.
const (
	ctxDraft     = "signoff.draft"
	ctxAnswer    = "signoff.review_answer"
	ctxTokenHash = "signoff.token_hash"
	ctxMark      = "signoff.review_mark"
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
func placeholdersOf(emails []snapshotEmailJSON, leads []reviewLeadJSON) []pagePlaceholder {
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
	var sample reviewLeadJSON
	if len(leads) > 0 {
		sample = leads[0]
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
		hash := app.HashShareToken(c.Param("token"))
		if !s.allowPublic(c, hash) {
			return
		}
		c.Set(ctxTokenHash, hash)
		if a, ok := s.reviewCache.answer([32]byte(hash)); ok {
			c.Set(ctxDraft, a.draft)
			c.Set(ctxAnswer, a)
			c.Next()
			return
		}
		c.Set(ctxMark, s.reviewCache.mark())
		d, err := s.App.ReviewDraft(c.Request.Context(), hash)
		if err != nil {
			if page && errs.Is(err, errs.NotFound) {
				reviewNotFoundPage(c)
				return
			}
			respondError(c, err)
			return
		}
		c.Set(ctxDraft, d)
		c.Next()
	}
}

// allowPublic applies the rate limits of R-REVIEW-7 to a no-login request (a review or a decision
// link) whose token hashes to hash: per client address and per token. A refused request is answered
// 429 with Retry-After, and allowPublic reports false. The client address is the connection's peer,
// or what a trusted proxy says in X-Forwarded-For (Server.TrustedProxies); the token's bucket is
// keyed by its hash, so the token itself is never kept.
func (s *Server) allowPublic(c *gin.Context, hash []byte) bool {
	now := time.Now()
	for _, lim := range []struct {
		l   *rateLimiter
		key string
	}{{s.ipLimiter, c.ClientIP()}, {s.tokenLimiter, string(hash)}} {
		if ok, wait := lim.l.allow(lim.key, now); !ok {
			c.Header("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
			abort(c, errs.RateLimited, "too many requests; wait a moment and try again")
			return false
		}
	}
	return true
}

// reviewNotFoundPage answers the page's 404 of every token that opens nothing (R-REVIEW-2).
func reviewNotFoundPage(c *gin.Context) {
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.String(http.StatusNotFound, reviewNotFoundHTML)
	c.Abort()
}

const reviewNotFoundHTML = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><meta name="referrer" content="no-referrer"><title>Link not found</title>
<link rel="icon" href="/favicon.ico" type="image/svg+xml"><link rel="stylesheet" href="/review-assets/review.css"></head>
<body><main id="main" class="notfound"><section class="stage"><h1>This review link is not available</h1>
<p>It may have been replaced by a newer link. Ask the person who sent it for the current one.</p></section></main></body></html>`

func currentDraft(c *gin.Context) app.ApprovalDraft {
	return c.MustGet(ctxDraft).(app.ApprovalDraft)
}

func tokenHash(c *gin.Context) []byte { return c.MustGet(ctxTokenHash).([]byte) }

// reviewAnswerOf returns the answer for the request's share token: from the review cache when the
// middleware found it there, else read (with the draft's frozen review from the cache), encoded and
// offered to the cache.
func (s *Server) reviewAnswerOf(c *gin.Context) (*reviewAnswer, bool) {
	if a, ok := c.Get(ctxAnswer); ok {
		return a.(*reviewAnswer), true
	}
	d := currentDraft(c)
	frozen, _ := s.reviewCache.get(d.ID)
	r, kept, err := s.App.ReadReview(c.Request.Context(), d, frozen)
	if err != nil {
		respondError(c, err)
		return nil, false
	}
	if kept != frozen {
		s.reviewCache.put(d.ID, kept)
	}
	v := toReviewJSON(r)
	body, err := json.Marshal(v)
	if err != nil {
		respondError(c, err)
		return nil, false
	}
	a := &reviewAnswer{draft: d, view: v, body: body}
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

// getReviewFeedback answers the review's status and saved feedback without the snapshot: from the
// kept answer when there is one, else one query.
func (s *Server) getReviewFeedback(c *gin.Context) {
	if a, ok := c.Get(ctxAnswer); ok {
		v := a.(*reviewAnswer).view
		c.JSON(http.StatusOK, reviewFeedbackJSON{Status: v.Status, SubmittedAt: v.SubmittedAt, Feedback: v.Feedback})
		return
	}
	d := currentDraft(c)
	fb, err := s.App.ReviewFeedback(c.Request.Context(), d)
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, reviewFeedbackJSON{Status: d.Status, SubmittedAt: d.SubmittedAt, Feedback: toFeedbackJSON(fb)})
}

// reviewWritten makes this process forget the draft's kept answer at once, so the writer's next read
// shows the write; other processes hear of it through the change feed.
func (s *Server) reviewWritten(draftID string) { s.reviewCache.ReviewChanged(draftID) }

// reviewer is who writes through the request's share token.
func reviewer(c *gin.Context) app.Reviewer {
	return app.Reviewer{Draft: currentDraft(c), TokenHash: tokenHash(c)}
}

// frozenReviewer is reviewer with the draft's frozen review (what writes are checked against), from
// the cache when it holds it, else loaded and offered to it. It answers a failure itself.
func (s *Server) frozenReviewer(c *gin.Context) (app.Reviewer, bool) {
	r := reviewer(c)
	f, ok := s.reviewCache.get(r.Draft.ID)
	if !ok {
		var err error
		if f, err = s.App.FrozenReview(c.Request.Context(), r.Draft.ID); err != nil {
			respondError(c, err)
			return r, false
		}
		s.reviewCache.put(r.Draft.ID, f)
	}
	r.Frozen = f
	return r, true
}

// putReviewItem records a verdict (and optional comment) on a section, segment, lead, email or paragraph.
func (s *Server) putReviewItem(c *gin.Context) {
	var req reviewItemRequest
	if !bindJSON(c, &req) {
		return
	}
	r, ok := s.frozenReviewer(c)
	if !ok {
		return
	}
	in := toReviewItemInput(c.Param("target"), req)
	if err := s.App.PutReviewItem(c.Request.Context(), r, in); err != nil {
		respondError(c, err)
		return
	}
	s.reviewWritten(r.Draft.ID)
	c.JSON(http.StatusOK, reviewItemJSON{Author: in.Author, Comment: in.Comment, Target: in.Target, Verdict: in.Verdict})
}

// addReviewComment stores a note or a line comment on a paragraph.
func (s *Server) addReviewComment(c *gin.Context) {
	var req reviewCommentRequest
	if !bindJSON(c, &req) {
		return
	}
	r, ok := s.frozenReviewer(c)
	if !ok {
		return
	}
	it, err := s.App.AddReviewComment(c.Request.Context(), r, toReviewCommentInput(req))
	if err != nil {
		respondError(c, err)
		return
	}
	s.reviewWritten(r.Draft.ID)
	c.JSON(http.StatusCreated, toFeedbackItemJSON(it))
}

func (s *Server) deleteReviewComment(c *gin.Context) {
	r := reviewer(c)
	if err := s.App.DeleteReviewComment(c.Request.Context(), r, c.Param("id")); err != nil {
		respondError(c, err)
		return
	}
	s.reviewWritten(r.Draft.ID)
	c.Status(http.StatusNoContent)
}

// submitReview closes the review (R-REVIEW-6): it happens once; a second submit answers 409, and a
// link rotated meanwhile answers the token's 404.
func (s *Server) submitReview(c *gin.Context) {
	var req submitReviewRequest
	if c.Request.ContentLength != 0 && !bindJSON(c, &req) {
		return
	}
	r := reviewer(c)
	out, err := s.App.SubmitReview(c.Request.Context(), r, app.SubmitReviewInput{Author: req.Author})
	if err != nil {
		respondError(c, err)
		return
	}
	s.reviewWritten(r.Draft.ID)
	c.JSON(http.StatusOK, submittedReviewJSON{Status: out.Status, SubmittedAt: out.SubmittedAt})
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
		respondError(c, err)
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
	v := a.view
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
		reviewLeadJSON
		Parsed *leadAI
	}
	leads := make([]pageLead, len(v.Leads))
	for i, l := range v.Leads {
		leads[i] = pageLead{reviewLeadJSON: l}
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
		"View": v, "Leads": leads, "Token": token, "Closed": a.draft.SubmittedAt != nil,
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
