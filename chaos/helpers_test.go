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
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// chaosFull reports whether the full form was asked for (SIGNOFF_CHAOS=full); the default short form
// runs in `make test`.
func chaosFull() bool { return os.Getenv("SIGNOFF_CHAOS") == "full" }

// buildSignoff compiles cmd/signoff once for the test and fails loudly when it cannot.
func buildSignoff(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "signoff")
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", bin, "github.com/signoff/signoff/cmd/signoff")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "chaos: cannot build the signoff binary: %s", out)
	t.Logf("built %s in %s", bin, time.Since(start).Round(time.Millisecond))
	return bin
}

// workerEnv is the environment of a `signoff worker` process: the test's own environment minus every
// setting of the application (so nothing of the developer's shell leaks in), plus vars.
func workerEnv(vars map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "DATABASE_URL" || strings.HasPrefix(name, "TEMPORAL_") || strings.HasPrefix(name, "SENDGRID_") ||
			(strings.HasPrefix(name, "SIGNOFF_") && !strings.HasPrefix(name, "SIGNOFF_TEST_")) {
			continue
		}
		out = append(out, kv)
	}
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

// workerProc is one incarnation of the worker process.
type workerProc struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	err     error         // its exit status, once done is closed
}

// exited reports whether the process has ended.
func (p *workerProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// workerSupervisor starts, kills and restarts `signoff worker` processes, each in its own process group.
type workerSupervisor struct {
	t        *testing.T
	bin      string
	env      []string
	queue    string
	temporal client.Client
	dir      string

	mu      sync.Mutex
	current *workerProc
	started int
	kills   int
}

func newWorkerSupervisor(t *testing.T, bin, queue string, tc client.Client, vars map[string]string) *workerSupervisor {
	s := &workerSupervisor{t: t, bin: bin, env: workerEnv(vars), queue: queue, temporal: tc, dir: t.TempDir()}
	t.Cleanup(s.stop)
	return s
}

// start starts a new worker process and waits until it polls the task queue; the test fails loudly
// when the process cannot start, exits, or never polls within a minute.
func (s *workerSupervisor) start() *workerProc {
	s.t.Helper()
	s.mu.Lock()
	s.started++
	n := s.started
	s.mu.Unlock()
	p := &workerProc{logPath: filepath.Join(s.dir, fmt.Sprintf("worker-%02d.log", n)), done: make(chan struct{})}
	logFile, err := os.Create(p.logPath)
	require.NoError(s.t, err)
	p.cmd = exec.Command(s.bin, "worker")
	p.cmd.Env = s.env
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		s.t.Fatalf("chaos: cannot start `signoff worker`: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	s.mu.Lock()
	s.current = p
	s.mu.Unlock()

	// Ready when the server has seen a poll of this process (the SDK identity starts with "<pid>@").
	prefix := fmt.Sprintf("%d@", p.cmd.Process.Pid)
	deadline := time.Now().Add(time.Minute)
	for {
		if p.exited() {
			s.t.Fatalf("chaos: `signoff worker` #%d exited at start (%v); its log:\n%s", n, p.err, tailFile(p.logPath, 4000))
		}
		if s.polling(prefix) {
			return p
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("chaos: `signoff worker` #%d never polled task queue %s within a minute; its log:\n%s",
				n, s.queue, tailFile(p.logPath, 4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// polling reports whether a poller whose identity starts with prefix polls both the workflow and
// the activity task queue.
func (s *workerSupervisor) polling(prefix string) bool {
	for _, tq := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := s.temporal.DescribeTaskQueue(ctx, s.queue, tq)
		cancel()
		if err != nil {
			return false
		}
		found := false
		for _, p := range resp.GetPollers() {
			if strings.HasPrefix(p.GetIdentity(), prefix) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// kill sends SIGKILL to the current worker's process group and waits until it is gone.
func (s *workerSupervisor) kill() {
	s.t.Helper()
	s.mu.Lock()
	p := s.current
	s.current = nil
	s.mu.Unlock()
	require.NotNil(s.t, p, "no worker to kill")
	if p.exited() {
		s.t.Fatalf("chaos: the worker died on its own before it was killed (%v); its log:\n%s", p.err, tailFile(p.logPath, 4000))
	}
	require.NoError(s.t, syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL))
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		s.t.Fatalf("chaos: worker %d survived SIGKILL for 10s", p.cmd.Process.Pid)
	}
	s.mu.Lock()
	s.kills++
	s.mu.Unlock()
}

// alive fails the test when the current worker has exited on its own.
func (s *workerSupervisor) requireAlive() {
	s.t.Helper()
	s.mu.Lock()
	p := s.current
	s.mu.Unlock()
	if p != nil && p.exited() {
		s.t.Fatalf("chaos: the worker exited on its own (%v); its log:\n%s", p.err, tailFile(p.logPath, 4000))
	}
}

// currentLog is the tail of the current (or last) worker's log.
func (s *workerSupervisor) currentLog() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == nil {
		return tailFile(filepath.Join(s.dir, fmt.Sprintf("worker-%02d.log", s.started)), 4000)
	}
	return tailFile(s.current.logPath, 4000)
}

// stop kills the current worker, if any (cleanup: before the database is dropped).
func (s *workerSupervisor) stop() {
	s.mu.Lock()
	p := s.current
	s.current = nil
	s.mu.Unlock()
	if p == nil || p.exited() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// tailFile is the last n bytes of a file, for failure messages.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	if len(b) == 0 {
		return "(empty)"
	}
	return string(b)
}

// jitter is a random duration in [lo, hi).
func jitter(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rand.Int64N(int64(hi-lo)))
}

// apiClient calls the in-process API as one user.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

// post sends a JSON body and answers the status and the raw answer.
func (c *apiClient) post(t *testing.T, path string, body any) (int, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	require.NoError(t, err, "POST %s", path)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, out
}
