package api_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reviewGunzip returns the body of rec, decoded when it is gzip-encoded, and whether it was.
func reviewGunzip(t *testing.T, h http.Header, body []byte) ([]byte, bool) {
	t.Helper()
	if h.Get("Content-Encoding") != "gzip" {
		return body, false
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	require.NoError(t, err)
	plain, err := io.ReadAll(zr)
	require.NoError(t, err)
	return plain, true
}

// TestReviewCompressed: the page, the JSON answers, the script and the stylesheet are gzip-encoded for a
// client that accepts gzip (twice, so the kept answer is served compressed too) and plain for one that
// does not; the same bytes either way. Errors are never encoded.
func TestReviewCompressed(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	d := re.reviewReadyDraft(t)
	for _, path := range []string{"/r/" + d.Token, reviewPath(d.Token, ""), reviewPath(d.Token, "/feedback"),
		"/review-assets/review.js", "/review-assets/review.css", "/v1/approval-drafts/" + d.ID} {
		token := ""
		if strings.HasPrefix(path, "/v1/approval-drafts/") {
			token = re.csm
		}
		plainReq := newRequest(http.MethodGet, path, token, "")
		plainRec := serve(re.env, plainReq)
		require.Equal(t, http.StatusOK, plainRec.Code, "%s: %s", path, plainRec.Body.String())
		assert.Empty(t, plainRec.Header().Get("Content-Encoding"), "%s without Accept-Encoding", path)
		for i := range 2 {
			req := newRequest(http.MethodGet, path, token, "")
			req.Header.Set("Accept-Encoding", "gzip, deflate, br")
			rec := serve(re.env, req)
			require.Equal(t, http.StatusOK, rec.Code, "%s", path)
			body, encoded := reviewGunzip(t, rec.Header(), rec.Body.Bytes())
			require.True(t, encoded, "%s (read %d) is gzip-encoded", path, i+1)
			assert.Contains(t, rec.Header().Values("Vary"), "Accept-Encoding", "%s", path)
			if len(body) > 2048 {
				assert.Less(t, rec.Body.Len(), len(body)/2, "%s: compressed", path)
			}
			if path != "/v1/approval-drafts/"+d.ID { // its updated_at may move between reads
				assert.Equal(t, plainRec.Body.String(), string(body), "%s: same content", path)
			}
			if !strings.HasPrefix(path, "/v1/approval-drafts/") {
				reviewRequireHeaders(t, path, rec.Header())
			}
		}
	}
	req := newRequest(http.MethodGet, reviewPath("nope", "/feedback"), "", "")
	req.Header.Set("Accept-Encoding", "gzip")
	rec := serve(re.env, req)
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Empty(t, rec.Header().Get("Content-Encoding"), "an error answer is not encoded")
	assert.Contains(t, rec.Body.String(), `"not_found"`)
}

// TestReviewFeedbackRead: GET /v1/public/reviews/{token}/feedback answers the status and saved feedback
// only (no leads), with the review's headers and its 404; the favicon answers.
func TestReviewFeedbackRead(t *testing.T) {
	t.Parallel()
	re := newReviewEnv(t)
	d := re.reviewReadyDraft(t)
	var it reviewItem
	re.doJSON(t, http.StatusCreated, http.MethodPost, reviewPath(d.Token, "/comments"), "",
		map[string]any{"target": "e1-p2", "kind": "line_comment", "quote": reviewQuote, "comment": "Cite it.", "author": "Ann"}, &it)
	for range 2 { // the second read may come from the kept answer
		rec := serve(re.env, newRequest(http.MethodGet, reviewPath(d.Token, "/feedback"), "", ""))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		reviewRequireHeaders(t, "feedback", rec.Header())
		var got map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
		assert.ElementsMatch(t, []string{"status", "submitted_at", "feedback"}, keysOf(got))
		var fb []reviewItem
		require.NoError(t, json.Unmarshal(got["feedback"], &fb))
		require.Len(t, fb, 1)
		assert.Equal(t, "Cite it.", fb[0].Comment)
		assert.Equal(t, `"ready"`, string(got["status"]))
		full := serve(re.env, newRequest(http.MethodGet, reviewPath(d.Token, ""), "", ""))
		assert.Less(t, rec.Body.Len()*3, full.Body.Len(), "the feedback read leaves the snapshot out")
	}
	rec := serve(re.env, newRequest(http.MethodGet, reviewPath(strings.Repeat("x", len(d.Token)), "/feedback"), "", ""))
	assert.Equal(t, http.StatusNotFound, rec.Code)
	reviewRequireHeaders(t, "feedback 404", rec.Header())

	ico := serve(re.env, newRequest(http.MethodGet, "/favicon.ico", "", ""))
	assert.Equal(t, http.StatusOK, ico.Code)
	assert.Equal(t, "image/svg+xml", ico.Header().Get("Content-Type"))
}

func keysOf(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
