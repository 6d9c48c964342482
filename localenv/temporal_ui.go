package localenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"text/template"
	"time"

	"go.uber.org/zap"
)

// TemporalUIOptions configure StartTemporalUI.
type TemporalUIOptions struct {
	// Bin is the temporal-ui-server binary (github.com/temporalio/ui-server/v2/cmd/server).
	Bin string
	// Dir holds the generated configuration and the UI server's log.
	Dir string
	// Address is host:port the Web UI listens on.
	Address string
	// TemporalAddress is the frontend the UI talks to.
	TemporalAddress string
	// Namespace is the namespace the UI opens on.
	Namespace string
}

// StartTemporalUI runs the Temporal Web UI as a process of its own, the way a production cluster
// runs it beside the server, and waits until it answers HTTP. Only `make cluster` uses it (the dev
// server embeds the same UI).
func StartTemporalUI(ctx context.Context, opts TemporalUIOptions, log *zap.Logger) (*Temporal, error) {
	host, port, err := splitAddress(opts.Address)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(opts.Bin); err != nil {
		return nil, fmt.Errorf("localenv: %s missing (run `make bin/temporal-ui-server`): %w", opts.Bin, err)
	}
	confDir := filepath.Join(opts.Dir, "config")
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		return nil, fmt.Errorf("localenv: %w", err)
	}
	f, err := os.Create(filepath.Join(confDir, "cluster.yaml"))
	if err != nil {
		return nil, fmt.Errorf("localenv: %w", err)
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	err = uiConfig.Execute(f, map[string]any{"Host": host, "Port": port, "Temporal": opts.TemporalAddress, "Namespace": opts.Namespace})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("localenv: ui config: %w", err)
	}
	logPath := filepath.Join(opts.Dir, "temporal-ui.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("localenv: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(opts.Bin, "--root", opts.Dir, "--config", "config", "--env", "cluster", "start")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("localenv: start temporal ui: %w", err)
	}
	url := "http://" + opts.Address
	t := &Temporal{Address: opts.Address, UIURL: url, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(t.done) }()
	log.Info("starting temporal web ui", zap.String("url", url))
	deadline := time.Now().Add(time.Minute)
	for !uiAnswers(url) {
		select {
		case <-t.done:
			return nil, fmt.Errorf("localenv: temporal ui exited during start-up; its log ends:\n%s", lastLines(readFile(logPath), 10))
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Stop()
			return nil, errors.New("localenv: temporal ui did not answer within a minute")
		}
	}
	return t, nil
}

// uiAnswers reports whether the Web UI at url answers its front page.
func uiAnswers(url string) bool {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url + "/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// uiConfig is the UI server's configuration: what the CLI's dev server gives its embedded UI.
var uiConfig = template.Must(template.New("ui").Parse(`temporalGrpcAddress: "{{.Temporal}}"
host: "{{.Host}}"
port: {{.Port}}
enableUi: true
defaultNamespace: "{{.Namespace}}"
hideLogs: true
cors:
  cookieInsecure: true
`))
