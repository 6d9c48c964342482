package localenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// SearchAttributes are the custom search attributes of SPEC §7, all of type Keyword.
var SearchAttributes = []string{"SignoffAccountId", "SignoffCampaignId", "SignoffStatus"}

// DevServerArgs are the `temporal server start-dev` flags every dev server of ours gets (make dev,
// tests, bench): the search attributes of SPEC §7, registered before the server serves, and the
// search-attribute cache turned back on. The CLI turns that cache off by default so attributes added
// at run time show at once; ours never change at run time, and without the cache every upsert and
// every visibility write reads the cluster metadata from SQLite (measured in BENCHMARKS.md).
func DevServerArgs() []string {
	var args []string
	for _, sa := range SearchAttributes {
		args = append(args, "--search-attribute", sa+"=Keyword")
	}
	return append(args, "--dynamic-config-value", "system.forceSearchAttributesCacheRefreshOnRead=false")
}

// TemporalOptions configure StartTemporal.
type TemporalOptions struct {
	// CLI is the path of the pinned Temporal CLI binary.
	CLI string
	// Address is host:port for the frontend; the Web UI listens on port + 1000.
	Address string
	// DBFile is the SQLite file; empty keeps state in memory.
	DBFile string
	// Headless turns the Web UI off.
	Headless bool
	// LogFile receives the server's output.
	LogFile string
}

// Temporal is a running Temporal process: the dev server, the server (StartTemporalServer) or the
// Web UI (StartTemporalUI).
type Temporal struct {
	// Address is where the frontend answers.
	Address string
	// UIURL is the Web UI, empty when headless or for the server alone.
	UIURL string
	cmd   *exec.Cmd
	done  chan struct{}
}

// Answers reports whether something accepts TCP connections at address.
func Answers(address string) bool {
	c, err := net.DialTimeout("tcp", address, 500*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// StartTemporal starts `temporal server start-dev` with the search attributes registered, WAL
// pragmas on the SQLite file, and waits until the frontend accepts connections.
func StartTemporal(ctx context.Context, opts TemporalOptions, log *zap.Logger) (*Temporal, error) {
	host, port, err := splitAddress(opts.Address)
	if err != nil {
		return nil, err
	}
	portStr := strconv.Itoa(port)
	if _, err := os.Stat(opts.CLI); err != nil {
		return nil, fmt.Errorf("localenv: Temporal CLI not found at %s (run `make bin/temporal`): %w", opts.CLI, err)
	}
	args := []string{"server", "start-dev", "--ip", host, "--port", portStr, "--namespace", "default",
		"--log-level", "warn", "--metrics-port", strconv.Itoa(port + 2000)}
	t := &Temporal{Address: opts.Address, done: make(chan struct{})}
	if opts.Headless {
		args = append(args, "--headless")
	} else {
		args = append(args, "--ui-ip", host, "--ui-port", strconv.Itoa(port+1000))
		t.UIURL = fmt.Sprintf("http://%s", net.JoinHostPort(host, strconv.Itoa(port+1000)))
	}
	if opts.DBFile != "" {
		if err := os.MkdirAll(filepath.Dir(opts.DBFile), 0o755); err != nil {
			return nil, fmt.Errorf("localenv: %w", err)
		}
		args = append(args, "--db-filename", opts.DBFile,
			"--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal")
	}
	args = append(args, DevServerArgs()...)
	cmd := exec.Command(opts.CLI, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if opts.LogFile != "" {
		f, err := os.OpenFile(opts.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("localenv: %w", err)
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("localenv: start temporal: %w", err)
	}
	t.cmd = cmd
	go func() { _ = cmd.Wait(); close(t.done) }()
	log.Info("starting temporal dev server", zap.String("address", opts.Address), zap.String("db", opts.DBFile))
	deadline := time.Now().Add(90 * time.Second)
	for !Answers(opts.Address) {
		select {
		case <-t.done:
			return nil, fmt.Errorf("localenv: temporal dev server exited during start-up; see %s", opts.LogFile)
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Stop()
			return nil, errors.New("localenv: temporal dev server did not answer within 90s")
		}
	}
	return t, nil
}

// splitAddress parses the frontend's host:port.
func splitAddress(address string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return "", 0, fmt.Errorf("localenv: temporal address %q: %w", address, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return "", 0, fmt.Errorf("localenv: temporal port %q: %w", portStr, err)
	}
	return host, port, nil
}

// Stop sends SIGTERM to the process and waits for it, killing it after 15 seconds.
func (t *Temporal) Stop() {
	if t.cmd == nil || t.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-t.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL)
		<-t.done
	}
}

// Kill ends the dev server at once, as a crash would.
func (t *Temporal) Kill() {
	if t.cmd != nil && t.cmd.Process != nil {
		_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL)
		<-t.done
	}
}
