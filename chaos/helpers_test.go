// Package chaos_test is the reliability suite: it runs the real `signoff worker` binary against the
// test Postgres and Temporal dev server and breaks it (kill -9, …) while it works, then checks by
// counting rows that nothing was lost, orphaned or duplicated.
package chaos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/signoff/signoff/testenv"
)

// chaosFull reports whether the full form was asked for (SIGNOFF_CHAOS=full); the default short form
// runs in `make test`.
func chaosFull() bool { return os.Getenv("SIGNOFF_CHAOS") == "full" }

// superviseWorker returns a supervisor of `signoff worker` processes with the environment vars; a
// process is ready once the server has seen it poll queue (the SDK identity starts with "<pid>@").
func superviseWorker(t *testing.T, bin, queue string, tc client.Client, vars map[string]string) *testenv.Supervisor {
	return testenv.NewSupervisor(t, testenv.Command{Bin: bin, Args: []string{"worker"}, Env: testenv.ChildEnv(vars)},
		func(p *testenv.Process) bool { return testenv.Polling(tc, queue, fmt.Sprintf("%d@", p.Pid())) })
}

// superviseAPI returns a supervisor of `signoff api` processes listening on addr with the environment
// vars; a process is ready once /healthz answers 200.
func superviseAPI(t *testing.T, bin, addr string, vars map[string]string) *testenv.Supervisor {
	hc := &http.Client{Timeout: 2 * time.Second}
	return testenv.NewSupervisor(t, testenv.Command{Bin: bin, Args: []string{"api"}, Env: testenv.ChildEnv(vars)},
		func(*testenv.Process) bool {
			resp, err := hc.Get("http://" + addr + "/healthz")
			if err != nil {
				return false
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
}

// jitter is a random duration in [lo, hi).
func jitter(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rand.Int64N(int64(hi-lo)))
}

// apiClient calls an API as one user (token "" for none).
type apiClient struct {
	base  string
	token string
	http  *http.Client // nil: apiHTTP
}

// apiHTTP is the default client of apiClient.
var apiHTTP = &http.Client{Timeout: 20 * time.Second}

// do sends a request with a JSON body (nil: none) and answers the status and body; a transport
// error answers status 0 and the error text. It never fails the test, so any goroutine may call it.
func (c *apiClient) do(method, path string, body any) (int, []byte) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, []byte(err.Error())
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		return 0, []byte(err.Error())
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.http
	if hc == nil {
		hc = apiHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, []byte(err.Error())
	}
	return resp.StatusCode, out
}

// post sends a JSON body and answers the status and the raw answer; the test fails when no answer came.
func (c *apiClient) post(t *testing.T, path string, body any) (int, []byte) {
	t.Helper()
	status, out := c.do(http.MethodPost, path, body)
	require.NotZero(t, status, "POST %s: %s", path, out)
	return status, out
}

// draftStages counts the drafts by status and progress step, e.g. "processing/importing=2
// ready/personalising=4"; it answers the error instead of failing (Postgres may be down).
func draftStages(pool *pgxpool.Pool) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, err := pool.Query(ctx, `SELECT status || '/' || coalesce(progress->>'step', '?') ||
		CASE WHEN ai_done_at IS NOT NULL THEN '+ai_done' ELSE '' END, count(*) FROM approval_drafts GROUP BY 1 ORDER BY 1`)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var stage string
		var n int
		if err := rows.Scan(&stage, &n); err != nil {
			return "(" + err.Error() + ")"
		}
		parts = append(parts, fmt.Sprintf("%s=%d", stage, n))
	}
	if err := rows.Err(); err != nil {
		return "(" + err.Error() + ")"
	}
	if len(parts) == 0 {
		return "(none)"
	}
	return strings.Join(parts, " ")
}
