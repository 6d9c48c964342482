package app

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/workflows"
)

// TestWorkflowTypesKeepTheRecordedShape: the workflows' Update results and the activities' results
// marshal exactly as the read model's rows they replace did, so recorded histories and Updates
// answered before the types split decode unchanged, and the mapping back to the rows loses nothing.
func TestWorkflowTypesKeepTheRecordedShape(t *testing.T) {
	var req storage.ApprovalRequest
	fill(reflect.ValueOf(&req).Elem())
	// The reminder settings are no part of a request's JSON nor of an Update's result: the workflow
	// has them in its input (RequestWorkflowInput).
	req.Reminders = storage.RequestReminders{}
	// Nor are the per-section verdicts (R-POL-4): readers load them from their table.
	req.SectionReviews = nil
	want := mustJSON(t, req)
	assert.JSONEq(t, want, mustJSON(t, decodeAs[workflows.Request](t, want)), "workflows.Request")
	assert.JSONEq(t, want, mustJSON(t, decodeAs[activities.Request](t, want)), "activities.Request")
	assert.Equal(t, req, requestFromWorkflow(decodeAs[workflows.Request](t, want)))

	var draft storage.ApprovalDraft
	fill(reflect.ValueOf(&draft).Elem())
	want = mustJSON(t, draft)
	assert.JSONEq(t, want, mustJSON(t, decodeAs[workflows.Draft](t, want)), "workflows.Draft")
	assert.JSONEq(t, want, mustJSON(t, decodeAs[activities.Draft](t, want)), "activities.Draft")
	back := draftFromWorkflow(decodeAs[workflows.Draft](t, want))
	assert.JSONEq(t, want, mustJSON(t, back))

	var lead storage.Lead
	fill(reflect.ValueOf(&lead).Elem())
	want = mustJSON(t, lead)
	assert.JSONEq(t, want, mustJSON(t, decodeAs[activities.Lead](t, want)), "activities.Lead")

	var src workflows.DraftSource
	fill(reflect.ValueOf(&src).Elem())
	want = mustJSON(t, src)
	assert.JSONEq(t, want, mustJSON(t, decodeAs[activities.ContactSource](t, want)), "activities.ContactSource")
}

// TestRequestWorkflowInput: the workflow of a stored request gets its assigned approvers only, and the
// version and content_hash the request pinned (R-VER-3).
func TestRequestWorkflowInput(t *testing.T) {
	launch := time.Date(2030, 3, 1, 9, 0, 0, 0, time.UTC)
	r := storage.ApprovalRequest{ID: "r1", AccountID: "a1", CampaignID: "c1", SubmittedBy: "u1", CampaignVersion: 3,
		ContentHash: "h3", DeadlineAt: launch.Add(time.Hour), LaunchAt: &launch, Approvers: []storage.Approver{
			{UserID: "u2", State: storage.ApproverStateAssigned}, {UserID: "u3", State: storage.ApproverStateExpired},
			{UserID: "u4", State: storage.ApproverStateAssigned}}}
	assert.Equal(t, workflows.ApprovalRequestInput{RequestID: "r1", AccountID: "a1", CampaignID: "c1", SubmitterID: "u1",
		ApproverIDs: []string{"u2", "u4"}, Deadline: r.DeadlineAt, LaunchAt: &launch, CampaignVersion: 3, ContentHash: "h3"},
		RequestWorkflowInput(r))

	// The reminders and escalation it was submitted with (R-ACT-2), counted from its submission; none
	// when both are off, or escalation has nobody to escalate to.
	r.CreatedAt = launch.Add(-48 * time.Hour)
	r.Reminders = storage.RequestReminders{ReminderAfter: 24 * time.Hour, EscalateAfter: 36 * time.Hour, EscalationUserIDs: []string{"u9"}}
	assert.Equal(t, &workflows.Reminders{From: r.CreatedAt, Every: 24 * time.Hour, EscalateAfter: 36 * time.Hour, EscalateTo: []string{"u9"}},
		RequestWorkflowInput(r).Reminders)
	r.Reminders = storage.RequestReminders{EscalateAfter: 36 * time.Hour, EscalationUserIDs: []string{}}
	assert.Nil(t, RequestWorkflowInput(r).Reminders)
	r.Reminders = storage.RequestReminders{}
	assert.Nil(t, RequestWorkflowInput(r).Reminders)
}

// fill sets every exported field of v to a value that is not zero.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		if v.Type() == reflect.TypeOf(json.RawMessage(nil)) {
			v.Set(reflect.ValueOf(json.RawMessage(`{"k":1}`)))
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		v.SetMapIndex(k, e)
	case reflect.String:
		v.SetString("s")
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint8:
		v.SetUint(7)
	case reflect.Bool:
		v.SetBool(true)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func decodeAs[T any](t *testing.T, s string) T {
	t.Helper()
	var out T
	require.NoError(t, json.Unmarshal([]byte(s), &out))
	return out
}
