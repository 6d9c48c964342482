package api

import (
	"bytes"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/errs"
)

// The approver's decision page, /a/{token} (R-ACT-1): server-rendered, no script, the same headers,
// CSP and rate limits as the client review page (reviewHeaders, allowPublic). GET shows the page and
// changes nothing; POST takes the form's decision and answers 303 to the page (Post/Redirect/Get),
// which then shows the outcome. The rules are app's (app/decision_links.go).

//go:embed review/decision.html.tmpl
var decisionTemplateText string

var decisionTemplate = template.Must(template.New("decision").Funcs(template.FuncMap{
	"when":       formatWhen,
	"add1":       func(i int) int { return i + 1 },
	"deref":      func(p *int) int { return *p },
	"paragraphs": app.EmailParagraphs,
	"filters":    app.DescribeFilters,
}).Parse(decisionTemplateText))

// maxDecisionFormBytes bounds the body of a decision form: a note of 2,000 characters, URL-encoded,
// and the form token fit well within it.
const maxDecisionFormBytes = 64 << 10

// csrfMarker stands for the form token's value in a rendered page, so a kept page is served with a
// fresh token cut in; it is random per process, so no campaign text can contain it.
var csrfMarker = func() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "csrf-" + hex.EncodeToString(b)
}()

// decisionForm is what the approver typed, kept when the page is shown again.
type decisionForm struct {
	Action string
	Note   string
	// Sections are the per-section form's answers (R-POL-4), by section.
	Sections map[string]app.SectionAnswer
}

// sectionsForm reads the per-section form: section_<name> (approved or change_request) and
// section_<name>_note, for the sections the approver answered.
func sectionsForm(c *gin.Context) map[string]app.SectionAnswer {
	out := map[string]app.SectionAnswer{}
	for _, name := range app.ReviewSections {
		verdict, note := c.PostForm("section_"+name), c.PostForm("section_"+name+"_note")
		if verdict != "" || strings.TrimSpace(note) != "" {
			out[name] = app.SectionAnswer{Verdict: verdict, Note: note}
		}
	}
	return out
}

// pageSection is one fieldset of the per-section form: the section, the approver's verdict so far
// and what the form shows checked and typed.
type pageSection struct {
	Name, Label                 string
	Verdict, Note               string
	FormVerdict, FormNote       string
	VerdictInvalid, NoteInvalid bool
}

// sectionLabels are the sections as the page names them.
var sectionLabels = map[string]string{"audience": "Audience", "copy": "Copy", "schedule": "Schedule"}

// pageSections builds the per-section form of view v: the verdicts so far, and the form as typed
// when it was sent (else the verdicts so far, so sending it again keeps them).
func pageSections(v app.DecisionLinkView, form decisionForm, field string) []pageSection {
	out := make([]pageSection, len(app.ReviewSections))
	for i, name := range app.ReviewSections {
		p := pageSection{Name: name, Label: sectionLabels[name]}
		for _, s := range v.Sections {
			if s.Section == name {
				p.Verdict, p.Note = s.Verdict, s.Note
			}
		}
		p.FormVerdict, p.FormNote = p.Verdict, p.Note
		if form.Action == app.LinkActionSections {
			a := form.Sections[name]
			p.FormVerdict, p.FormNote = a.Verdict, a.Note
		}
		p.NoteInvalid = field == "sections."+name+".note"
		p.VerdictInvalid = field == "sections."+name+".verdict"
		out[i] = p
	}
	return out
}

// pageChange is one change of R-VER-6 as the page shows it.
type pageChange struct {
	Path, Kind, Label string
	Before, After     *pageValue
}

// pageValue is a changed value: text, "none" (nothing) or json (a list or object, compact).
type pageValue struct{ Kind, Text string }

// decisionPageGet shows the decision page of the link in the path (R-ACT-1). It never writes: a kept
// page is served from memory, any other is read and rendered (and kept while the change feed is heard).
func (s *Server) decisionPageGet(c *gin.Context) {
	token := c.Param("token")
	hash := [32]byte(app.HashDecisionToken(token))
	if !s.allowPublic(c, hash[:]) {
		return
	}
	p, ok := s.decisionCache.get(hash, time.Now())
	if !ok {
		mark := s.decisionCache.mark()
		v, err := s.App.DecisionLinkPage(c.Request.Context(), token)
		if err == nil {
			p, err = renderDecisionPage(v, decisionForm{}, "", "")
		}
		if err != nil {
			s.decisionProblem(c, err)
			return
		}
		s.decisionCache.store(hash, p, mark)
	}
	s.serveDecisionPage(c, hash[:], p, http.StatusOK)
}

// decisionPagePost takes the decision of the page's form (action approve|reject, note, csrf) as the
// link's approver, through the same use case and workflow Update as the API. Success answers 303 to
// the page; a refusal answers the page again with the reason (the form kept), or the not-found page.
func (s *Server) decisionPagePost(c *gin.Context) {
	token := c.Param("token")
	hash := app.HashDecisionToken(token)
	if !s.allowPublic(c, hash) {
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxDecisionFormBytes)
	form := decisionForm{Action: c.PostForm("action"), Note: c.PostForm("note"), Sections: sectionsForm(c)}
	// As for the API's decisions, the outcome is awaited a while after the client went away.
	ctx, done := outliveClient(c, s.decisionGrace())
	defer done()
	v, err := s.App.DecideByLink(ctx, app.LinkDecisionInput{Token: token, Action: form.Action, Note: form.Note,
		Sections: form.Sections, CSRF: c.PostForm("csrf")})
	if v.Request.ID != "" && (err == nil || errs.Is(err, errs.AlreadyHandled) || form.Action == app.LinkActionSections) {
		s.decisionCache.requestChanged(v.Request.ID) // this process shows the outcome at once
	}
	if err == nil {
		c.Redirect(http.StatusSeeOther, "/a/"+token)
		return
	}
	s.decisionRefused(c, hash, v, form, err)
}

// decisionRefused answers a refused decision: the page again with the reason and the form as typed
// (a validation failure, a late click that shows who decided first, a decision the approver may not
// take), or, without a page, the not-found page or the problem page.
func (s *Server) decisionRefused(c *gin.Context, hash []byte, v app.DecisionLinkView, form decisionForm, err error) {
	e, ok := errs.As(err)
	if !ok || v.State == "" {
		s.decisionProblem(c, err)
		return
	}
	msg := e.Message
	if e.Field != "" { // "note: a rejection needs a note" reads "A rejection needs a note." on the page
		msg = strings.TrimPrefix(msg, e.Field+": ")
		msg = strings.ToUpper(msg[:1]) + msg[1:] + "."
		if rest, ok := strings.CutPrefix(e.Field, "sections."); ok { // "Copy: is required for a change_request…"
			name, _, _ := strings.Cut(rest, ".")
			msg = sectionLabels[name] + ": " + strings.ToLower(msg[:1]) + msg[1:]
		}
	}
	if e.Code == errs.AlreadyHandled {
		msg = "Too late: this request was already decided. Nothing was changed."
		if v.State == app.DecisionLinkOpen {
			msg = "This request can no longer be decided: its deadline has passed. Nothing was changed."
		}
	}
	p, rerr := renderDecisionPage(v, form, msg, e.Field)
	if rerr != nil {
		s.decisionProblem(c, rerr)
		return
	}
	s.serveDecisionPage(c, hash, p, e.Status())
}

// serveDecisionPage answers page p with status, a fresh form token cut into its form.
func (s *Server) serveDecisionPage(c *gin.Context, hash []byte, p *decisionPage, status int) {
	if p.tail == nil {
		c.Data(status, "text/html; charset=utf-8", p.head)
		return
	}
	csrf, err := s.App.DecisionCSRF(hash)
	if err != nil {
		s.decisionProblem(c, err)
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	parts, size := [][]byte{p.head}, len(p.head)
	for _, part := range p.tail {
		parts = append(parts, []byte(csrf), part)
		size += len(csrf) + len(part)
	}
	if c.Writer.Header().Get("Content-Encoding") == "" {
		h.Set("Content-Length", strconv.Itoa(size))
	}
	c.Status(status)
	for _, part := range parts {
		if _, err := c.Writer.Write(part); err != nil {
			return // the client went away
		}
	}
}

// decisionProblem answers an error without a page to show it on: the one not-found page of every
// link that opens nothing, or a short page with the reason (a refused form token) or, for a failure
// on our side, a request to try again.
func (s *Server) decisionProblem(c *gin.Context, err error) {
	e, ok := errs.As(err)
	if ok && e.Code == errs.NotFound {
		c.Data(http.StatusNotFound, "text/html; charset=utf-8", []byte(decisionNotFoundHTML))
		return
	}
	status, msg := http.StatusInternalServerError, "Something went wrong on our side. Nothing was decided; try again in a moment."
	if ok {
		status = e.Status()
		if status < 500 {
			msg = e.Message
		}
		if ra := e.Code.RetryAfter(); ra > 0 {
			c.Header("Retry-After", strconv.Itoa(ra))
		}
	}
	if status >= 500 {
		logger(c).Error("decision page failed", zap.Error(err))
	}
	c.Data(status, "text/html; charset=utf-8", []byte(fmt.Sprintf(decisionProblemHTML, template.HTMLEscapeString(msg))))
}

// decisionNotFoundHTML is the one answer of every decision link that opens nothing: unknown, revoked,
// of a request that is no longer pending, used up (R-ACT-1).
const decisionNotFoundHTML = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><meta name="referrer" content="no-referrer"><title>Link not available</title>
<link rel="icon" href="/favicon.ico" type="image/svg+xml"><link rel="stylesheet" href="/review-assets/review.css"></head>
<body><main id="main" class="notfound"><section class="stage"><h1>This link is not available</h1>
<p>The request it was sent for may have been withdrawn, changed or closed, or you may no longer be one of its approvers.
Your Signoff inbox lists the requests waiting for you.</p></section></main></body></html>`

// decisionProblemHTML is the page of a refused form or a failure; %s is the escaped reason.
const decisionProblemHTML = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><meta name="referrer" content="no-referrer"><title>Nothing was decided</title>
<link rel="icon" href="/favicon.ico" type="image/svg+xml"><link rel="stylesheet" href="/review-assets/review.css"></head>
<body><main id="main" class="notfound"><section class="stage"><h1>Nothing was decided</h1>
<p id="reason">%s</p><p><a href="">Open the page again</a></p></section></main></body></html>`

// renderDecisionPage renders view v with the form as typed and msg above it (field names the form
// field msg is about, which gets the focus); a page with a form is split around its form token's value.
func renderDecisionPage(v app.DecisionLinkView, form decisionForm, msg, field string) (*decisionPage, error) {
	open := v.State == app.DecisionLinkOpen
	var buf bytes.Buffer
	err := decisionTemplate.Execute(&buf, map[string]any{
		"View": v, "Open": open, "Form": form, "Message": msg, "Field": field, "CSRF": csrfMarker, "Changes": pageChanges(v.Changes),
		"Sections": pageSections(v, form, field), "Answered": len(v.Sections) > 0,
	})
	if err != nil {
		return nil, fmt.Errorf("api: render decision page: %w", err)
	}
	p := &decisionPage{requestID: v.Request.ID, validUntil: v.ValidUntil, head: buf.Bytes()}
	if open {
		parts := bytes.Split(buf.Bytes(), []byte(csrfMarker))
		if len(parts) < 2 {
			return nil, fmt.Errorf("api: render decision page: no form token in the form")
		}
		p.head, p.tail = parts[0], parts[1:]
	}
	return p, nil
}

// pageChanges maps the changes to what the page shows: a readable place and the values.
func pageChanges(list []app.Change) []pageChange {
	out := make([]pageChange, len(list))
	for i, ch := range list {
		out[i] = pageChange{Path: ch.Path, Kind: string(ch.Kind), Label: changeLabel(ch.Path)}
		if ch.Kind != "added" {
			out[i].Before = valueOf(ch.Before)
		}
		if ch.Kind != "removed" {
			out[i].After = valueOf(ch.After)
		}
	}
	return out
}

// valueOf is a changed value as the page shows it.
func valueOf(v any) *pageValue {
	switch x := v.(type) {
	case nil:
		return &pageValue{Kind: "none"}
	case string:
		if x == "" {
			return &pageValue{Kind: "none"}
		}
		return &pageValue{Kind: "text", Text: x}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return &pageValue{Kind: "json", Text: fmt.Sprint(v)}
	}
	return &pageValue{Kind: "json", Text: string(b)}
}

// changeNames are the readable names of the path elements of a change (R-VER-6 paths); a list
// element is named with its 1-based position.
var changeNames = map[string]string{
	"name": "Name", "kind": "Kind", "mode": "Mode", "start_at": "Start", "end_at": "End",
	"segments": "Segment", "prompts": "AI prompt", "ai_model_configs": "AI model", "sequences": "Sequence",
	"tracking_links": "Tracking link", "steps": "email", "paragraphs": "paragraph", "filters": "filters",
	"titles": "title", "industries": "industry", "countries": "country", "keywords": "keyword",
	"company_size_min": "company size from", "company_size_max": "company size to", "text": "text",
	"step": "step", "provider": "provider", "model": "model", "temperature": "temperature",
	"subject": "subject", "body": "body", "delay_days": "delay (days)", "url": "URL", "label": "label",
}

// changeLabel makes a change's path readable: "content.sequences[0].steps[1].body.paragraphs[2]" is
// "Sequence 1 › email 2 › body › paragraph 3".
func changeLabel(path string) string {
	var parts []string
	for _, el := range strings.Split(strings.TrimPrefix(path, "content."), ".") {
		name, rest, _ := strings.Cut(el, "[")
		if n, ok := changeNames[name]; ok {
			name = n
		}
		for rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			if i, err := strconv.Atoi(idx); err == nil {
				name += " " + strconv.Itoa(i+1)
			} else {
				name += " " + strings.Trim(idx, `"`)
			}
			rest = strings.TrimPrefix(after, "[")
		}
		parts = append(parts, name)
	}
	return strings.Join(parts, " › ")
}

// formatWhen writes a time for the page, in UTC (the page runs no script to localise it).
func formatWhen(v any) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x == nil {
			return ""
		}
		t = *x
	default:
		return ""
	}
	return t.UTC().Format("Mon 2 Jan 2006, 15:04 UTC")
}
