package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/testenv"
)

// buildBinary compiles cmd/signoff once for the test.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "signoff")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// TestDevCommand runs `signoff dev` against the test Postgres and Temporal (so it starts neither),
// waits for /readyz, and uses a printed demo token to create a campaign, as a newcomer would with curl.
// A second run on the same data reuses it and prints tokens that still work.
func TestDevCommand(t *testing.T) {
	bin := buildBinary(t)
	dbURL := testenv.DatabaseURL(t)
	dataDir := t.TempDir()

	runDev := func() (string, map[string]string, func()) {
		r := startDev(t, bin, dbURL, dataDir)
		return r.addr, r.tokens, r.stop
	}

	addr, tokens, stop := runDev()
	for _, role := range []string{"admin", "editor", "collaborator", "approver", "csm", "operator"} {
		require.NotEmptyf(t, tokens[role], "no %s token printed", role)
	}
	waitReady(t, addr)

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
	stop()

	// Second run: same data, same tokens, no second copy of the demo data.
	addr2, tokens2, stop2 := runDev()
	defer stop2()
	waitReady(t, addr2)
	require.Equal(t, tokens, tokens2, "a second `make dev` reuses .data and prints the same tokens")
	getJSON(t, "http://"+addr2+"/v1/campaigns?limit=100", tokens2["admin"], &list)
	require.Len(t, list.Items, 3, "demo data is loaded once")
}

func waitReady(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("/readyz at %s never answered 200", addr)
		case <-time.After(200 * time.Millisecond):
		}
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

// devRun is a running `signoff dev`: its address, the tokens it printed, its captured logs and a stop function.
type devRun struct {
	addr   string
	tokens map[string]string
	stderr *syncBuffer
	stop   func()
}

// startDev runs `signoff dev` on the test servers with dbURL and dataDir plus extra environment,
// and waits for its banner.
func startDev(t *testing.T, bin, dbURL, dataDir string, extra ...string) devRun {
	t.Helper()
	{
		addr := freeAddr(t)
		cmd := exec.Command(bin, "dev")
		cmd.Env = append(append(os.Environ(), extra...),
			"DATABASE_URL="+dbURL,
			"TEMPORAL_ADDRESS="+testenv.TemporalAddress(t),
			"SIGNOFF_HTTP_ADDR="+addr,
			"SIGNOFF_DATA_DIR="+dataDir,
			"SIGNOFF_TASK_QUEUE="+testenv.TaskQueue(t),
		)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		stderr := &syncBuffer{}
		cmd.Stderr = stderr
		require.NoError(t, cmd.Start())
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()

		tokens := map[string]string{}
		lineRe := regexp.MustCompile(`^\s+(admin|editor|collaborator|approver|csm|operator)\s+(so_\S+)`)
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
			require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
			select {
			case err := <-done:
				require.NoError(t, err, "signoff dev must exit cleanly on Ctrl-C; stderr:\n%s", stderr.String())
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("signoff dev did not stop within 30s of SIGINT")
			}
		}
		return devRun{addr: addr, tokens: tokens, stderr: stderr, stop: stop}
	}
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
