package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/testenv/testworker"
)

// Helpers of the decision link tests (R-ACT-1). The API is served over real HTTP, with a real worker
// on its task queue; links are taken from the outbox emails the approvers were sent, as an approver
// takes them from their mailbox.

// decisionEnv is env served over HTTP with a secret key (decision forms are signed with it) and a
// worker whose emails link to that server.
type decisionEnv struct {
	*env
	srv *httptest.Server
	// client is a plain HTTP client, as a mail scanner is: no cookies, no redirects followed.
	client *http.Client
}

func newDecisionEnv(t *testing.T) *decisionEnv {
	t.Helper()
	e := newEnv(t)
	e.server.App.Sealer = testenv.Sealer(t)
	e.server.App.ImmediateApprovalWindow = time.Hour
	srv := httptest.NewUnstartedServer(e.handler)
	e.server.App.PublicURL = "http://" + srv.Listener.Addr().String()
	srv.Start()
	t.Cleanup(srv.Close)
	testworker.Start(t, testenv.Temporal(t), e.server.App.TaskQueue,
		&activities.Activities{Store: e.store, PublicURL: e.server.App.PublicURL}, testworker.Options{})
	return &decisionEnv{env: e, srv: srv, client: &http.Client{Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// linkPattern finds a decision link in an email body; group 1 is the token.
var linkPattern = regexp.MustCompile(`https?://\S+/a/([A-Za-z0-9_-]+)`)

// linkOf answers the decision link of the newest outbox email to approver u about request reqID that
// carries one (the real email row; later notices, such as "decided by another", carry none), failing
// when no email does.
func (de *decisionEnv) linkOf(t *testing.T, reqID string, u storage.User) string {
	t.Helper()
	var body string
	require.NoError(t, de.pool.QueryRow(context.Background(), `SELECT body FROM outbox_emails
		WHERE request_id = $1 AND to_email = $2 AND body LIKE '%/a/%' ORDER BY created_at DESC, id DESC LIMIT 1`, reqID, u.Email).Scan(&body),
		"no email to %s about request %s", u.Email, reqID)
	m := linkPattern.FindString(body)
	require.NotEmpty(t, m, "the email to %s carries no decision link:\n%s", u.Email, body)
	require.True(t, strings.HasPrefix(m, de.server.App.PublicURL+"/a/"), "the link %s starts with SIGNOFF_PUBLIC_URL/a/", m)
	return m
}

// tokenOf is the token at the end of a decision link.
func tokenOf(link string) string { return link[strings.LastIndex(link, "/")+1:] }

// pageAnswer is an answer of the decision page.
type pageAnswer struct {
	Status int
	Header http.Header
	Body   string
}

// get GETs a URL with the plain client.
func (de *decisionEnv) get(t *testing.T, link string) pageAnswer {
	t.Helper()
	resp, err := de.client.Get(link)
	require.NoError(t, err)
	return readAnswer(t, resp)
}

// post posts the decision form to a link with the plain client.
func (de *decisionEnv) post(t *testing.T, link, action, note, csrf string) pageAnswer {
	t.Helper()
	resp, err := de.client.PostForm(link, url.Values{"action": {action}, "note": {note}, "csrf": {csrf}})
	require.NoError(t, err)
	return readAnswer(t, resp)
}

func readAnswer(t *testing.T, resp *http.Response) pageAnswer {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return pageAnswer{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// csrfPattern finds the form token of a decision page.
var csrfPattern = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf answers the form token of an open decision page.
func csrfOf(t *testing.T, page pageAnswer) string {
	t.Helper()
	m := csrfPattern.FindStringSubmatch(page.Body)
	require.Len(t, m, 2, "the page has no decision form:\n%s", page.Body)
	return m[1]
}

// openPage GETs a link, requires the open decision page and answers it with its form token.
func (de *decisionEnv) openPage(t *testing.T, link string) (pageAnswer, string) {
	t.Helper()
	p := de.get(t, link)
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	return p, csrfOf(t, p)
}

// submitWithNote submits campaign campID as token to approvers with a note and requires 201.
func (de *decisionEnv) submitWithNote(t *testing.T, campID, token, note string, approverIDs ...string) storage.ApprovalRequest {
	t.Helper()
	var r storage.ApprovalRequest
	de.doJSON(t, http.StatusCreated, http.MethodPost, "/v1/campaigns/"+campID+"/approval-requests", token,
		submitBody(note, approverIDs...), &r)
	return r
}

// approvedBase submits campaign c to approver and approves it (version 1 becomes the last approved
// version), then edits the first email's subject and its second paragraph, so that a new request
// brings exactly those two changes (R-VER-6). It answers the new subject and paragraph.
func (de *decisionEnv) approvedBase(t *testing.T, c storage.Campaign, submitter string, approver storage.User, approverToken string) (subject, paragraph string) {
	t.Helper()
	r := de.submit(t, c.ID, submitter, approver.ID)
	status, body := de.act(t, r.ID, "approve", approverToken, "")
	require.Equal(t, http.StatusOK, status, "%v", body)
	content := testenv.CampaignContent()
	subject, paragraph = "Hello again, {{first_name}}", "We rewrote this paragraph for the launch."
	content.Sequences[0].Steps[0].Subject = subject
	content.Sequences[0].Steps[0].Body = "Hello there.\n\n" + paragraph
	status, body = de.do(t, http.MethodPatch, "/v1/campaigns/"+c.ID, submitter, map[string]any{"content": content})
	require.Equal(t, http.StatusOK, status, "%v", body)
	return subject, paragraph
}

// decisionLinkRows counts the decision_links rows of a request.
func (de *decisionEnv) decisionLinkRows(t *testing.T, reqID string) int {
	t.Helper()
	var n int
	require.NoError(t, de.pool.QueryRow(context.Background(), `SELECT count(*) FROM decision_links WHERE request_id = $1`, reqID).Scan(&n))
	return n
}
