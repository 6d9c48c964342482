package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/worker"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/ai"
	"github.com/signoff/signoff/demodata"
	"github.com/signoff/signoff/sharelink"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/testenv/testworker"
	"github.com/signoff/signoff/workflows"
)

// Helpers of the client approval draft tests; their names start with "draft", the area they serve.

// draftTimeout bounds every wait for a build.
const draftTimeout = 30 * time.Second

// draftDirectorySize is how many demo people tenant A's directory holds.
const draftDirectorySize = 300

// draftNoCompanyTitle is the title of the people of A's directory who have no company name or domain.
const draftNoCompanyTitle = "Nocompany Tester"

// draftEnv is newEnv with a share-link sealer, a people directory for tenant A (and a smaller one for
// B), a campaign of A with full content and a saved search of A that matches at least 25 usable people.
type draftEnv struct {
	*env
	sealer *sharelink.Sealer
	camp   storage.Campaign    // A's campaign, created by A's CSM, with full content
	search storage.SavedSearch // A's saved search: industry Software (≥ 25 usable people)
	csm    string              // A's CSM token
	admin  string              // A's admin token
}

// draftWorkerOpts configure the worker of draftStartWorker.
type draftWorkerOpts struct {
	capacity int           // BuildCapacity; 0 means 10
	delay    time.Duration // artificial latency of every local AI step
	// register, when set, runs after the real workflows and activities are registered and before
	// the worker starts (to replace an activity and inject a failure).
	register func(w worker.Worker)
	// provider, when set, is the local AI provider instead of ai.Local{Delay: delay}.
	provider ai.Provider
}

// draftAIGate is the local AI provider with a gate: the first lead to be qualified waits until
// release (or its context ends), so a build can be held with some of its leads done and others not.
type draftAIGate struct {
	*ai.Local
	first   sync.Once
	open    chan struct{}
	release func()
}

func newDraftAIGate() *draftAIGate {
	g := &draftAIGate{Local: &ai.Local{}, open: make(chan struct{})}
	var once sync.Once
	g.release = func() { once.Do(func() { close(g.open) }) }
	return g
}

// Qualify holds the first call until the gate opens, then answers as ai.Local does.
func (g *draftAIGate) Qualify(ctx context.Context, m ai.Model, c ai.Campaign, l ai.Lead) (ai.Qualification, error) {
	hold := false
	g.first.Do(func() { hold = true })
	if hold {
		select {
		case <-g.open:
		case <-ctx.Done():
			return ai.Qualification{}, ctx.Err()
		}
	}
	return g.Local.Qualify(ctx, m, c, l)
}

// newDraftEnv builds the fixture without a worker: drafts stay processing until draftStartWorker.
func newDraftEnv(t *testing.T) *draftEnv {
	t.Helper()
	e := newEnv(t)
	e.server.App.Sealer = testenv.Sealer(t)
	de := &draftEnv{env: e, sealer: e.server.App.Sealer, csm: e.A.Tokens[storage.RoleCSM], admin: e.A.Tokens[storage.RoleAdmin]}
	ctx := context.Background()

	people := demodata.Contacts(draftDirectorySize)
	for i := 0; i < 5; i++ {
		people = append(people, storage.Contact{FirstName: fmt.Sprintf("Nora%d", i), LastName: "Nocompany",
			Email: fmt.Sprintf("nora%d@mail.test", i), Title: draftNoCompanyTitle, Country: "Germany"})
	}
	n, err := e.store.InsertContacts(ctx, e.A.Account.ID, people)
	require.NoError(t, err)
	require.Equal(t, len(people), n)
	_, err = e.store.InsertContacts(ctx, e.B.Account.ID, demodata.Contacts(60))
	require.NoError(t, err)

	de.search = draftSavedSearch(t, e, e.A, "Software people", storage.SearchFilters{Industries: []string{"Software"}})
	require.GreaterOrEqual(t, len(draftUsableMatches(t, e, e.A.Account.ID, de.search.Filters)), 25,
		"the fixture's saved search must match at least 25 usable people")
	de.camp = draftCampaign(t, e, e.A, "Q3 Software Outreach")
	return de
}

// draftStartWorker starts a real worker on the server's task queue, stopped when t ends.
func draftStartWorker(t *testing.T, de *draftEnv, o draftWorkerOpts) {
	t.Helper()
	if o.capacity == 0 {
		o.capacity = 10
	}
	provider := o.provider
	if provider == nil {
		provider = &ai.Local{Delay: o.delay}
	}
	testworker.Start(t, testenv.Temporal(t), de.server.App.TaskQueue, &activities.Activities{Store: de.store,
		Sealer: de.sealer, AI: ai.NewPipeline(provider, nil), BuildCapacity: o.capacity}, testworker.Options{Register: o.register})
}

// draftContent is full campaign content: two segments, two prompts, the four AI steps on the local
// provider, a sequence of two emails with multi-paragraph bodies and two tracking links.
func draftContent() storage.CampaignContent {
	lo, hi := 20, 5000
	steps := []string{"qualify", "segment", "personalise", "rewrite"}
	cfgs := make([]storage.AIModelConfig, len(steps))
	for i, s := range steps {
		cfgs[i] = storage.AIModelConfig{Step: s, Provider: "local", Model: "rules-v1", Temperature: 0.2}
	}
	return storage.CampaignContent{
		Segments: []storage.Segment{
			{Name: "Software leaders", Filters: storage.SearchFilters{Titles: []string{"CTO", "CEO", "VP of Marketing"},
				Industries: []string{"Software"}, CompanySizeMin: &lo, CompanySizeMax: &hi}},
			{Name: "Fintech finance", Filters: storage.SearchFilters{Industries: []string{"Fintech"}, Countries: []string{"Germany", "France"}}},
		},
		Prompts: []storage.Prompt{
			{Name: "Opening line", Text: "Write one opening sentence that ties the company to a real pressure of its size."},
			{Name: "Tone", Text: "Peer to peer, no buzzwords, one question as the call to action."},
		},
		AIModelConfigs: cfgs,
		Sequences: []storage.Sequence{{Name: "Outreach", Steps: []storage.SequenceStep{
			{Subject: "A quick idea for {{company_name}}", DelayDays: 0,
				Body: "Hi {{first_name}},\n\nTeams like {{company_name}} lose a day every month to manual reporting.\n\nWe cut that to an hour for similar teams.\n\nWorth a short call next week?"},
			{Subject: "Following up", DelayDays: 3,
				Body: "Hi {{first_name}},\r\n\r\nJust checking whether this landed.\r\n\r\nBest,\nSam"},
		}}},
		TrackingLinks: []storage.TrackingLink{
			{URL: "https://vendor.example/demo?utm_source=draft", Label: "Demo"},
			{URL: "https://vendor.example/case-study", Label: "Case study"},
		},
	}
}

// draftCampaign creates a campaign of tenant tn with draftContent, created by its CSM.
func draftCampaign(t *testing.T, e *env, tn tenant, name string) storage.Campaign {
	t.Helper()
	c, err := e.store.CreateCampaign(context.Background(), tn.Account.ID, tn.Users[storage.RoleCSM].ID, storage.NewCampaign{
		Name: name, Kind: storage.CampaignKindCampaign, Mode: storage.CampaignModeActive, Content: draftContent()})
	require.NoError(t, err)
	return c
}

// draftSavedSearch creates a saved search of tenant tn through the store.
func draftSavedSearch(t *testing.T, e *env, tn tenant, name string, f storage.SearchFilters) storage.SavedSearch {
	t.Helper()
	ss, err := e.store.CreateSavedSearch(context.Background(), tn.Account.ID, tn.Users[storage.RoleCSM].ID, name, f)
	require.NoError(t, err)
	return ss
}

// draftUsableMatches lists the people of an account the filters match who have a first and last name
// plus a company name or domain, in directory order (by id).
func draftUsableMatches(t *testing.T, e *env, accountID string, f storage.SearchFilters) []storage.Contact {
	t.Helper()
	all, err := e.store.SearchContacts(context.Background(), accountID, f, "", 100000)
	require.NoError(t, err)
	var out []storage.Contact
	for _, c := range all {
		if strings.TrimSpace(c.FirstName) != "" && strings.TrimSpace(c.LastName) != "" &&
			(strings.TrimSpace(c.CompanyName) != "" || strings.TrimSpace(c.Domain) != "") {
			out = append(out, c)
		}
	}
	return out
}

// draftSearchSource is a saved_search source.
func draftSearchSource(id string) map[string]any {
	return map[string]any{"type": "saved_search", "saved_search_id": id}
}

// draftJSON is a draft as the API answers it.
type draftJSON struct {
	ID              string            `json:"id"`
	AccountID       string            `json:"account_id"`
	CampaignID      string            `json:"campaign_id"`
	CampaignVersion *int              `json:"campaign_version"`
	Number          int               `json:"number"`
	Name            string            `json:"name"`
	Status          string            `json:"status"`
	Source          json.RawMessage   `json:"source"`
	ContactCount    int               `json:"contact_count"`
	Progress        *storage.Progress `json:"progress"`
	FailureReason   *string           `json:"failure_reason"`
	ShareURL        *string           `json:"share_url"`
	ReadyAt         *time.Time        `json:"ready_at"`
	AIDoneAt        *time.Time        `json:"ai_done_at"`
	SubmittedAt     *time.Time        `json:"submitted_at"`
}

// draftPost asks for a draft of campaignID and answers the status, the draft (when 200 or 202) and
// the raw object.
func draftPost(t *testing.T, e *env, campaignID, token string, body any) (int, draftJSON, map[string]any) {
	t.Helper()
	rec := e.request(t, http.MethodPost, "/v1/campaigns/"+campaignID+"/approval-drafts", token, body)
	raw := decodeObject(t, rec)
	var d draftJSON
	if rec.Code == http.StatusOK || rec.Code == http.StatusAccepted {
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &d), rec.Body.String())
	}
	return rec.Code, d, raw
}

// draftCreate asks for a draft and requires 202 with a processing draft of campaignID.
func draftCreate(t *testing.T, e *env, campaignID, token string, body any) draftJSON {
	t.Helper()
	status, d, raw := draftPost(t, e, campaignID, token, body)
	require.Equal(t, http.StatusAccepted, status, "answer: %v", raw)
	require.Equal(t, storage.DraftStatusProcessing, d.Status, "answer: %v", raw)
	require.Equal(t, campaignID, d.CampaignID)
	require.Contains(t, raw, "share_url", "share_url must be present (null) while processing")
	require.Nil(t, raw["share_url"], "share_url must be null while processing")
	return d
}

// draftGet reads a draft through the API, requiring 200.
func draftGet(t *testing.T, e *env, id, token string) draftJSON {
	t.Helper()
	var d draftJSON
	e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/approval-drafts/"+id, token, nil, &d)
	return d
}

// draftWait polls GET /v1/approval-drafts/{id} (require.Eventually style, at most draftTimeout) until
// done holds for the answer, and returns the last answer and the progress steps seen on the way.
// Every answer is also checked against R-DRAFT-8: a progress object always, share_url null while
// processing or failed and set once ready.
func draftWait(t *testing.T, e *env, id, token, what string, done func(draftJSON) bool) (draftJSON, []string) {
	t.Helper()
	var (
		mu         sync.Mutex
		last       draftJSON
		lastBody   string
		steps      []string
		violations []string
	)
	ok := assert.Eventually(t, func() bool {
		rec := serve(e, newRequest(http.MethodGet, "/v1/approval-drafts/"+id, token, ""))
		var d draftJSON
		var raw map[string]any
		mu.Lock()
		defer mu.Unlock()
		lastBody = rec.Body.String()
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &d) != nil || json.Unmarshal(rec.Body.Bytes(), &raw) != nil {
			violations = append(violations, fmt.Sprintf("GET answered %d: %s", rec.Code, lastBody))
			return true
		}
		last = d
		if _, isObj := raw["progress"].(map[string]any); !isObj {
			violations = append(violations, "no progress object: "+lastBody)
		}
		if _, present := raw["share_url"]; !present {
			violations = append(violations, "no share_url key: "+lastBody)
		}
		switch d.Status {
		case storage.DraftStatusProcessing, storage.DraftStatusFailed:
			if d.ShareURL != nil {
				violations = append(violations, "share_url set while "+d.Status+": "+lastBody)
			}
		case storage.DraftStatusReady:
			if d.ShareURL == nil {
				violations = append(violations, "share_url null while ready: "+lastBody)
			}
		}
		if d.Progress != nil && (len(steps) == 0 || steps[len(steps)-1] != d.Progress.Step) {
			steps = append(steps, d.Progress.Step)
		}
		return done(d)
	}, draftTimeout, 20*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	require.True(t, ok, "draft %s: %s within %s; last answer: %s", id, what, draftTimeout, lastBody)
	require.Empty(t, violations, "R-DRAFT-8 violated while waiting for draft %s", id)
	return last, steps
}

// draftWaitBuilt waits until the build ends (ready or failed) and requires status want.
func draftWaitBuilt(t *testing.T, e *env, id, token, want string) draftJSON {
	t.Helper()
	d, _ := draftWait(t, e, id, token, "build ends", func(d draftJSON) bool { return d.Status != storage.DraftStatusProcessing })
	require.Equal(t, want, d.Status, "failure_reason: %v", d.FailureReason)
	return d
}

// draftWaitAIDone waits until the draft is ready and its AI pipeline finished (progress step done).
func draftWaitAIDone(t *testing.T, e *env, id, token string) draftJSON {
	t.Helper()
	d, _ := draftWait(t, e, id, token, "AI pipeline done", func(d draftJSON) bool {
		return d.Status == storage.DraftStatusFailed || (d.Progress != nil && d.Progress.Step == "done")
	})
	require.Equal(t, storage.DraftStatusReady, d.Status, "failure_reason: %v", d.FailureReason)
	return d
}

// draftRow is what approval_drafts stores about a draft beyond the API view.
type draftRow struct {
	Status        string
	CopyID        *string
	TokenHash     []byte
	TokenSealed   []byte
	Snapshot      *string
	FailureReason *string
	Progress      storage.Progress
	ContactCount  int
}

// draftDBRow reads draft id from approval_drafts.
func draftDBRow(t *testing.T, e *env, id string) draftRow {
	t.Helper()
	var r draftRow
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT status, copy_campaign_id::text, token_hash, token_sealed,
		snapshot::text, failure_reason, progress, contact_count FROM approval_drafts WHERE id = $1`, id).
		Scan(&r.Status, &r.CopyID, &r.TokenHash, &r.TokenSealed, &r.Snapshot, &r.FailureReason, &r.Progress, &r.ContactCount))
	return r
}

// draftSnapshot decodes a stored snapshot.
func draftSnapshot(t *testing.T, r draftRow) storage.Snapshot {
	t.Helper()
	require.NotNil(t, r.Snapshot, "the draft has no snapshot")
	var s storage.Snapshot
	require.NoError(t, json.Unmarshal([]byte(*r.Snapshot), &s))
	return s
}

// draftLead is a lead of a campaign as stored.
type draftLead struct {
	ID          string
	SourceRef   string
	FirstName   string
	LastName    string
	CompanyName string
	Domain      string
	AI          *string
}

// draftLeads lists the leads of campaignID in import order.
func draftLeads(t *testing.T, e *env, campaignID string) []draftLead {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT id::text, source_ref, first_name, last_name, company_name, domain, ai::text
		FROM campaign_leads WHERE campaign_id = $1 ORDER BY position, id`, campaignID)
	require.NoError(t, err)
	defer rows.Close()
	var out []draftLead
	for rows.Next() {
		var l draftLead
		require.NoError(t, rows.Scan(&l.ID, &l.SourceRef, &l.FirstName, &l.LastName, &l.CompanyName, &l.Domain, &l.AI))
		out = append(out, l)
	}
	require.NoError(t, rows.Err())
	return out
}

// draftHiddenCampaigns lists the ids of the hidden campaigns (draft copies) of the database.
func draftHiddenCampaigns(t *testing.T, e *env) []string {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT id::text FROM campaigns WHERE hidden ORDER BY id`)
	require.NoError(t, err)
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		out = append(out, id)
	}
	require.NoError(t, rows.Err())
	return out
}

// draftRequireStateExcept requires every table but the ones named to be exactly as in before.
func draftRequireStateExcept(t *testing.T, e *env, before map[string]string, except ...string) {
	t.Helper()
	after := dbState(t, e.pool)
	for _, x := range except {
		delete(after, x)
	}
	want := map[string]string{}
	for k, v := range before {
		want[k] = v
	}
	for _, x := range except {
		delete(want, x)
	}
	require.Equal(t, want, after, "tables other than %v changed", except)
}

// draftInsertProcessing creates a processing draft of campaignID that no workflow moves on (a build
// in flight), asked for a minute ago by tn's CSM, and returns its id.
func draftInsertProcessing(t *testing.T, e *env, tn tenant, campaignID string) string {
	t.Helper()
	return e.fx.StuckDraft(t, tn.Account.ID, campaignID, tn.Users[storage.RoleCSM].ID)
}

// draftCSV joins a header line and rows into a CSV file.
func draftCSV(header string, rows ...string) []byte {
	return []byte(strings.Join(append([]string{header}, rows...), "\n") + "\n")
}

// draftCSVPeople returns n complete rows for the header "First Name,Last Name,Email,Company Name,Title".
func draftCSVPeople(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("Ada%02d,Lovelace%02d,ada%02d@csv.test,Engines %02d Ltd,CTO", i+1, i+1, i+1, i+1)
	}
	return out
}

// draftUpload posts a CSV file as multipart/form-data: field "file" with a raw file name (no escaping,
// so any byte reaches the server), plus "mapping" when not empty. The object answered is nil when the
// answer has no body.
func draftUpload(t *testing.T, e *env, token, filename string, content []byte, mapping string) (int, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+filename+`"`)
	h.Set("Content-Type", "text/csv")
	fw, err := mw.CreatePart(h)
	require.NoError(t, err)
	_, err = fw.Write(content)
	require.NoError(t, err)
	if mapping != "" {
		require.NoError(t, mw.WriteField("mapping", mapping))
	}
	require.NoError(t, mw.Close())
	rec := e.request(t, http.MethodPost, "/v1/csv-uploads", token, buf.Bytes(), "Content-Type", mw.FormDataContentType())
	var body map[string]any
	if rec.Body.Len() > 0 {
		body = decodeObject(t, rec)
	}
	return rec.Code, body
}

// draftUploadOK uploads a CSV and requires 201; it answers the upload's id and body.
func draftUploadOK(t *testing.T, e *env, token, filename string, content []byte, mapping string) (string, map[string]any) {
	t.Helper()
	status, body := draftUpload(t, e, token, filename, content, mapping)
	require.Equal(t, http.StatusCreated, status, "answer: %v", body)
	id, _ := body["id"].(string)
	require.NotEmpty(t, id, "answer: %v", body)
	return id, body
}

// draftIDs lists the "id" of each item of a list answer.
func draftIDs(t *testing.T, e *env, path, token string) []string {
	t.Helper()
	var out struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	e.doJSON(t, http.StatusOK, http.MethodGet, path, token, nil, &out)
	ids := make([]string, len(out.Items))
	for i, it := range out.Items {
		ids[i] = it.ID
	}
	return ids
}

// draftRunEnd waits for the build workflow of draftID to close and answers its status and, for a
// run that ended Failed, its failure's message (SPEC §7: a failed build fails its run with the human
// reason).
func draftRunEnd(t *testing.T, e *env, draftID string) (enumspb.WorkflowExecutionStatus, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), draftTimeout)
	defer cancel()
	wid := workflows.ApprovalDraftWorkflowID(draftID)
	_ = e.server.App.Temporal.GetWorkflow(ctx, wid, "").Get(ctx, nil) // waits for the close; the outcome is read below
	desc, err := e.server.App.Temporal.DescribeWorkflowExecution(ctx, wid, "")
	require.NoError(t, err)
	status := desc.GetWorkflowExecutionInfo().GetStatus()
	require.NotEqual(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, status, "the build's run did not close")
	var message string
	it := e.server.App.Temporal.GetWorkflowHistory(ctx, wid, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		if f := ev.GetWorkflowExecutionFailedEventAttributes(); f != nil {
			message = f.GetFailure().GetMessage()
		}
	}
	return status, message
}

// draftActivityAttempts reads the build workflow's history and answers, per activity type, the
// highest attempt that ran (1 means it was never retried).
func draftActivityAttempts(t *testing.T, e *env, draftID string) map[string]int32 {
	t.Helper()
	// Local activities are recorded when their workflow task completes, which may be after the
	// database shows their effect: wait for the failed build's run to close first.
	draftRunEnd(t, e, draftID)
	it := e.server.App.Temporal.GetWorkflowHistory(context.Background(), workflows.ApprovalDraftWorkflowID(draftID), "", false,
		enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	types := map[int64]string{}
	out := map[string]int32{}
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			types[ev.GetEventId()] = a.GetActivityType().GetName()
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil {
			name := types[a.GetScheduledEventId()]
			out[name] = max(out[name], a.GetAttempt())
		}
		// A local activity's outcome is a marker whose data names it and counts its attempts.
		if m := ev.GetMarkerRecordedEventAttributes(); m != nil && m.GetMarkerName() == "LocalActivity" {
			var data struct {
				ActivityType string
				Attempt      int32
			}
			if p := m.GetDetails()["data"].GetPayloads(); len(p) > 0 && json.Unmarshal(p[0].GetData(), &data) == nil {
				out[data.ActivityType] = max(out[data.ActivityType], data.Attempt)
			}
		}
	}
	return out
}
