package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/signoff/signoff/api"
	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/workflows"
)

// operatorToken is the platform operator token every test server is configured with.
const operatorToken = "operator-token-0123456789abcdef0123456789"

// roles lists the five roles of R-AUTH-3 in a stable order.
var roles = testenv.Roles

// tenant is one account of the fixture with one user (and token) per role.
type tenant = testenv.Tenant

// env is one test's server on its own database, with two tenants A and B.
type env struct {
	pool    *pgxpool.Pool
	store   *storage.Store
	server  *api.Server
	handler http.Handler
	fx      testenv.Fixtures
	A, B    tenant
}

// newEnv builds a server on a fresh database and the two-tenant fixture.
func newEnv(t *testing.T) *env {
	t.Helper()
	pool := testenv.Database(t)
	store := storage.New(pool)
	srv := &api.Server{App: &app.App{Store: store, Temporal: testenv.Temporal(t), PublicURL: "http://example.test", TaskQueue: testenv.TaskQueue(t)}, Log: testenv.Logger(t), OperatorToken: operatorToken}
	e := &env{pool: pool, store: store, server: srv, handler: srv.Handler(), fx: testenv.Fixtures{Pool: pool}}
	watchReviews(t, srv)
	e.A = testenv.NewTenant(t, store, "Account A", "a.test")
	e.B = testenv.NewTenant(t, store, "Account B", "b.test")
	return e
}

// serverWith is a copy of the test's server whose use cases run on a copy of its App changed by change.
func (e *env) serverWith(change func(a *app.App)) *api.Server {
	srv := *e.server
	uses := *e.server.App
	change(&uses)
	srv.App = &uses
	return &srv
}

// watchReviews runs srv's review change feed for the test's duration and waits until it is heard,
// so review reads in tests go through the cache as in production.
func watchReviews(t *testing.T, srv *api.Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.WatchReviews(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, srv.ReviewsWatched, 10*time.Second, 5*time.Millisecond, "the review change feed never started")
}

// newUser creates a user of role in account accountID and returns it with its token.
func (e *env) newUser(t *testing.T, accountID, email, role string) (storage.User, string) {
	t.Helper()
	return testenv.NewUser(t, e.store, accountID,
		storage.NewUser{Email: email, Name: strings.ToUpper(role[:1]) + role[1:] + " " + email, Role: role})
}

// newCampaign creates an active campaign without a window in tenant tn as the user of role, through the store.
func (e *env) newCampaign(t *testing.T, tn tenant, role, name string) storage.Campaign {
	t.Helper()
	return e.campaignAs(t, tn.Users[role], name, storage.CampaignKindCampaign, storage.CampaignModeActive, nil, nil)
}

// hiddenCopy makes the hidden copy of campaign source that a draft build makes, through the store (a
// draft of source asked for by tn's CSM, then its copy), and returns the copy's id.
func (e *env) hiddenCopy(t *testing.T, tn tenant, source storage.Campaign) string {
	t.Helper()
	ctx := context.Background()
	d, _, err := e.store.CreateDraft(ctx, storage.NewDraft{AccountID: tn.Account.ID, CampaignID: source.ID,
		CreatedBy: tn.Users[storage.RoleCSM].ID, Source: json.RawMessage(`{"type":"csv","csv_upload_id":"` + testenv.NewUUID() + `"}`),
		SourceKey: "csv:" + testenv.NewUUID(), ContactCount: 5}, false)
	require.NoError(t, err)
	copyID, err := e.store.CopyCampaignForDraft(ctx, tn.Account.ID, d.ID)
	require.NoError(t, err)
	return copyID
}

// newSavedSearch creates a saved search in tenant tn, through the store.
func (e *env) newSavedSearch(t *testing.T, tn tenant, name string) storage.SavedSearch {
	t.Helper()
	lo, hi := 10, 500
	ss, err := e.store.CreateSavedSearch(context.Background(), tn.Account.ID, tn.Users[storage.RoleCSM].ID, name,
		storage.SearchFilters{Titles: []string{"CTO"}, Countries: []string{"DE"}, CompanySizeMin: &lo, CompanySizeMax: &hi})
	require.NoError(t, err)
	return ss
}

// request sends one request to the handler. body may be nil (no body), a string or []byte (sent
// as is) or anything else (sent as JSON). token "" sends no Authorization header.
func (e *env) request(t *testing.T, method, path, token string, body any, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		require.NoError(t, err)
		r = bytes.NewReader(buf)
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	require.NotEmpty(t, rec.Header().Get(api.RequestIDHeader), "%s %s: every response carries X-Request-ID", method, path)
	return rec
}

// newRequest builds a request without touching a *testing.T, for use from other goroutines.
func newRequest(method, path, token, body string) *http.Request {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// serve runs req through the handler; safe from any goroutine.
func serve(e *env, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return rec
}

// do sends a request and decodes the JSON object answer (nil for an empty body).
func (e *env) do(t *testing.T, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	rec := e.request(t, method, path, token, body)
	return rec.Code, decodeObject(t, rec)
}

// doJSON sends a request and decodes the answer into out, requiring status want.
func (e *env) doJSON(t *testing.T, want int, method, path, token string, body any, out any) {
	t.Helper()
	rec := e.request(t, method, path, token, body)
	require.Equal(t, want, rec.Code, "%s %s: %s", method, path, rec.Body.String())
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), out), rec.Body.String())
}

func decodeObject(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if rec.Body.Len() == 0 {
		return nil
	}
	require.Contains(t, rec.Header().Get("Content-Type"), "application/json", rec.Body.String())
	var m map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m), rec.Body.String())
	return m
}

// requireError checks an error answer's status and shape {"error":{"code","message"}} and returns the error object.
func requireError(t *testing.T, gotStatus int, body map[string]any, wantStatus int, code string) map[string]any {
	t.Helper()
	require.Equal(t, wantStatus, gotStatus, "answer: %v", body)
	require.NotNil(t, body, "an error answer must have a JSON body")
	errObj, ok := body["error"].(map[string]any)
	require.True(t, ok, "error body must be {\"error\":{…}}: %v", body)
	require.Equal(t, code, errObj["code"], "answer: %v", body)
	msg, _ := errObj["message"].(string)
	require.NotEmpty(t, msg, "error message must not be empty: %v", body)
	return errObj
}

// requireInvalid checks a 422 naming field.
func requireInvalid(t *testing.T, gotStatus int, body map[string]any, field string) map[string]any {
	t.Helper()
	errObj := requireError(t, gotStatus, body, http.StatusUnprocessableEntity, string(errs.Validation))
	require.Equal(t, field, errObj["field"], "answer: %v", body)
	return errObj
}

// countRows counts the rows of table.
func countRows(t *testing.T, pool *pgxpool.Pool, table string) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n))
	return n
}

// dbState fingerprints every table (row count and a hash of every row), so a test can check that
// a failed request wrote nothing anywhere. It first waits for the audience counts in flight
// (settleAudienceCounts): they are the worker's writes, not the request's.
func dbState(t *testing.T, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	settleAudienceCounts(t, pool)
	out := map[string]string{}
	for _, table := range tables(t, pool) {
		var n int
		var h *string
		require.NoError(t, pool.QueryRow(context.Background(),
			`SELECT count(*), md5(string_agg(x::text, '|' ORDER BY x::text)) FROM `+table+` x`).Scan(&n, &h))
		v := "empty"
		if h != nil {
			v = *h
		}
		out[table] = strconv.Itoa(n) + ":" + v
	}
	return out
}

// tables lists the application's tables (the migration bookkeeping excluded).
func tables(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT tablename FROM pg_tables
		WHERE schemaname = 'public' AND tablename NOT LIKE 'goose%' ORDER BY tablename`)
	require.NoError(t, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.NotEmpty(t, names)
	return names
}

// requireNoWrites fails when any table changed since before.
func requireNoWrites(t *testing.T, pool *pgxpool.Pool, before map[string]string) {
	t.Helper()
	require.Equal(t, before, dbState(t, pool), "a failed request must write nothing")
}

// rowJSON returns the row of table with id as JSON text, to compare a row before and after.
func rowJSON(t *testing.T, pool *pgxpool.Pool, table, id string) string {
	t.Helper()
	var s string
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT row_to_json(x)::text FROM `+table+` x WHERE id = $1`, id).Scan(&s))
	return s
}

// mustTime parses an RFC 3339 time.
func mustTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, ok := v.(string)
	require.True(t, ok, "want a time string, got %v", v)
	tm, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return tm
}

// settleAudienceCounts waits until no request's audience count is in flight (R-POL-3): a request's
// workflow records its audience_size shortly after the submission answered, a write of the worker
// that must not fall between two snapshots of dbState. A request whose workflow does not run, or
// runs where no worker polls, has no count in flight.
func settleAudienceCounts(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rows, err := pool.Query(context.Background(), `SELECT id::text FROM approval_requests
			WHERE audience_size IS NULL AND workflow_started_at IS NOT NULL ORDER BY id`)
		require.NoError(t, err)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		counting := ""
		for _, id := range ids {
			if audienceCountInFlight(t, id) {
				counting = id
				break
			}
		}
		if counting == "" {
			return
		}
		require.Truef(t, time.Now().Before(deadline), "the audience count of request %s is still in flight after 30 s", counting)
		time.Sleep(20 * time.Millisecond)
	}
}

// audienceCountInFlight reports whether the workflow of request id is counting its audience, or has
// yet to run its first workflow task (which starts the count) on a queue a worker polls.
func audienceCountInFlight(t *testing.T, id string) bool {
	t.Helper()
	ctx := context.Background()
	tc := temporalOf(t)
	desc, err := tc.DescribeWorkflowExecution(ctx, workflows.ApprovalRequestWorkflowID(id), "")
	if err != nil || desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return false
	}
	for _, a := range desc.GetPendingActivities() {
		if a.GetActivityType().GetName() == "RecordAudience" {
			return true
		}
	}
	if desc.GetWorkflowExecutionInfo().GetHistoryLength() > 3 {
		return false // past its first workflow task: the count ran, or this run has none
	}
	q, err := tc.DescribeTaskQueue(ctx, desc.GetExecutionConfig().GetTaskQueue().GetName(), enumspb.TASK_QUEUE_TYPE_WORKFLOW)
	return err == nil && len(q.GetPollers()) > 0
}

// temporalClients holds each test's client of the dev server, for settleAudienceCounts.
var temporalClients sync.Map

// temporalOf is t's client of the dev server, dialled once per test.
func temporalOf(t *testing.T) client.Client {
	t.Helper()
	if c, ok := temporalClients.Load(t); ok {
		return c.(client.Client)
	}
	c := testenv.Temporal(t)
	temporalClients.Store(t, c)
	t.Cleanup(func() { temporalClients.Delete(t) })
	return c
}
