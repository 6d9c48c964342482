package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
)

// Bad text: NUL bytes, invalid UTF-8, control characters and huge strings in any text field of a JSON
// body must never answer 500 (nor, in a decision note, reach the workflow). Every
// CSM-facing endpoint that takes a JSON body with text is listed below with a body it accepts; for
// every string in that body (found by walking it, so a new field is covered without editing the
// test) each bad value is put in its place and sent. Every answer must be a 422 naming that field,
// and no row of any table may change (every table is read back). A field with a length limit of its
// own is also sent one character over it. The valid bodies are sent last and must be accepted, so no
// refusal above is an accident of a body that was wrong anyway.

// textFuzzEndpoint is an endpoint with a JSON body it accepts.
type textFuzzEndpoint struct {
	name   string
	method string
	path   string
	token  string
	body   map[string]any
	ok     int // the status the body answers
	// maxChars are the fields (by path) whose own limit, in characters, is below the backstop of
	// every string: a value one character over it is refused naming the field.
	maxChars map[string]int
}

// textFuzzValue is a bad value for a string field, as the JSON literal that is sent.
type textFuzzValue struct {
	name    string
	literal string // raw bytes, put in the body where the string was
	message string // what the 422's message must say
	oneLine bool   // refused only in one-line fields (multi-line fields take line breaks)
}

var textFuzzValues = []textFuzzValue{
	{"NUL escaped", `"a\u0000b"`, "NUL", false},
	{"NUL alone", `"\u0000"`, "NUL", false},
	{"invalid UTF-8", "\"Ana \xff Ruiz\"", "valid UTF-8", false},
	{"truncated UTF-8", "\"Jos\xc3\"", "valid UTF-8", false},
	{"UTF-8 encoded surrogate", "\"\xed\xa0\x80\"", "valid UTF-8", false},
	{"lone surrogate escape", `"x\ud800y"`, "valid UTF-8", false},
	{"bell", `"a\u0007b"`, "control characters", false},
	{"escape sequence", `"\u001b[2J"`, "control characters", false},
	{"C1 control", `"a\u009bb"`, "control characters", false},
	{"line break", `"Ana\nRuiz"`, "single line", true},
	{"one MiB", `"` + strings.Repeat("x", 1<<20) + `"`, "too long", false},
}

// textFuzzMultiline are the member names whose text may span lines.
var textFuzzMultiline = map[string]bool{"note": true, "text": true, "body": true, "comment": true, "quote": true}

// textFuzzMarker stands in for the string being replaced; json.Marshal writes it as textFuzzMarkerJSON.
const (
	textFuzzMarker     = "\x01FUZZ\x01"
	textFuzzMarkerJSON = `"\u0001FUZZ\u0001"`
)

// textFuzzLeaves lists the paths of every string of v (keys sorted, as json.Marshal writes them), in
// the API's field notation: content.segments[0].name.
func textFuzzLeaves(v any, prefix string) []string {
	switch x := v.(type) {
	case string:
		return []string{prefix}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out []string
		for _, k := range keys {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out = append(out, textFuzzLeaves(x[k], p)...)
		}
		return out
	case []any:
		var out []string
		for i, e := range x {
			out = append(out, textFuzzLeaves(e, fmt.Sprintf("%s[%d]", prefix, i))...)
		}
		return out
	}
	return nil
}

// textFuzzReplace returns a copy of v with the string at path replaced by textFuzzMarker.
func textFuzzReplace(v any, prefix, path string) any {
	switch x := v.(type) {
	case string:
		if prefix == path {
			return textFuzzMarker
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out[k] = textFuzzReplace(e, p, path)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = textFuzzReplace(e, fmt.Sprintf("%s[%d]", prefix, i), path)
		}
		return out
	}
	return v
}

// textFuzzBody is body with the string at path replaced by the raw JSON literal lit.
func textFuzzBody(t *testing.T, body map[string]any, path, lit string) []byte {
	t.Helper()
	b, err := json.Marshal(textFuzzReplace(body, "", path))
	require.NoError(t, err)
	require.Equal(t, 1, bytes.Count(b, []byte(textFuzzMarkerJSON)), "the marker must appear once in %s", b)
	return bytes.Replace(b, []byte(textFuzzMarkerJSON), []byte(lit), 1)
}

// textFuzzSend sends a raw body and decodes the answer.
func textFuzzSend(e *env, method, path, token string, body []byte) (int, map[string]any, string) {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	var m map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &m)
	return rec.Code, m, rec.Body.String()
}

// textFuzzContent is campaign content with a string in every kind of place.
func textFuzzContent() map[string]any {
	return map[string]any{
		"segments": []any{map[string]any{"name": "Europe", "filters": map[string]any{
			"titles": []any{"CTO"}, "industries": []any{"Software"}, "countries": []any{"Germany"},
			"keywords": []any{"cloud"}, "company_size_min": 10, "company_size_max": 500}}},
		"prompts":          []any{map[string]any{"name": "Tone", "text": "Friendly.\nShort."}},
		"ai_model_configs": []any{map[string]any{"step": "qualify", "provider": "local", "model": "rules-v1", "temperature": 0.2}},
		"sequences": []any{map[string]any{"name": "Main", "steps": []any{
			map[string]any{"subject": "Hi {{first_name}}", "body": "Hello.\n\nBye.", "delay_days": 0}}}},
		"tracking_links": []any{map[string]any{"url": "https://acme.example/demo", "label": "Demo"}},
	}
}

// textFuzzPolicy is an approval policy with a string in every place a policy has one: stage names,
// approver ids, "all", and a rule's added stage.
func textFuzzPolicy(approverID, adminID string) map[string]any {
	return map[string]any{
		"stages": []any{map[string]any{"name": "Marketing", "approver_ids": []any{approverID}, "required": "all"}},
		"rules": []any{map[string]any{"if": map[string]any{"audience_size_gt": 100},
			"add_stage": map[string]any{"name": "Legal", "approver_ids": []any{adminID}, "required": 1}}},
	}
}

// textFuzzFixture builds tenant A's state for every endpoint: pending requests to approve, reject,
// cancel, re-assign, resubmit and review per section, a campaign to submit, one to edit, one for
// drafts, one for an approval policy, a saved search and a CSV upload. It answers the endpoints with
// their accepted bodies.
func textFuzzFixture(t *testing.T) (*env, []textFuzzEndpoint) {
	t.Helper()
	e := newApprovalEnv(t, time.Hour)
	e.server.App.Sealer = testenv.Sealer(t) // webhook secrets are stored sealed
	A := e.A
	ctx := context.Background()
	admin, csm, collab, appr := A.Tokens[storage.RoleAdmin], A.Tokens[storage.RoleCSM], A.Tokens[storage.RoleCollaborator], A.Tokens[storage.RoleApprover]
	approverID, adminID := A.Users[storage.RoleApprover].ID, A.Users[storage.RoleAdmin].ID
	pending := func(name string) storage.ApprovalRequest {
		c := e.laterCampaign(t, A.Users[storage.RoleCollaborator], name)
		return e.submit(t, c.ID, collab, approverID)
	}
	rApprove, rReject, rCancel, rChange, rResubmit, rReview := pending("To approve"), pending("To reject"), pending("To cancel"),
		pending("To re-assign"), pending("To resubmit"), pending("To review")
	toSubmit := e.laterCampaign(t, A.Users[storage.RoleCollaborator], "To submit")
	toEdit := e.newCampaign(t, A, storage.RoleAdmin, "To edit")
	forDrafts := e.newCampaign(t, A, storage.RoleAdmin, "For drafts")
	forPolicy := e.newCampaign(t, A, storage.RoleAdmin, "For a policy")
	search := e.newSavedSearch(t, A, "Search")
	upload, err := e.store.CreateCSVUpload(ctx, A.Account.ID, A.Users[storage.RoleCSM].ID, "people.csv",
		[]string{"First Name", "Last Name", "Company Name"}, [][]string{{"Ada", "Lovelace", "Engines"}})
	require.NoError(t, err)
	start, end := time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339), time.Now().Add(96*time.Hour).UTC().Format(time.RFC3339)

	return e, []textFuzzEndpoint{
		{"create account", http.MethodPost, "/v1/operator/accounts", operatorToken,
			map[string]any{"name": "Fuzz Inc", "admin_email": "boss@fuzz.test"}, http.StatusCreated, nil},
		{"create user", http.MethodPost, "/v1/users", admin,
			map[string]any{"email": "new@a.test", "name": "New Person", "role": "editor", "can_approve": true}, http.StatusCreated, nil},
		{"update user", http.MethodPatch, "/v1/users/" + A.Users[storage.RoleEditor].ID, admin,
			map[string]any{"role": "editor"}, http.StatusOK, nil},
		{"account settings", http.MethodPatch, "/v1/account/settings", admin,
			map[string]any{"on_no_approvers": "hold", "journey_version_policy": "passive"}, http.StatusOK, nil},
		{"contacts", http.MethodPost, "/v1/contacts", csm, map[string]any{"items": []any{map[string]any{
			"first_name": "Ada", "last_name": "Lovelace", "email": "ada@engines.test", "title": "CTO", "company_name": "Engines",
			"domain": "engines.test", "industry": "Software", "country": "Germany", "company_size": 50}}}, http.StatusOK, nil},
		{"saved search", http.MethodPost, "/v1/saved-searches", csm, map[string]any{"name": "CTOs", "filters": map[string]any{
			"titles": []any{"CTO"}, "industries": []any{"Software"}, "countries": []any{"Germany"}, "keywords": []any{"cloud"},
			"company_size_min": 1, "company_size_max": 100}}, http.StatusCreated, nil},
		{"create campaign", http.MethodPost, "/v1/campaigns", collab, map[string]any{"name": "Fuzz", "kind": "campaign",
			"mode": "active", "start_at": start, "end_at": end, "content": textFuzzContent()}, http.StatusCreated, nil},
		{"edit campaign", http.MethodPatch, "/v1/campaigns/" + toEdit.ID, admin, map[string]any{"name": "Edited", "kind": "journey",
			"mode": "test", "status": "ready", "start_at": start, "end_at": end, "content": textFuzzContent()}, http.StatusOK, nil},
		{"submit", http.MethodPost, "/v1/campaigns/" + toSubmit.ID + "/approval-requests", collab,
			map[string]any{"approver_ids": []any{approverID}, "note": "Please look.\nThanks."}, http.StatusCreated, textFuzzNote},
		{"resubmit", http.MethodPost, "/v1/campaigns/" + rResubmit.CampaignID + "/resubmit", collab,
			map[string]any{"changes": map[string]any{"name": "Resubmitted", "content": textFuzzContent()},
				"approver_ids": []any{approverID}, "note": "Again."}, http.StatusCreated, textFuzzNote},
		{"approve", http.MethodPost, "/v1/approval-requests/" + rApprove.ID + "/approve", appr,
			map[string]any{"note": "Fine."}, http.StatusOK, textFuzzNote},
		{"reject", http.MethodPost, "/v1/approval-requests/" + rReject.ID + "/reject", appr,
			map[string]any{"note": "Not yet.\n\nFix the subject."}, http.StatusOK, textFuzzNote},
		{"cancel", http.MethodPost, "/v1/approval-requests/" + rCancel.ID + "/cancel", collab,
			map[string]any{"note": "Withdrawn."}, http.StatusOK, textFuzzNote},
		{"change approvers", http.MethodPut, "/v1/approval-requests/" + rChange.ID + "/approvers", collab,
			map[string]any{"approver_ids": []any{adminID}, "note": "Over to the admin."}, http.StatusOK, textFuzzNote},
		{"draft from a saved search", http.MethodPost, "/v1/campaigns/" + forDrafts.ID + "/approval-drafts", csm,
			map[string]any{"source": map[string]any{"type": "saved_search", "saved_search_id": search.ID}, "contact_count": 5}, http.StatusAccepted, nil},
		{"draft from a CSV", http.MethodPost, "/v1/campaigns/" + forDrafts.ID + "/approval-drafts", csm,
			map[string]any{"source": map[string]any{"type": "csv", "csv_upload_id": upload.ID, "mapping": map[string]any{
				"first_name": "First Name", "last_name": "Last Name", "company_name": "Company Name"}}, "contact_count": 5}, http.StatusAccepted, nil},
		{"section review", http.MethodPost, "/v1/approval-requests/" + rReview.ID + "/review", appr,
			map[string]any{"sections": map[string]any{"audience": map[string]any{"verdict": "approved", "note": "Right people."},
				"copy": map[string]any{"verdict": "change_request", "note": "Too long.\nCut the second paragraph."}}}, http.StatusOK,
			map[string]int{"sections.audience.note": 2000, "sections.copy.note": 2000}},
		{"account approval policy", http.MethodPatch, "/v1/account/settings", admin,
			map[string]any{"approval_policy": textFuzzPolicy(approverID, adminID)}, http.StatusOK, textFuzzStageNames},
		{"campaign approval policy", http.MethodPatch, "/v1/campaigns/" + forPolicy.ID, admin,
			map[string]any{"approval_policy": textFuzzPolicy(approverID, adminID)}, http.StatusOK, textFuzzStageNames},
		{"create webhook", http.MethodPost, "/v1/webhooks", admin, map[string]any{"url": "https://hooks.example.com/in",
			"events": []any{"approval_request.approved"}, "description": "Scheduler"}, http.StatusCreated,
			map[string]int{"url": 2000, "description": 500}},
	}
}

// textFuzzNote is the length limit of a decision's note.
var textFuzzNote = map[string]int{"note": 2000}

// textFuzzStageNames are the length limits of the stage names of textFuzzPolicy.
var textFuzzStageNames = map[string]int{"approval_policy.stages[0].name": 100, "approval_policy.rules[0].add_stage.name": 100}

// TestBadTextRefusedOnEveryCSMEndpoint is the bad-text fuzz table (see the top of the file).
func TestBadTextRefusedOnEveryCSMEndpoint(t *testing.T) {
	t.Parallel()
	e, endpoints := textFuzzFixture(t)
	cases := 0
	for _, ep := range endpoints {
		leaves := textFuzzLeaves(ep.body, "")
		require.NotEmpty(t, leaves, "%s: the body has no text", ep.name)
		for _, path := range leaves {
			before := dbState(t, e.pool)
			leaf := path[strings.LastIndex(path, ".")+1:]
			multiline := textFuzzMultiline[leaf]
			for _, v := range textFuzzValues {
				if v.oneLine && multiline {
					continue
				}
				cases++
				status, body, raw := textFuzzSend(e, ep.method, ep.path, ep.token, textFuzzBody(t, ep.body, path, v.literal))
				if !assert.Less(t, status, 500, "%s, %s = %s: %s", ep.name, path, v.name, raw) {
					continue
				}
				errObj, _ := body["error"].(map[string]any)
				if assert.Equal(t, http.StatusUnprocessableEntity, status, "%s, %s = %s: %s", ep.name, path, v.name, raw) &&
					assert.NotNil(t, errObj, "%s, %s = %s: %s", ep.name, path, v.name, raw) {
					assert.Equal(t, string(errs.Validation), errObj["code"], "%s, %s = %s", ep.name, path, v.name)
					assert.Equal(t, path, errObj["field"], "%s, %s = %s: the 422 names the field", ep.name, path, v.name)
					assert.Contains(t, errObj["message"], v.message, "%s, %s = %s", ep.name, path, v.name)
				}
			}
			if max, ok := ep.maxChars[path]; ok {
				cases++
				lit, err := json.Marshal(strings.Repeat("é", max+1))
				require.NoError(t, err)
				status, body, raw := textFuzzSend(e, ep.method, ep.path, ep.token, textFuzzBody(t, ep.body, path, string(lit)))
				errObj, _ := body["error"].(map[string]any)
				if assert.Equal(t, http.StatusUnprocessableEntity, status, "%s, %s one character too long: %s", ep.name, path, raw) &&
					assert.NotNil(t, errObj, raw) {
					assert.Equal(t, string(errs.Validation), errObj["code"], "%s, %s too long", ep.name, path)
					assert.Equal(t, path, errObj["field"], "%s, %s too long: the 422 names the field", ep.name, path)
					assert.Contains(t, errObj["message"], fmt.Sprintf("at most %d characters", max), "%s, %s too long", ep.name, path)
				}
			}
			require.Equal(t, before, dbState(t, e.pool), "%s: a refused %s changed the database", ep.name, path)
		}
		for path := range ep.maxChars {
			require.Contains(t, leaves, path, "%s: a length limit names no text of the body", ep.name)
		}
		// A member name that is not text is refused as well, on the object that holds it.
		good, err := json.Marshal(ep.body)
		require.NoError(t, err)
		bad := append([]byte("{\"\xff\\u0000\":1,"), good[1:]...)
		status, body, raw := textFuzzSend(e, ep.method, ep.path, ep.token, bad)
		if errObj, _ := body["error"].(map[string]any); assert.Equal(t, http.StatusUnprocessableEntity, status, "%s, bad member name: %s", ep.name, raw) {
			assert.Equal(t, "body", errObj["field"], "%s, bad member name: %s", ep.name, raw)
		}
	}
	t.Logf("%d bad values sent to %d endpoints", cases, len(endpoints))

	// The bodies themselves are accepted: every refusal above was the bad value's.
	for _, ep := range endpoints {
		b, err := json.Marshal(ep.body)
		require.NoError(t, err)
		status, _, raw := textFuzzSend(e, ep.method, ep.path, ep.token, b)
		assert.Equal(t, ep.ok, status, "%s: the valid body must be accepted: %s", ep.name, raw)
	}
}

// TestNullBodyRefused: a body of JSON null (or any other value than an object) is not taken as {} (an
// empty PATCH, a decision without a note): it is a 400 malformed_json, on every endpoint with a JSON
// body, and changes nothing.
func TestNullBodyRefused(t *testing.T) {
	t.Parallel()
	e, endpoints := textFuzzFixture(t)
	before := dbState(t, e.pool)
	for _, ep := range endpoints {
		for _, body := range []string{`null`, ` null `, "\nnull", `[]`, `[{}]`, `"x"`, `42`, `true`} {
			status, m, raw := textFuzzSend(e, ep.method, ep.path, ep.token, []byte(body))
			if assert.Equal(t, http.StatusBadRequest, status, "%s with body %s: %s", ep.name, body, raw) {
				errObj, _ := m["error"].(map[string]any)
				require.NotNil(t, errObj, raw)
				assert.Equal(t, string(errs.MalformedJSON), errObj["code"], raw)
				assert.Contains(t, errObj["message"], "JSON object", raw)
			}
		}
	}
	requireNoWrites(t, e.pool, before)
	// The request a null approve would have decided is still pending.
	for _, ep := range endpoints {
		if ep.name == "approve" {
			id := strings.TrimSuffix(strings.TrimPrefix(ep.path, "/v1/approval-requests/"), "/approve")
			require.Equal(t, storage.RequestStatusPending, e.storedRequest(t, e.A.Account.ID, id).Status)
		}
	}
}
