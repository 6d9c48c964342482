package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// The tests below cover approval policies over HTTP on the real servers (R-POL-1, R-POL-2, R-POL-5).

// setPolicy sets the account's approval policy as its admin and requires 200.
func (e *env) setPolicy(t *testing.T, tn tenant, policy any) map[string]any {
	t.Helper()
	code, body := e.do(t, http.MethodPatch, "/v1/account/settings", tn.Tokens[storage.RoleAdmin], map[string]any{"approval_policy": policy})
	require.Equal(t, http.StatusOK, code, "%v", body)
	return body
}

// TestApprovalPolicyValidation: a policy is validated as a whole and a 422 names the field
// (R-POL-1); a valid one is answered as stored, and null goes back to the default.
func TestApprovalPolicyValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.A.Tokens[storage.RoleAdmin]
	approver, viewer := e.A.Users[storage.RoleApprover].ID, e.A.Users[storage.RoleCollaborator].ID // a collaborator has no approval right
	other := e.B.Users[storage.RoleApprover].ID
	for _, tc := range []struct {
		name, policy, field string
	}{
		{"not an object", `[1]`, "approval_policy"},
		{"unknown key", `{"stages":[{"name":"a","approver_ids":null,"required":1}],"extra":1}`, "approval_policy"},
		{"no stages", `{"stages":[]}`, "approval_policy.stages"},
		{"stages missing", `{"rules":[]}`, "approval_policy.stages"},
		{"no name", `{"stages":[{"approver_ids":null,"required":1}]}`, "approval_policy.stages[0].name"},
		{"required zero", `{"stages":[{"name":"a","approver_ids":null,"required":0}]}`, "approval_policy.stages[0].required"},
		{"required word", `{"stages":[{"name":"a","approver_ids":null,"required":"most"}]}`, "approval_policy.stages[0].required"},
		{"required missing", `{"stages":[{"name":"a","approver_ids":null}]}`, "approval_policy.stages[0].required"},
		{"required above approvers", fmt.Sprintf(`{"stages":[{"name":"a","approver_ids":null,"required":1},{"name":"b","approver_ids":[%q],"required":2}]}`, approver),
			"approval_policy.stages[1].required"},
		{"approver without the right", fmt.Sprintf(`{"stages":[{"name":"a","approver_ids":[%q],"required":1}]}`, viewer), "approval_policy.stages[0].approver_ids[0]"},
		{"approver of another account", fmt.Sprintf(`{"stages":[{"name":"a","approver_ids":[%q],"required":1}]}`, other), "approval_policy.stages[0].approver_ids[0]"},
		{"approver twice", fmt.Sprintf(`{"stages":[{"name":"a","approver_ids":[%q,%q],"required":1}]}`, approver, approver), "approval_policy.stages[0].approver_ids[1]"},
		{"empty approvers", `{"stages":[{"name":"a","approver_ids":[],"required":1}]}`, "approval_policy.stages[0].approver_ids"},
		{"rule without condition", `{"stages":[{"name":"a","approver_ids":null,"required":1}],"rules":[{"add_stage":{"name":"b","approver_ids":null,"required":1}}]}`,
			"approval_policy.rules[0].if.audience_size_gt"},
		{"rule negative", `{"stages":[{"name":"a","approver_ids":null,"required":1}],"rules":[{"if":{"audience_size_gt":-1},"add_stage":{"name":"b","approver_ids":null,"required":1}}]}`,
			"approval_policy.rules[0].if.audience_size_gt"},
		{"rule without stage", `{"stages":[{"name":"a","approver_ids":null,"required":1}],"rules":[{"if":{"audience_size_gt":10}}]}`,
			"approval_policy.rules[0].add_stage"},
		{"rule stage bad", `{"stages":[{"name":"a","approver_ids":null,"required":1}],"rules":[{"if":{"audience_size_gt":10},"add_stage":{"name":"b","approver_ids":null,"required":"x"}}]}`,
			"approval_policy.rules[0].add_stage.required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(e, newRequest(http.MethodPatch, "/v1/account/settings", admin, `{"approval_policy":`+tc.policy+`}`))
			require.Equal(t, http.StatusUnprocessableEntity, rec.Code, rec.Body.String())
			var body struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			assert.Equal(t, string(errs.Validation), body.Error.Code)
			assert.Contains(t, body.Error.Message, tc.field+":", "the message names the field")
		})
	}
	code, st := e.do(t, http.MethodGet, "/v1/account/settings", admin, nil)
	require.Equal(t, http.StatusOK, code)
	assert.Nil(t, st["approval_policy"], "nothing was stored: the default")

	policy := map[string]any{"stages": []any{
		map[string]any{"name": "marketing", "approver_ids": nil, "required": 1},
		map[string]any{"name": "legal", "approver_ids": []string{approver}, "required": "all"}},
		"rules": []any{map[string]any{"if": map[string]any{"audience_size_gt": 1000},
			"add_stage": map[string]any{"name": "exec", "approver_ids": nil, "required": 1}}}}
	st = e.setPolicy(t, e.A, policy)
	want, _ := json.Marshal(policy)
	got, _ := json.Marshal(st["approval_policy"])
	assert.JSONEq(t, string(want), string(got), "the policy is answered as written")

	// A campaign overrides it, and null goes back to the account's.
	camp := e.newCampaign(t, e.A, storage.RoleCollaborator, "Override")
	collab := e.A.Tokens[storage.RoleCollaborator]
	code, body := e.do(t, http.MethodPatch, "/v1/campaigns/"+camp.ID, collab, map[string]any{"approval_policy": map[string]any{
		"stages": []any{map[string]any{"name": "solo", "approver_ids": nil, "required": 0}}}})
	require.Equal(t, http.StatusUnprocessableEntity, code, "%v", body)
	assert.Contains(t, body["error"].(map[string]any)["message"], "approval_policy.stages[0].required:")
	override := map[string]any{"stages": []any{map[string]any{"name": "solo", "approver_ids": []string{approver}, "required": 1}}, "rules": []any{}}
	code, body = e.do(t, http.MethodPatch, "/v1/campaigns/"+camp.ID, collab, map[string]any{"approval_policy": override})
	require.Equal(t, http.StatusOK, code, "%v", body)
	want, _ = json.Marshal(override)
	got, _ = json.Marshal(body["approval_policy"])
	assert.JSONEq(t, string(want), string(got))
	code, body = e.do(t, http.MethodGet, "/v1/campaigns/"+camp.ID, collab, nil)
	require.Equal(t, http.StatusOK, code)
	got, _ = json.Marshal(body["approval_policy"])
	assert.JSONEq(t, string(want), string(got), "GET answers the override")
	code, body = e.do(t, http.MethodPatch, "/v1/campaigns/"+camp.ID, collab, map[string]any{"approval_policy": nil})
	require.Equal(t, http.StatusOK, code, "%v", body)
	assert.Nil(t, body["approval_policy"])

	st = e.setPolicy(t, e.A, nil)
	assert.Nil(t, st["approval_policy"], "null is the default again")
}

// stageRaceEnv is an account whose policy is one stage of three approvers, two required (R-POL-2).
type stageRaceEnv struct {
	*env
	approvers []storage.User
	tokens    []string
}

func newStageRaceEnv(t *testing.T) stageRaceEnv {
	t.Helper()
	e := newApprovalEnv(t, 2*time.Hour)
	third, thirdTok := e.userWith(t, e.A.Account.ID, "approver3@a.test", storage.RoleApprover, false)
	s := stageRaceEnv{env: e,
		approvers: []storage.User{e.A.Users[storage.RoleApprover], e.A.Users[storage.RoleAdmin], third},
		tokens:    []string{e.A.Tokens[storage.RoleApprover], e.A.Tokens[storage.RoleAdmin], thirdTok}}
	ids := []string{s.approvers[0].ID, s.approvers[1].ID, s.approvers[2].ID}
	e.setPolicy(t, e.A, map[string]any{"stages": []any{map[string]any{"name": "marketing", "approver_ids": ids, "required": 2}}})
	return s
}

// stageRound is one round of a stage race: the request submitted and the answers of its calls.
type stageRound struct {
	id       string
	codes    []int
	errCodes []string
	err      error
}

// race runs 100 rounds, 8 at a time: each submits a campaign called name (approver_ids: the first
// approver; the policy names the stage's) and sends the requests calls makes for it at the same
// moment. what describes the calls in the log.
func (s stageRaceEnv) race(t *testing.T, name, what string, calls func(i int, id string) []*http.Request) []stageRound {
	t.Helper()
	const n, concurrency = 100, 8
	results := make([]stageRound, n)
	started := time.Now()
	raceRounds(n, concurrency, func(i int) {
		res := &results[i]
		r, err := s.submitRace(i, name, s.approvers[0].ID)
		if res.err = err; err != nil {
			return
		}
		res.id = r.ID
		res.codes, res.errCodes = fireTogether(s.env, calls(i, r.ID))
	})
	t.Logf("%d requests, %s each, %d at a time: %s", n, what, concurrency, time.Since(started))
	return results
}

// stageCount is how many approvals the database counted in stage 0 of request id.
func (s stageRaceEnv) stageCount(t *testing.T, id string) int {
	t.Helper()
	var n int
	require.NoError(t, s.pool.QueryRow(context.Background(), `SELECT count(*) FROM approval_stage_approvals WHERE request_id = $1 AND stage = 0`, id).Scan(&n))
	return n
}

// TestStageRace_TwoOfThreeApproveTogether: the three approvers of a 2-of-3 stage approve at the same
// moment, 100 times (R-POL-5): each time the stage completes once, with exactly two approvals
// counted, never three; two answers are 200 and the third 409 already_handled.
func TestStageRace_TwoOfThreeApproveTogether(t *testing.T) {
	t.Parallel()
	s := newStageRaceEnv(t)
	results := s.race(t, "Stage race", "3 concurrent approvals", func(i int, id string) []*http.Request {
		reqs := make([]*http.Request, 3)
		for k := range reqs {
			reqs[k] = newRequest(http.MethodPost, "/v1/approval-requests/"+id+"/approve", s.tokens[(i+k)%3], `{"note":"ok"}`)
		}
		return reqs
	})
	acct := s.A.Account.ID
	for _, res := range results {
		require.NoError(t, res.err)
		ok := 0
		for k, code := range res.codes {
			switch code {
			case http.StatusOK:
				ok++
			case http.StatusConflict:
				require.Equal(t, string(errs.AlreadyHandled), res.errCodes[k], "request %s: %v %v", res.id, res.codes, res.errCodes)
			default:
				require.Failf(t, "unexpected answer", "request %s: %v %v", res.id, res.codes, res.errCodes)
			}
		}
		require.Equal(t, 2, ok, "request %s: two approvals answered 200: %v %v", res.id, res.codes, res.errCodes)
		r := s.storedRequest(t, acct, res.id)
		require.Equal(t, storage.RequestStatusApproved, r.Status, "request %s", res.id)
		require.Equal(t, 2, s.stageCount(t, res.id), "request %s: exactly two approvals counted", res.id)
		require.Equal(t, 1, eventCount(t, s.env, res.id, storage.EventStageApproved), "request %s: the stage completed once", res.id)
		require.Equal(t, 1, eventCount(t, s.env, res.id, storage.EventApproved), "request %s: one decision", res.id)
	}
}

// TestStageRace_ApproveAndRejectTogether: two approvals and a rejection race in a 2-of-3 stage, 100
// times (R-POL-5): the request ends with exactly one outcome, rejected unless both approvals were
// counted first, and never more than two approvals counted.
func TestStageRace_ApproveAndRejectTogether(t *testing.T) {
	t.Parallel()
	s := newStageRaceEnv(t)
	results := s.race(t, "Reject race", "2 approvals and 1 rejection", func(i int, id string) []*http.Request {
		reqs := make([]*http.Request, 3)
		for k := range reqs {
			if k == i%3 {
				reqs[k] = newRequest(http.MethodPost, "/v1/approval-requests/"+id+"/reject", s.tokens[k], `{"note":"not this week"}`)
			} else {
				reqs[k] = newRequest(http.MethodPost, "/v1/approval-requests/"+id+"/approve", s.tokens[k], `{"note":"ok"}`)
			}
		}
		return reqs
	})
	acct := s.A.Account.ID
	outcomes := map[string]int{}
	for i, res := range results {
		require.NoError(t, res.err)
		r := s.storedRequest(t, acct, res.id)
		approved, rejected := eventCount(t, s.env, res.id, storage.EventApproved), eventCount(t, s.env, res.id, storage.EventRejected)
		require.Equal(t, 1, approved+rejected, "request %s: exactly one outcome (%v)", res.id, res.codes)
		counted := s.stageCount(t, res.id)
		require.LessOrEqual(t, counted, 2, "request %s", res.id)
		rejectCode := res.codes[i%3]
		if rejected == 1 {
			require.Equal(t, storage.RequestStatusRejected, r.Status)
			require.Equal(t, http.StatusOK, rejectCode, "request %s: the rejection won", res.id)
			require.Equal(t, 0, eventCount(t, s.env, res.id, storage.EventStageApproved))
		} else {
			require.Equal(t, storage.RequestStatusApproved, r.Status)
			require.Equal(t, http.StatusConflict, rejectCode, "request %s: both approvals came first", res.id)
			require.Equal(t, 2, counted)
		}
		outcomes[r.Status]++
	}
	t.Logf("outcomes: %v", outcomes)
}

// TestStagesOverHTTP: a request under a two-stage policy (R-POL-2, R-POL-3, part 5 of the issue): the
// request answers its stages, current stage, audience size and policy; the inbox shows it to the current
// stage's approvers only; stage 2's approver is asked to decide when stage 1 is done; the history
// records stage_approved with its stage, in JSON and (in the note) CSV.
func TestStagesOverHTTP(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t, 2*time.Hour)
	approver, admin := e.A.Users[storage.RoleApprover], e.A.Users[storage.RoleAdmin]
	apTok, adminTok, collabTok := e.A.Tokens[storage.RoleApprover], e.A.Tokens[storage.RoleAdmin], e.A.Tokens[storage.RoleCollaborator]
	e.setPolicy(t, e.A, map[string]any{"stages": []any{
		map[string]any{"name": "marketing", "approver_ids": nil, "required": 1},
		map[string]any{"name": "legal", "approver_ids": []string{admin.ID}, "required": "all"}}})
	camp := e.laterCampaign(t, e.A.Users[storage.RoleCollaborator], "Two stages")
	r := e.submit(t, camp.ID, collabTok, approver.ID)

	get := func() map[string]any {
		code, body := e.do(t, http.MethodGet, "/v1/approval-requests/"+r.ID, collabTok, nil)
		require.Equal(t, http.StatusOK, code)
		return body
	}
	eventually(t, 10*time.Second, func() bool { return get()["audience_size"] != nil }, func() string { return "audience never counted" })
	body := get()
	assert.EqualValues(t, 0, body["current_stage"])
	stages := body["stages"].([]any)
	require.Len(t, stages, 2)
	assert.Equal(t, "marketing", stages[0].(map[string]any)["name"])
	assert.Equal(t, "pending", stages[0].(map[string]any)["status"])
	assert.Equal(t, "waiting", stages[1].(map[string]any)["status"])
	assert.EqualValues(t, 1, stages[1].(map[string]any)["required"], `"all" of one approver`)
	policy := body["approval_policy"].(map[string]any)
	assert.Equal(t, []any{approver.ID}, policy["stages"].([]any)[0].(map[string]any)["approver_ids"], "null took the request's approvers")
	assert.Contains(t, e.inboxIDs(t, apTok), r.ID)
	assert.NotContains(t, e.inboxIDs(t, adminTok), r.ID, "stage 2's approver waits for stage 1")

	code, early := e.act(t, r.ID, "approve", adminTok, "")
	require.Equal(t, http.StatusConflict, code, "%v", early)
	assert.Equal(t, string(errs.StageNotCurrent), early["error"].(map[string]any)["code"])

	code, after1 := e.act(t, r.ID, "approve", apTok, "")
	require.Equal(t, http.StatusOK, code, "%v", after1)
	assert.Equal(t, storage.RequestStatusPending, after1["status"])
	assert.EqualValues(t, 1, after1["current_stage"])
	s0 := after1["stages"].([]any)[0].(map[string]any)
	assert.Equal(t, "approved", s0["status"])
	require.Len(t, s0["approvals"], 1)
	assert.Equal(t, approver.ID, s0["approvals"].([]any)[0].(map[string]any)["user_id"])
	assert.NotContains(t, e.inboxIDs(t, apTok), r.ID, "stage 1 done: no longer the approver's")
	assert.Contains(t, e.inboxIDs(t, adminTok), r.ID)
	assert.NotEmpty(t, e.notificationsFor(t, adminTok, r.ID, "approval_requested"), "stage 2's approver is asked to decide")

	code, after2 := e.act(t, r.ID, "approve", adminTok, "")
	require.Equal(t, http.StatusOK, code, "%v", after2)
	assert.Equal(t, storage.RequestStatusApproved, after2["status"])
	for i, st := range after2["stages"].([]any) {
		assert.Equal(t, "approved", st.(map[string]any)["status"], "stage %d", i)
	}

	events := e.history(t, "/v1/approval-requests/"+r.ID+"/history", collabTok)
	var stagesDone []int
	for _, ev := range events {
		if ev.Type == storage.EventStageApproved {
			require.NotNil(t, ev.Stage)
			stagesDone = append(stagesDone, *ev.Stage)
		}
	}
	assert.ElementsMatch(t, []int{0, 1}, stagesDone)
	assert.Equal(t, 1, eventCount(t, e, r.ID, storage.EventApproved))
	rec := e.request(t, http.MethodGet, "/v1/approval-requests/"+r.ID+"/history?format=csv", collabTok, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "stage 2 of 2 (legal) approved")
}
