package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/api"
	"github.com/signoff/signoff/app"
)

// TestBadTextRefusedOnReviewWrites runs the bad-text fuzz table (text_input_fuzz_test.go) over the client review's
// writes (item verdicts, comments, submit). Their validators are fuzzed on their own in
// review_fuzz_test.go; this proves the HTTP path: every bad value answers a 422 naming the field
// before the validators run, the reviewer's name (which goes into the CSM's notification) is one
// line, and nothing is stored. The valid bodies are accepted afterwards.
func TestBadTextRefusedOnReviewWrites(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	d := re.reviewReadyDraft(t)
	// A server of its own with review rate limits too high to matter: this test sends hundreds of writes.
	s := re.server
	srv := &api.Server{App: &app.App{Store: s.App.Store, Temporal: s.App.Temporal, PublicURL: s.App.PublicURL, TaskQueue: s.App.TaskQueue, Sealer: s.App.Sealer}, Log: s.Log, ReviewTokenRate: 1e6, ReviewTokenBurst: 1e6, ReviewIPRate: 1e6, ReviewIPBurst: 1e6}
	h := srv.Handler()
	send := func(method, path string, body []byte) (int, map[string]any, string) {
		req := httptest.NewRequest(method, path, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var m map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &m)
		return rec.Code, m, rec.Body.String()
	}
	para := d.Snapshot.Emails[0].Paragraphs[1]
	quote := strings.Fields(para.Text)[0]
	base := "/v1/public/reviews/" + d.Token
	endpoints := []struct {
		name, method, path string
		body               map[string]any
	}{
		{"verdict", http.MethodPut, base + "/items/audience",
			map[string]any{"verdict": "change_request", "comment": "Too broad.\nNarrow it.", "author": "Ana Ruiz"}},
		{"comment", http.MethodPost, base + "/comments",
			map[string]any{"target": para.ID, "quote": quote, "comment": "Source?", "kind": "line_comment", "author": "Ana Ruiz"}},
		{"submit", http.MethodPost, base + "/submit", map[string]any{"author": "Ana Ruiz"}},
	}
	before := dbState(t, re.pool)
	for _, ep := range endpoints {
		for _, path := range textFuzzLeaves(ep.body, "") {
			multiline := textFuzzMultiline[path]
			for _, v := range textFuzzValues {
				if v.oneLine && multiline {
					continue
				}
				status, body, raw := send(ep.method, ep.path, textFuzzBody(t, ep.body, path, v.literal))
				errObj, _ := body["error"].(map[string]any)
				if assert.Equal(t, http.StatusUnprocessableEntity, status, "%s, %s = %s: %s", ep.name, path, v.name, raw) {
					assert.Equal(t, path, errObj["field"], "%s, %s = %s", ep.name, path, v.name)
					assert.Contains(t, errObj["message"], v.message, "%s, %s = %s", ep.name, path, v.name)
				}
			}
		}
	}
	require.Equal(t, before, dbState(t, re.pool), "a refused review write changed the database")

	for _, ep := range endpoints {
		b, err := json.Marshal(ep.body)
		require.NoError(t, err)
		status, _, raw := send(ep.method, ep.path, b)
		require.Less(t, status, 300, "%s: the valid body must be accepted: %s", ep.name, raw)
	}
}
