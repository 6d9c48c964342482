package chaos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.uber.org/zap"

	"github.com/signoff/signoff/localenv"
	"github.com/signoff/signoff/workflows"
)

// Helpers of TestChaosPostgresOutage (postgres_outage_test.go), self-contained so the case does not
// depend on the other cases' helpers.

// outageFull reports whether the full form was asked for (SIGNOFF_CHAOS=full).
func outageFull() bool { return os.Getenv("SIGNOFF_CHAOS") == "full" }

// outageCluster is the test's own Postgres cluster, which it stops for a while and starts again.
type outageCluster struct {
	opts localenv.PostgresOptions
	mu   sync.Mutex
	pg   *localenv.Postgres
}

// outageOwnPostgres starts a throwaway cluster under a fresh directory the postgres user can reach;
// it is stopped and removed when t ends.
func outageOwnPostgres(t *testing.T, log *zap.Logger) *outageCluster {
	t.Helper()
	dir, err := os.MkdirTemp("", "signoff-chaos-outage-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	c := &outageCluster{opts: localenv.PostgresOptions{Dir: dir, Database: "signoff"}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := localenv.StartPostgres(ctx, c.opts, log)
	require.NoError(t, err, "start own postgres")
	c.pg = pg
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.pg.Stop(ctx); err != nil {
			t.Logf("stop own postgres: %v", err)
		}
	})
	return c
}

func (c *outageCluster) url() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pg.URL
}

// stop shuts the cluster down (fast mode: open sessions are cut) until start.
func (c *outageCluster) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	require.NoError(t, c.pg.Stop(ctx), "stop own postgres")
}

// start starts the stopped cluster again from its directory, on the same socket.
func (c *outageCluster) start(t *testing.T, log *zap.Logger) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pg, err := localenv.StartPostgres(ctx, c.opts, log)
	require.NoError(t, err, "start own postgres again; its log:\n%s", outageTail(filepath.Join(c.opts.Dir, "postgres.log"), 4000))
	c.mu.Lock()
	defer c.mu.Unlock()
	require.Equal(t, c.pg.URL, pg.URL, "the cluster came back on another address")
	c.pg = pg
}

// outageTail is the last n bytes of a file, for failure messages.
func outageTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// outageClient calls the in-process API as one user; safe for use from several goroutines.
type outageClient struct {
	base, token string
}

var outageHTTP = &http.Client{Timeout: 20 * time.Second}

// do sends a request with a JSON body and answers the status and body; a transport error (or a
// timeout) answers status 0 and the error text.
func (c *outageClient) do(method, path string, body any) (int, []byte) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, []byte(err.Error())
	}
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(b))
	if err != nil {
		return 0, []byte(err.Error())
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := outageHTTP.Do(req)
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

// outageAnswer is the outcome of a call retried through the outage.
type outageAnswer struct {
	status int
	body   []byte
	tries  int
	seen   map[int]int // the status of every try (0: no answer)
}

// retry repeats a call while it gets no answer or a 5xx, until deadline.
func (c *outageClient) retry(method, path string, body any, deadline time.Time) outageAnswer {
	a := outageAnswer{seen: map[int]int{}}
	for {
		a.status, a.body = c.do(method, path, body)
		a.tries++
		a.seen[a.status]++
		if (a.status != 0 && a.status < 500) || time.Now().After(deadline) {
			return a
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// outageStatusAttr decodes the SignoffStatus search attribute of a described workflow ("" when unset).
func outageStatusAttr(indexed map[string]*commonpb.Payload) string {
	p := indexed[workflows.SearchAttrStatus]
	if p == nil {
		return ""
	}
	var s string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &s); err != nil {
		return "(undecodable: " + err.Error() + ")"
	}
	return s
}
