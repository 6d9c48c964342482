package testenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// BuildSignoff compiles cmd/signoff into a folder of the test and returns the binary's path; the
// test fails loudly when it cannot.
func BuildSignoff(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "signoff")
	start := time.Now()
	out, err := exec.Command("go", "build", "-o", bin, "github.com/signoff/signoff/cmd/signoff").CombinedOutput()
	if err != nil {
		t.Fatalf("testenv: cannot build the signoff binary: %v\n%s", err, out)
	}
	t.Logf("built %s in %s", bin, time.Since(start).Round(time.Millisecond))
	return bin
}

// ChildEnv is the environment of a `signoff` process a test starts: the test's own environment minus
// every setting of the application (so nothing of the developer's shell leaks in; the SIGNOFF_TEST_
// variables stay), plus vars. TEMPORAL_CONFIG_FILE is /dev/null unless vars names one, so no
// profile of the developer's ~/.config/temporalio/temporal.toml reaches the process either; and
// unless vars names one, the metrics endpoint takes a free port, so processes of parallel tests never
// contend for the default one.
func ChildEnv(vars map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "DATABASE_URL" || strings.HasPrefix(name, "TEMPORAL_") || strings.HasPrefix(name, "SENDGRID_") ||
			(strings.HasPrefix(name, "SIGNOFF_") && !strings.HasPrefix(name, "SIGNOFF_TEST_")) {
			continue
		}
		out = append(out, kv)
	}
	if _, ok := vars["TEMPORAL_CONFIG_FILE"]; !ok {
		out = append(out, "TEMPORAL_CONFIG_FILE="+os.DevNull)
	}
	if _, ok := vars["SIGNOFF_METRICS_ADDR"]; !ok {
		out = append(out, "SIGNOFF_METRICS_ADDR=127.0.0.1:0")
	}
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

// Command is a child process for StartProcess.
type Command struct {
	Bin  string
	Args []string
	// Env is the whole environment of the process (see ChildEnv).
	Env []string
	// Stdout and Stderr receive its output; nil discards it.
	Stdout, Stderr io.Writer
}

// Process is a child process a test started in its own process group.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

// StartProcess starts c and fails the test when it cannot. When t ends, the process's group is
// killed if the process still runs.
func StartProcess(t testing.TB, c Command) *Process {
	t.Helper()
	p := &Process{cmd: exec.Command(c.Bin, c.Args...), done: make(chan struct{})}
	p.cmd.Env = c.Env
	p.cmd.Stdout, p.cmd.Stderr = c.Stdout, c.Stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("testenv: cannot start %s %s: %v", c.Bin, strings.Join(c.Args, " "), err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.killGroup)
	return p
}

// Pid is the process's id (and its process group's).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is the process's exit status once it has exited (nil for a clean exit).
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Kill sends SIGKILL to the process's group and waits until the process is gone; the test fails
// when it survives 10 s.
func (p *Process) Kill(t testing.TB) {
	t.Helper()
	if err := syscall.Kill(-p.Pid(), syscall.SIGKILL); err != nil && !p.Exited() {
		t.Fatalf("testenv: kill process %d: %v", p.Pid(), err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("testenv: process %d survived SIGKILL for 10s", p.Pid())
	}
}

// Interrupt sends SIGINT (Ctrl-C) to the process and answers its exit status (nil for a clean
// exit); a process still running after timeout is killed, and Interrupt answers an error saying so.
func (p *Process) Interrupt(timeout time.Duration) error {
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil && !p.Exited() {
		return fmt.Errorf("interrupt process %d: %w", p.Pid(), err)
	}
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.killGroup()
		return fmt.Errorf("process %d did not stop within %s of SIGINT", p.Pid(), timeout)
	}
}

// killGroup kills the process's group unless the process has exited, and waits up to 10 s.
func (p *Process) killGroup() {
	if p.Exited() {
		return
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// Supervisor starts, kills and restarts one `signoff` subcommand, each incarnation in its own process
// group with its own log file, as the chaos tests do to the worker and the API.
type Supervisor struct {
	t     testing.TB
	name  string // "signoff worker": for messages
	cmd   Command
	ready func(p *Process) bool
	dir   string
	slug  string // log file prefix

	mu      sync.Mutex
	current *Process
	logPath string
	started int
	kills   int
}

// NewSupervisor returns a supervisor of cmd (its Stdout and Stderr are ignored: every incarnation
// writes to a log file of its own). ready reports whether a started process is ready (it polls, it
// answers /healthz). The current process is killed when t ends.
func NewSupervisor(t testing.TB, cmd Command, ready func(p *Process) bool) *Supervisor {
	slug := filepath.Base(cmd.Bin)
	if len(cmd.Args) > 0 {
		slug = cmd.Args[0]
	}
	s := &Supervisor{t: t, name: strings.TrimSpace(filepath.Base(cmd.Bin) + " " + strings.Join(cmd.Args, " ")),
		cmd: cmd, ready: ready, dir: t.TempDir(), slug: slug}
	t.Cleanup(s.Stop)
	return s
}

// Start starts a new process and waits until it is ready; the test fails loudly when the process
// cannot start, exits, or is not ready within a minute.
func (s *Supervisor) Start() *Process {
	s.t.Helper()
	s.mu.Lock()
	s.started++
	n := s.started
	s.mu.Unlock()
	logPath := filepath.Join(s.dir, fmt.Sprintf("%s-%02d.log", s.slug, n))
	logFile, err := os.Create(logPath)
	if err != nil {
		s.t.Fatalf("testenv: %v", err)
	}
	c := s.cmd
	c.Stdout, c.Stderr = logFile, logFile
	p := StartProcess(s.t, c)
	go func() { <-p.done; logFile.Close() }()
	s.mu.Lock()
	s.current, s.logPath = p, logPath
	s.mu.Unlock()

	deadline := time.Now().Add(time.Minute)
	for {
		if p.Exited() {
			s.t.Fatalf("testenv: `%s` #%d exited at start (%v); its log:\n%s", s.name, n, p.err, TailFile(logPath, 4000))
		}
		if s.ready(p) {
			return p
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("testenv: `%s` #%d not ready within a minute; its log:\n%s", s.name, n, TailFile(logPath, 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill sends SIGKILL to the current process's group and waits until it is gone; the test fails when
// the process had already died on its own.
func (s *Supervisor) Kill() {
	s.t.Helper()
	s.mu.Lock()
	p, logPath := s.current, s.logPath
	s.current = nil
	s.mu.Unlock()
	if p == nil {
		s.t.Fatalf("testenv: no `%s` to kill", s.name)
	}
	if p.Exited() {
		s.t.Fatalf("testenv: `%s` died on its own before it was killed (%v); its log:\n%s", s.name, p.err, TailFile(logPath, 4000))
	}
	p.Kill(s.t)
	s.mu.Lock()
	s.kills++
	s.mu.Unlock()
}

// RequireAlive fails the test when the current process has exited on its own.
func (s *Supervisor) RequireAlive() {
	s.t.Helper()
	s.mu.Lock()
	p, logPath := s.current, s.logPath
	s.mu.Unlock()
	if p != nil && p.Exited() {
		s.t.Fatalf("testenv: `%s` exited on its own (%v); its log:\n%s", s.name, p.err, TailFile(logPath, 4000))
	}
}

// CurrentLog is the tail of the current (or last) process's log.
func (s *Supervisor) CurrentLog() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return TailFile(s.logPath, 4000)
}

// Started counts the processes started; Kills counts those killed.
func (s *Supervisor) Started() int { s.mu.Lock(); defer s.mu.Unlock(); return s.started }

// Kills counts the processes Kill killed.
func (s *Supervisor) Kills() int { s.mu.Lock(); defer s.mu.Unlock(); return s.kills }

// Stop kills the current process, if any (also a cleanup: it runs before the database is dropped).
func (s *Supervisor) Stop() {
	s.mu.Lock()
	p := s.current
	s.current = nil
	s.mu.Unlock()
	if p != nil {
		p.killGroup()
	}
}

// TailFile is the last n bytes of a file, for failure messages.
func TailFile(path string, n int) string {
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

// Polling reports whether a worker whose identity starts with identityPrefix ("" for any) polls both
// the workflow and the activity task queue of queue. The Go SDK's identity starts with "<pid>@".
func Polling(tc client.Client, queue, identityPrefix string) bool {
	for _, tq := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := tc.DescribeTaskQueue(ctx, queue, tq)
		cancel()
		if err != nil {
			return false
		}
		found := false
		for _, p := range resp.GetPollers() {
			if strings.HasPrefix(p.GetIdentity(), identityPrefix) {
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

// ReachableTempDir returns a new folder under the system temp folder that other users can read and
// enter (mode 0755: a local Postgres cluster runs as the postgres user when the tests run as root,
// and t.TempDir is private), removed when t ends; register it before anything started in it, so it
// is removed after that has stopped.
func ReachableTempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
