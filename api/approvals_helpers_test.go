package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/testenv/testworker"
)

// Helpers of the approval request tests . They drive the API over HTTP, with a real worker
// on the server's task queue, and read the database to check what was stored.

// newApprovalEnv is newEnv with an immediate approval window and a real worker running the approval
// workflows on the server's task queue.
func newApprovalEnv(t *testing.T, window time.Duration) *env {
	t.Helper()
	e := newEnv(t)
	e.server.App.ImmediateApprovalWindow = window
	testworker.Start(t, testenv.Temporal(t), e.server.App.TaskQueue, &activities.Activities{Store: e.store}, testworker.Options{})
	return e
}

// campaignView is a campaign as GET /v1/campaigns/{id} answers it.
type campaignView struct {
	storage.Campaign
	Ribbon *string `json:"ribbon"`
}

// launchMargin is how far ahead the tests put a start_at they must act before (approve a
// campaign before it starts, read a request between its start_at and end_at): wide enough for a slow,
// loaded machine, and a test fails, rather than skip its check, when the machine is slower still.
const launchMargin = 20 * time.Second

// in returns the time d from now, in UTC, rounded to the microsecond Postgres keeps.
func in(d time.Duration) *time.Time {
	v := time.Now().Add(d).UTC().Truncate(time.Microsecond)
	return &v
}

// campaignAs creates a campaign through the store, created by user, with kind, mode and window given.
func (e *env) campaignAs(t *testing.T, user storage.User, name, kind, mode string, start, end *time.Time) storage.Campaign {
	t.Helper()
	c, err := e.store.CreateCampaign(context.Background(), user.AccountID, user.ID, storage.NewCampaign{
		Name: name, Kind: kind, Mode: mode, StartAt: start, EndAt: end, Content: testenv.CampaignContent(),
	})
	require.NoError(t, err)
	return c
}

// laterCampaign is an active campaign of user starting in an hour and ending in two: submittable, and
// far enough out that its workflow never launches while a test runs.
func (e *env) laterCampaign(t *testing.T, user storage.User, name string) storage.Campaign {
	t.Helper()
	return e.campaignAs(t, user, name, storage.CampaignKindCampaign, storage.CampaignModeActive, in(time.Hour), in(2*time.Hour))
}

// userWith creates a user with role and can_approve through the store.
func (e *env) userWith(t *testing.T, accountID, email, role string, canApprove bool) (storage.User, string) {
	t.Helper()
	return testenv.NewUser(t, e.store, accountID, storage.NewUser{Email: email, Name: "User " + email, Role: role, CanApprove: canApprove})
}

// submitBody is the body of POST /v1/campaigns/{id}/approval-requests.
func submitBody(note string, approverIDs ...string) map[string]any {
	ids := approverIDs
	if ids == nil {
		ids = []string{}
	}
	return map[string]any{"approver_ids": ids, "note": note}
}

// submit submits campaign campID as token to approvers and requires 201 and a pending request.
func (e *env) submit(t *testing.T, campID, token string, approverIDs ...string) storage.ApprovalRequest {
	t.Helper()
	var r storage.ApprovalRequest
	e.doJSON(t, http.StatusCreated, http.MethodPost, "/v1/campaigns/"+campID+"/approval-requests", token,
		submitBody("please review", approverIDs...), &r)
	require.Equal(t, storage.RequestStatusPending, r.Status)
	require.Equal(t, campID, r.CampaignID)
	return r
}

// act sends approve, reject or cancel on request id as token; note "" sends no body.
func (e *env) act(t *testing.T, id, action, token, note string) (int, map[string]any) {
	t.Helper()
	var body any
	if note != "" {
		body = map[string]any{"note": note}
	}
	return e.do(t, http.MethodPost, "/v1/approval-requests/"+id+"/"+action, token, body)
}

// storedRequest reads a request from the database.
func (e *env) storedRequest(t *testing.T, accountID, id string) storage.ApprovalRequest {
	t.Helper()
	r, err := e.store.ApprovalRequest(context.Background(), accountID, id)
	require.NoError(t, err)
	return r
}

// storedCampaign reads a campaign from the database.
func (e *env) storedCampaign(t *testing.T, accountID, id string) storage.Campaign {
	t.Helper()
	c, err := e.store.Campaign(context.Background(), accountID, id)
	require.NoError(t, err)
	return c
}

// viewCampaign answers GET /v1/campaigns/{id} as token.
func (e *env) viewCampaign(t *testing.T, id, token string) campaignView {
	t.Helper()
	var v campaignView
	e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/campaigns/"+id, token, nil, &v)
	return v
}

// history answers a history endpoint (JSON) as token.
func (e *env) history(t *testing.T, path, token string) []storage.ApprovalEvent {
	t.Helper()
	var out struct {
		Items []storage.ApprovalEvent `json:"items"`
	}
	e.doJSON(t, http.StatusOK, http.MethodGet, path, token, nil, &out)
	require.NotNil(t, out.Items, "lists are {\"items\":[…]}")
	return out.Items
}

// eventTypes lists the types of events in order.
func eventTypes(events []storage.ApprovalEvent) []string {
	out := make([]string, len(events))
	for i, ev := range events {
		out[i] = ev.Type
	}
	return out
}

// listItems answers a list endpoint as token and returns its items.
func (e *env) listItems(t *testing.T, path, token string) []map[string]any {
	t.Helper()
	var out struct {
		Items []map[string]any `json:"items"`
	}
	e.doJSON(t, http.StatusOK, http.MethodGet, path, token, nil, &out)
	require.NotNil(t, out.Items, "lists are {\"items\":[…]}")
	return out.Items
}

// inboxIDs lists the request ids in token's inbox.
func (e *env) inboxIDs(t *testing.T, token string) []string {
	t.Helper()
	var ids []string
	for _, it := range e.listItems(t, "/v1/approvals/inbox", token) {
		ids = append(ids, it["id"].(string))
	}
	return ids
}

// notificationsFor lists token's notifications about request reqID of kind ("" for any).
func (e *env) notificationsFor(t *testing.T, token, reqID, kind string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, n := range e.listItems(t, "/v1/notifications", token) {
		if n["request_id"] == reqID && (kind == "" || n["kind"] == kind) {
			out = append(out, n)
		}
	}
	return out
}

// eventCount counts the events of type typ ("" for any) of request reqID in the database.
func eventCount(t *testing.T, e *env, reqID, typ string) int {
	t.Helper()
	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM approval_events WHERE request_id = $1 AND ($2 = '' OR type = $2)`, reqID, typ).Scan(&n))
	return n
}

// launchCount counts the launch records of a campaign.
func launchCount(t *testing.T, e *env, campID string) int {
	t.Helper()
	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM campaign_launches WHERE campaign_id = $1`, campID).Scan(&n))
	return n
}

// pollUntil polls cond every tick until it holds (true) or timeout passes (false); it never fails the
// test, so any goroutine may call it.
func pollUntil(timeout, tick time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(tick)
	}
}

// eventually polls cond from the test goroutine every 100 ms until it holds or timeout passes; msg
// describes the failure (it is called only then, so it can show the last state seen).
func eventually(t *testing.T, timeout time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	if !pollUntil(timeout, 100*time.Millisecond, cond) {
		require.FailNowf(t, "condition not met in time", "after %s: %s", timeout, msg())
	}
}

// waitStatus waits until request id of accountID has status.
func (e *env) waitStatus(t *testing.T, accountID, id, status string, timeout time.Duration) storage.ApprovalRequest {
	t.Helper()
	var r storage.ApprovalRequest
	eventually(t, timeout, func() bool {
		r = e.storedRequest(t, accountID, id)
		return r.Status == status
	}, func() string { return "request " + id + ": want status " + status + ", last seen " + r.Status })
	return r
}

// waitEvent waits until request reqID has an event of type typ.
func (e *env) waitEvent(t *testing.T, reqID, typ string, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, func() bool { return eventCount(t, e, reqID, typ) > 0 },
		func() string { return "request " + reqID + ": no " + typ + " event" })
}

// errorCode extracts the error code of a raw answer body, or "" when it is not an error answer.
func errorCode(body []byte) string {
	var m struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	return m.Error.Code
}

// hasApprover reports whether r lists userID in state.
func hasApprover(r storage.ApprovalRequest, userID, state string) bool {
	for _, a := range r.Approvers {
		if a.UserID == userID && a.State == state {
			return true
		}
	}
	return false
}

// ribbonText is the ribbon or "" when there is none.
func ribbonText(v campaignView) string {
	if v.Ribbon == nil {
		return ""
	}
	return *v.Ribbon
}

// raceRounds runs round(i) for i in [0, n) with concurrency rounds at a time.
func raceRounds(n, concurrency int, round func(i int)) {
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			round(i)
		}()
	}
	wg.Wait()
}

// submitRace creates campaign "<name> <i>" of A's collaborator through the store and submits it as
// them to approverIDs, answering the request or the failure: it runs in a race's goroutines, where a
// failed require could not stop the test.
func (e *env) submitRace(i int, name string, approverIDs ...string) (storage.ApprovalRequest, error) {
	c, err := e.store.CreateCampaign(context.Background(), e.A.Account.ID, e.A.Users[storage.RoleCollaborator].ID, storage.NewCampaign{
		Name: fmt.Sprintf("%s %03d", name, i), Kind: storage.CampaignKindCampaign, Mode: storage.CampaignModeActive,
		StartAt: in(time.Hour), EndAt: in(2 * time.Hour), Content: testenv.CampaignContent()})
	if err != nil {
		return storage.ApprovalRequest{}, err
	}
	body, err := json.Marshal(map[string]any{"approver_ids": approverIDs})
	if err != nil {
		return storage.ApprovalRequest{}, err
	}
	rec := serve(e, newRequest(http.MethodPost, "/v1/campaigns/"+c.ID+"/approval-requests", e.A.Tokens[storage.RoleCollaborator], string(body)))
	if rec.Code != http.StatusCreated {
		return storage.ApprovalRequest{}, fmt.Errorf("submit: %d %s", rec.Code, rec.Body.String())
	}
	var r storage.ApprovalRequest
	err = json.Unmarshal(rec.Body.Bytes(), &r)
	return r, err
}

// fireTogether sends the requests at the same moment and answers their codes and error codes.
func fireTogether(e *env, reqs []*http.Request) ([]int, []string) {
	codes, errCodes := make([]int, len(reqs)), make([]string, len(reqs))
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for k, req := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			rec := serve(e, req)
			codes[k], errCodes[k] = rec.Code, errorCode(rec.Body.Bytes())
		}()
	}
	close(gate)
	wg.Wait()
	return codes, errCodes
}
