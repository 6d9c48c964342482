package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/email"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/testenv/testworker"
)

// fakeSendGrid is a local server that speaks the part of SendGrid's v3 API Signoff uses
// (POST /v3/mail/send, Bearer key, JSON body, 202 with an empty body when accepted). It answers each
// recipient with the statuses listed for them, in turn (202 once the list is used up), and records
// every request.
type fakeSendGrid struct {
	srv     *httptest.Server
	mu      sync.Mutex
	answers map[string][]int // by recipient address
	calls   []sendGridCall
}

// sendGridCall is one request the fake received.
type sendGridCall struct {
	Method, Path, Auth, ContentType string
	Body                            sendGridMail
	Raw                             string
	Status                          int
}

// sendGridMail is the v3 mail/send body.
type sendGridMail struct {
	From struct {
		Email string `json:"email"`
		Name  string `json:"name"`
	} `json:"from"`
	Subject          string `json:"subject"`
	Personalizations []struct {
		To []struct {
			Email string `json:"email"`
			Name  string `json:"name"`
		} `json:"to"`
	} `json:"personalizations"`
	Content []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"content"`
}

func newFakeSendGrid(t *testing.T, answers map[string][]int) *fakeSendGrid {
	f := &fakeSendGrid{answers: answers}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		c := sendGridCall{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization"),
			ContentType: r.Header.Get("Content-Type"), Raw: string(raw), Status: http.StatusAccepted}
		_ = json.Unmarshal(raw, &c.Body)
		to := ""
		if len(c.Body.Personalizations) > 0 && len(c.Body.Personalizations[0].To) > 0 {
			to = c.Body.Personalizations[0].To[0].Email
		}
		f.mu.Lock()
		if list := f.answers[to]; len(list) > 0 {
			c.Status, f.answers[to] = list[0], list[1:]
		}
		f.calls = append(f.calls, c)
		f.mu.Unlock()
		w.WriteHeader(c.Status)
		if c.Status >= 300 {
			_, _ = w.Write([]byte(`{"errors":[{"message":"answer ` + http.StatusText(c.Status) + `","field":null,"help":null}]}`))
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// callsTo lists the requests the fake received for recipient to with subject ("" for any).
func (f *fakeSendGrid) callsTo(to, subject string) []sendGridCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []sendGridCall
	for _, c := range f.calls {
		if len(c.Body.Personalizations) > 0 && len(c.Body.Personalizations[0].To) > 0 && c.Body.Personalizations[0].To[0].Email == to &&
			(subject == "" || c.Body.Subject == subject) {
			out = append(out, c)
		}
	}
	return out
}

// outboxRow is an outbox email as the database holds it.
type outboxRow struct {
	Subject, Body, HTML, Failure string
	SentAt, FailedAt             *time.Time
}

func (e *env) outboxRow(t *testing.T, requestID, to, subjectPrefix string) outboxRow {
	t.Helper()
	var o outboxRow
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT subject, body, html, failure, sent_at, failed_at FROM outbox_emails
		WHERE request_id = $1 AND to_email = $2 AND starts_with(subject, $3)`, requestID, to, subjectPrefix).
		Scan(&o.Subject, &o.Body, &o.HTML, &o.Failure, &o.SentAt, &o.FailedAt))
	return o
}

// TestSendGridDelivery checks R-ACT-4's delivery end to end, with the worker and a local server that
// speaks SendGrid's v3 API (as SENDGRID_API_HOST points the binary at one): each outbox email is
// posted once with the API key, its recipient, its subject and both parts (text/plain first, then
// text/html, exactly as the outbox keeps them) and its row is marked sent; a 5xx or a 429 is retried
// until accepted; a 4xx other than 429 is not retried: the row is marked failed with the answer and
// later deliveries of the same request leave it alone.
func TestSendGridDelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acct := e.A.Account.ID
	collab, collabTok := e.A.Users[storage.RoleCollaborator], e.A.Tokens[storage.RoleCollaborator]
	ok, okTok := e.userWith(t, acct, "ok@a.test", storage.RoleApprover, false)
	flaky, _ := e.userWith(t, acct, "flaky@a.test", storage.RoleApprover, false)
	limited, _ := e.userWith(t, acct, "limited@a.test", storage.RoleApprover, false)
	refused, _ := e.userWith(t, acct, "refused@a.test", storage.RoleApprover, false)
	sg := newFakeSendGrid(t, map[string][]int{
		flaky.Email:   {http.StatusServiceUnavailable, http.StatusBadGateway},
		limited.Email: {http.StatusTooManyRequests},
		refused.Email: {http.StatusBadRequest, http.StatusBadRequest, http.StatusBadRequest},
	})
	testworker.Start(t, testenv.Temporal(t), e.server.App.TaskQueue, &activities.Activities{Store: e.store,
		Mail: email.NewSendGrid("SG.test-key", sg.srv.URL, "signoff@example.test", "Signoff")}, testworker.Options{})

	camp := e.laterCampaign(t, collab, `Mail <&> "test"`)
	r := e.submit(t, camp.ID, collabTok, ok.ID, flaky.ID, limited.ID, refused.ID)
	const subject = `Approval requested: Mail <&> "test"`

	eventually(t, 30*time.Second, func() bool {
		return e.outboxRow(t, r.ID, flaky.Email, subject).SentAt != nil && e.outboxRow(t, r.ID, limited.Email, subject).SentAt != nil &&
			e.outboxRow(t, r.ID, ok.Email, subject).SentAt != nil
	}, func() string { return "the approvers' emails were not all marked sent" })

	for _, u := range []storage.User{ok, flaky, limited} {
		row := e.outboxRow(t, r.ID, u.Email, subject)
		require.Nil(t, row.FailedAt, u.Email)
		calls := sg.callsTo(u.Email, subject)
		want := map[string]int{ok.Email: 1, flaky.Email: 3, limited.Email: 2}[u.Email]
		require.Len(t, calls, want, "%s: requests to SendGrid (the retries of a 5xx or 429 included)", u.Email)
		last := calls[len(calls)-1]
		require.Equal(t, http.StatusAccepted, last.Status)
		require.Equal(t, http.MethodPost, last.Method)
		require.Equal(t, "/v3/mail/send", last.Path)
		require.Equal(t, "Bearer SG.test-key", last.Auth)
		require.Equal(t, "application/json", last.ContentType)
		require.Equal(t, "signoff@example.test", last.Body.From.Email)
		require.Equal(t, "Signoff", last.Body.From.Name)
		require.Equal(t, subject, last.Body.Subject)
		require.Len(t, last.Body.Personalizations, 1)
		require.Equal(t, u.Email, last.Body.Personalizations[0].To[0].Email)
		require.Equal(t, u.Name, last.Body.Personalizations[0].To[0].Name)
		require.Len(t, last.Body.Content, 2, "text and HTML: %s", last.Raw)
		require.Equal(t, "text/plain", last.Body.Content[0].Type)
		require.Equal(t, row.Body, last.Body.Content[0].Value)
		require.Equal(t, "text/html", last.Body.Content[1].Type)
		require.Equal(t, row.HTML, last.Body.Content[1].Value)
		require.Contains(t, row.Body, collab.Name+` asks you to approve "Mail <&> \"test\""`)
		requireHTMLPart(t, row.HTML, subject, strings.TrimSuffix(row.Body, "\n\n— Signoff"))
	}

	// The refused one: asked once, marked failed with SendGrid's answer, never sent.
	row := e.outboxRow(t, r.ID, refused.Email, subject)
	require.Nil(t, row.SentAt)
	require.NotNil(t, row.FailedAt, "a 400 marks the email failed")
	require.Contains(t, row.Failure, "400")
	require.Contains(t, row.Failure, "answer Bad Request")
	require.Len(t, sg.callsTo(refused.Email, subject), 1, "a 4xx other than 429 is not retried")

	// A later delivery of the same request (the decision's) sends the new emails and leaves the
	// refused one alone.
	status, body := e.act(t, r.ID, "approve", okTok, "fine")
	require.Equal(t, http.StatusOK, status, "%v", body)
	eventually(t, 20*time.Second, func() bool { return e.outboxRow(t, r.ID, collab.Email, "Approved:").SentAt != nil },
		func() string { return "the submitter's approval email was not sent" })
	require.Len(t, sg.callsTo(collab.Email, ""), 1)
	require.Len(t, sg.callsTo(refused.Email, subject), 1, "the refused email is not sent again")
	eventually(t, 20*time.Second, func() bool { return len(sg.callsTo(flaky.Email, "Approved by "+ok.Name+`: Mail <&> "test"`)) == 1 },
		func() string { return "the other approvers are told, by email too" })

	// The outbox lists both parts and the failure.
	var out struct {
		Items []map[string]any `json:"items"`
	}
	e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/dev/outbox", e.A.Tokens[storage.RoleAdmin], nil, &out)
	found := false
	for _, m := range out.Items {
		if m["to"] == refused.Email && m["subject"] == subject {
			found = true
			require.NotNil(t, m["failed_at"])
			require.Contains(t, m["failure"], "400")
			require.True(t, strings.HasPrefix(m["html"].(string), "<!DOCTYPE html>"))
			require.Nil(t, m["sent_at"])
		}
	}
	require.True(t, found, "the refused email is listed")
}
