package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/testenv"
)

// TestDevCommand runs `signoff dev` against the test Postgres and Temporal (so it starts neither),
// waits for /readyz, and uses a printed demo token to create a campaign, as a newcomer would with curl;
// the metrics URL it prints serves the process's metrics (R-OPS-1).
// A second run on the same data reuses it and prints tokens that still work.
func TestDevCommand(t *testing.T) {
	bin := testenv.BuildSignoff(t)
	dbURL := testenv.DatabaseURL(t)
	dataDir := t.TempDir()

	runDev := func() (string, map[string]string, func()) {
		r := startDev(t, bin, dbURL, dataDir)
		waitReady(t, r.addr, r.proc, r.stderr)
		return r.addr, r.tokens, r.stop
	}

	r := startDev(t, bin, dbURL, dataDir)
	waitReady(t, r.addr, r.proc, r.stderr)
	addr, tokens, stop := r.addr, r.tokens, r.stop
	for _, role := range []string{"admin", "editor", "collaborator", "approver", "csm", "operator"} {
		require.NotEmptyf(t, tokens[role], "no %s token printed", role)
	}

	body := `{"name":"From the README","kind":"campaign","mode":"active","start_at":"2030-01-01T09:00:00Z","end_at":"2030-02-01T09:00:00Z"}`
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/campaigns", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tokens["collaborator"])
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", b)

	var list struct {
		Items []map[string]any `json:"items"`
	}
	getJSON(t, "http://"+addr+"/v1/campaigns?limit=100", tokens["admin"], &list)
	require.Len(t, list.Items, 3, "two demo campaigns and the new one")
	getJSON(t, "http://"+addr+"/v1/saved-searches", tokens["csm"], &list)
	require.NotEmpty(t, list.Items, "demo saved searches")

	// R-OPS-1: the one process serves its metrics where the banner says, the API's and the worker's.
	require.NotEmpty(t, r.metrics, "the banner prints the metrics URL")
	status, body := get(t, r.metrics)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `signoff_http_requests_total{method="POST",route="/v1/campaigns",status="201"} 1`)
	require.Contains(t, body, "\nsignoff_decisions_total{")
	require.Contains(t, body, "\ntemporal_")
	status, _ = get(t, strings.TrimSuffix(r.metrics, "/metrics")+"/readyz")
	require.Equal(t, http.StatusOK, status)
	stop()

	// Second run: same data, same tokens, no second copy of the demo data.
	addr2, tokens2, stop2 := runDev()
	defer stop2()
	require.Equal(t, tokens, tokens2, "a second `make dev` reuses .data and prints the same tokens")
	getJSON(t, "http://"+addr2+"/v1/campaigns?limit=100", tokens2["admin"], &list)
	require.Len(t, list.Items, 3, "demo data is loaded once")
}

// waitReady waits until /readyz at addr answers 200; the test fails when p exits first or a minute
// passes, showing what p wrote to out.
func waitReady(t *testing.T, addr string, p *testenv.Process, out fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if p.Exited() {
			t.Fatalf("%s exited at start (%v); its output:\n%s", addr, p.Err(), out.String())
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz at %s never answered 200 within a minute; output:\n%s", addr, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func getJSON(t *testing.T, url, token string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", url, b)
	require.NoError(t, json.Unmarshal(b, out), string(b))
}

// devRun is a running `signoff dev`: its address, the tokens it printed, its process, its captured
// logs and a stop function.
type devRun struct {
	addr    string
	metrics string // the metrics URL the banner printed
	tokens  map[string]string
	proc    *testenv.Process
	stderr  *syncBuffer
	stop    func()
}

// startDev runs `signoff dev` on the test servers with dbURL and dataDir plus extra environment,
// and waits for its banner.
func startDev(t *testing.T, bin, dbURL, dataDir string, extra ...string) devRun {
	t.Helper()
	addr := testenv.FreeAddr(t)
	stdout, banner := io.Pipe()
	stderr := &syncBuffer{}
	p := testenv.StartProcess(t, testenv.Command{Bin: bin, Args: []string{"dev"}, Stdout: banner, Stderr: stderr,
		Env: append(append(os.Environ(), append([]string{"SIGNOFF_METRICS_ADDR=127.0.0.1:0"}, extra...)...),
			"DATABASE_URL="+dbURL,
			"TEMPORAL_ADDRESS="+testenv.TemporalAddress(t),
			"SIGNOFF_HTTP_ADDR="+addr,
			"SIGNOFF_DATA_DIR="+dataDir,
			"SIGNOFF_TASK_QUEUE="+testenv.TaskQueue(t),
		)})
	go func() { <-p.Done(); banner.Close() }()

	tokens := map[string]string{}
	lineRe := regexp.MustCompile(`^\s+(admin|editor|collaborator|approver|csm|operator)\s+(so_\S+)`)
	metricsRe := regexp.MustCompile(`^\s+Metrics\s+(http://\S+/metrics)`)
	var metricsURL string
	sc := bufio.NewScanner(stdout)
	deadline := time.After(2 * time.Minute)
	lines := make(chan string)
	go func() {
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
read:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				break read
			}
			if m := lineRe.FindStringSubmatch(l); m != nil {
				tokens[m[1]] = m[2]
			}
			if m := metricsRe.FindStringSubmatch(l); m != nil {
				metricsURL = m[1]
			}
			if strings.Contains(l, "Try:") {
				break read
			}
		case <-deadline:
			t.Fatalf("signoff dev printed no banner within 2 minutes; stderr:\n%s", stderr.String())
		}
	}
	go func() {
		for range lines { // keep draining so the process never blocks on stdout
		}
	}()
	stop := func() {
		require.NoError(t, p.Interrupt(30*time.Second), "signoff dev must exit cleanly on Ctrl-C; stderr:\n%s", stderr.String())
	}
	return devRun{addr: addr, metrics: metricsURL, tokens: tokens, proc: p, stderr: stderr, stop: stop}
}

// syncBuffer is a goroutine-safe buffer for a child process's output.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
