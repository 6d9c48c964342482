package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/testenv"
)

// TestSecretsNeverLogged drives a real `signoff dev` through every kind of secret it handles — API
// tokens (valid and forged), the operator token, a new user's and a new account's token, share links
// before and after rotation, the secret key — with debug logging on, then scans everything the process
// logged: none of them may appear. Stdout's banner prints the demo tokens on purpose and is
// not a log.
func TestSecretsNeverLogged(t *testing.T) {
	bin := testenv.BuildSignoff(t)
	dbURL := testenv.DatabaseURL(t)
	dataDir := t.TempDir()
	run := startDev(t, bin, dbURL, dataDir, "SIGNOFF_LOG_LEVEL=debug", "SIGNOFF_LOG_FORMAT=json")
	defer func() {
		if run.stop != nil {
			run.stop()
		}
	}()
	waitReady(t, run.addr, run.proc, run.stderr)
	base := "http://" + run.addr

	call := func(method, path, token string, body any) (int, map[string]any) {
		var r io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			r = strings.NewReader(string(b))
		}
		req, _ := http.NewRequest(method, base+path, r)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}

	secrets := []string{}
	for _, tok := range run.tokens {
		secrets = append(secrets, tok)
	}
	raw, err := os.ReadFile(filepath.Join(dataDir, "dev-secrets.json"))
	require.NoError(t, err)
	var ds struct {
		SecretKey string `json:"secret_key"`
	}
	require.NoError(t, json.Unmarshal(raw, &ds))
	require.NotEmpty(t, ds.SecretKey)
	secrets = append(secrets, ds.SecretKey)

	forged := "so_forged-token-that-must-not-be-logged-0123456789"
	secrets = append(secrets, forged)
	status, _ := call("GET", "/v1/me", forged, nil)
	require.Equal(t, http.StatusUnauthorized, status)

	status, created := call("POST", "/v1/users", run.tokens["admin"], map[string]any{"email": "new@example.com", "name": "New", "role": "csm"})
	require.Equal(t, http.StatusCreated, status)
	secrets = append(secrets, created["token"].(string))

	status, acct := call("POST", "/v1/operator/accounts", run.tokens["operator"], map[string]any{"name": "Other Co", "admin_email": "boss@other.example"})
	require.Equal(t, http.StatusCreated, status)
	secrets = append(secrets, acct["token"].(string))

	// A draft of a demo campaign from a demo saved search, its share link, a review write, a rotation.
	_, list := call("GET", "/v1/saved-searches", run.tokens["csm"], nil)
	search := list["items"].([]any)[0].(map[string]any)["id"].(string)
	_, camps := call("GET", "/v1/campaigns?limit=100", run.tokens["csm"], nil)
	campID := camps["items"].([]any)[0].(map[string]any)["id"].(string)
	status, d := call("POST", "/v1/campaigns/"+campID+"/approval-drafts", run.tokens["csm"],
		map[string]any{"source": map[string]any{"type": "saved_search", "saved_search_id": search}, "contact_count": 3})
	require.Equal(t, http.StatusAccepted, status, "%v", d)
	draftID := d["id"].(string)
	var share string
	require.Eventually(t, func() bool {
		_, d = call("GET", "/v1/approval-drafts/"+draftID, run.tokens["csm"], nil)
		share, _ = d["share_url"].(string)
		return share != ""
	}, 30*time.Second, 50*time.Millisecond)
	tok := share[strings.LastIndex(share, "/")+1:]
	secrets = append(secrets, tok)
	resp, err := http.Get(share)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	status, _ = call("GET", "/v1/public/reviews/"+tok, "", nil)
	require.Equal(t, http.StatusOK, status)
	status, _ = call("PUT", "/v1/public/reviews/"+tok+"/items/audience", "", map[string]any{"verdict": "approved"})
	require.Equal(t, http.StatusOK, status)
	status, d = call("POST", "/v1/approval-drafts/"+draftID+"/rotate-link", run.tokens["admin"], nil)
	require.Equal(t, http.StatusOK, status)
	newShare := d["share_url"].(string)
	secrets = append(secrets, newShare[strings.LastIndex(newShare, "/")+1:])
	status, _ = call("GET", "/v1/public/reviews/"+tok, "", nil)
	require.Equal(t, http.StatusNotFound, status, "the old link is dead")

	run.stop()
	run.stop = nil
	logs := run.stderr.String()
	require.Contains(t, logs, `"route":"/r/:token"`, "the logs do record the requests (by route pattern)")
	for _, s := range secrets {
		require.NotEmpty(t, s)
		require.NotContains(t, logs, s, "a secret reached the logs")
	}
}
