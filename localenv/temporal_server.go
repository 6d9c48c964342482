package localenv

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TemporalServerOptions configure StartTemporalServer.
type TemporalServerOptions struct {
	// Bin is the temporal-server binary; SQLTool the temporal-sql-tool of the same release.
	Bin, SQLTool string
	// Dir holds the generated configuration and the server's log.
	Dir string
	// PostgresURL is a superuser connection to the cluster that stores Temporal's data, in the
	// databases temporal and temporal_visibility (created, with their schemas, when missing).
	PostgresURL string
	// Address is host:port of the frontend; the other services take the next seven ports.
	Address string
	// Shards is the number of history shards (the dev server has one).
	Shards int
}

// StartTemporalServer runs a Temporal server with Postgres persistence and several history shards:
// the shape of a production cluster, for measurements the dev server (one shard on SQLite) cannot
// make. It sets up the schemas, registers namespace "default" with the search attributes of SPEC
// §7 and waits until the frontend answers. `make bench-server` and `make cluster` use it.
func StartTemporalServer(ctx context.Context, opts TemporalServerOptions, log *zap.Logger) (*Temporal, error) {
	host, port, err := splitAddress(opts.Address)
	if err != nil {
		return nil, err
	}
	for _, bin := range []string{opts.Bin, opts.SQLTool} {
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("localenv: %s missing (run `make bin/temporal-server`): %w", bin, err)
		}
	}
	pg, err := url.Parse(opts.PostgresURL)
	if err != nil {
		return nil, fmt.Errorf("localenv: postgres url: %w", err)
	}
	socket := pg.Query().Get("host")
	if socket == "" {
		return nil, errors.New("localenv: the Temporal server needs a Postgres URL with a Unix socket (host=…)")
	}
	if err := setupTemporalSchemas(ctx, opts, socket); err != nil {
		return nil, err
	}

	confDir := filepath.Join(opts.Dir, "config")
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		return nil, fmt.Errorf("localenv: %w", err)
	}
	dynamic := filepath.Join(opts.Dir, "dynamicconfig.yaml")
	// The search attributes never change at run time (see DevServerArgs).
	if err := os.WriteFile(dynamic, []byte("system.forceSearchAttributesCacheRefreshOnRead:\n  - value: false\n"), 0o644); err != nil {
		return nil, fmt.Errorf("localenv: %w", err)
	}
	f, err := os.Create(filepath.Join(confDir, "bench.yaml"))
	if err != nil {
		return nil, fmt.Errorf("localenv: %w", err)
	}
	ports := make([]int, 8)
	for i := range ports {
		ports[i] = port + i
	}
	err = serverConfig.Execute(f, map[string]any{"Host": host, "Port": port, "Ports": ports, "Shards": max(1, opts.Shards),
		"Socket": socket, "User": pg.User.Username(), "Dynamic": dynamic})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("localenv: server config: %w", err)
	}

	logFile, err := os.Create(filepath.Join(opts.Dir, "temporal-server.log"))
	if err != nil {
		return nil, fmt.Errorf("localenv: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(opts.Bin, "--root", opts.Dir, "--config", "config", "--env", "bench", "--allow-no-auth", "start")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("localenv: start temporal server: %w", err)
	}
	t := &Temporal{Address: opts.Address, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(t.done) }()
	log.Info("starting temporal server", zap.String("address", opts.Address), zap.Int("shards", max(1, opts.Shards)))
	if err := registerNamespace(ctx, t, opts.Address); err != nil {
		t.Stop()
		out, _ := os.ReadFile(logFile.Name())
		return nil, fmt.Errorf("%w; its log ends:\n%s", err, lastLines(string(out), 10))
	}
	return t, nil
}

// setupTemporalSchemas creates Temporal's two databases and brings their schemas to the release's
// own (embedded in temporal-sql-tool); both steps are no-ops on a set-up cluster.
func setupTemporalSchemas(ctx context.Context, opts TemporalServerOptions, socket string) error {
	conn, err := pgx.Connect(ctx, opts.PostgresURL)
	if err != nil {
		return fmt.Errorf("localenv: temporal schemas: %w", err)
	}
	defer conn.Close(ctx)
	for db, schema := range map[string]string{"temporal": "postgresql/v12/temporal", "temporal_visibility": "postgresql/v12/visibility"} {
		var exists bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, db).Scan(&exists); err != nil {
			return fmt.Errorf("localenv: temporal schemas: %w", err)
		}
		if !exists {
			if _, err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
				return fmt.Errorf("localenv: create database %s: %w", db, err)
			}
		}
		base := []string{"--plugin", "postgres12_pgx", "--endpoint", "localhost", "--port", "5432", "--user", "postgres",
			"--db", db, "--connect-attributes", "host=" + socket}
		for _, step := range [][]string{{"setup-schema", "-v", "0.0"}, {"update-schema", "--schema-name", schema}} {
			out, err := exec.CommandContext(ctx, opts.SQLTool, append(base, step...)...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("localenv: temporal-sql-tool %s on %s: %w\n%s", step[0], db, err, lastLines(string(out), 5))
			}
		}
	}
	return nil
}

// registerNamespace waits for the frontend, then registers namespace "default" and the search
// attributes of SPEC §7 (the dev server does both from its flags).
func registerNamespace(ctx context.Context, t *Temporal, address string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case <-t.done:
			return errors.New("localenv: temporal server exited during start-up")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("localenv: temporal server did not take namespace \"default\" within 2 minutes")
		}
		if !Answers(address) {
			continue
		}
		c, err := client.Dial(client.Options{HostPort: address, Namespace: "default", Logger: quietLogger{}})
		if err != nil {
			continue
		}
		_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace: "default", WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)})
		var exists *serviceerror.NamespaceAlreadyExists
		if err == nil || errors.As(err, &exists) {
			attrs := map[string]enumspb.IndexedValueType{}
			for _, sa := range SearchAttributes {
				attrs[sa] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
			}
			_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
				Namespace: "default", SearchAttributes: attrs})
			var already *serviceerror.AlreadyExists
			if errors.As(err, &already) {
				err = nil
			}
		}
		if err == nil {
			err = probeSearchAttributes(ctx, c)
		}
		c.Close()
		if err == nil {
			// Every service refreshes its namespace registry within 2 s
			// (system.namespaceCacheRefreshInterval); the frontend answered first.
			time.Sleep(3 * time.Second)
			return nil
		}
	}
}

// probeSearchAttributes starts and ends a workflow that carries the search attributes: it succeeds
// once the frontend's namespace registry maps them.
func probeSearchAttributes(ctx context.Context, c client.Client) error {
	var sas []temporal.SearchAttributeUpdate
	for _, sa := range SearchAttributes {
		sas = append(sas, temporal.NewSearchAttributeKeyKeyword(sa).ValueSet("probe"))
	}
	id := fmt.Sprintf("localenv-probe-%d", time.Now().UnixNano())
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "localenv-probe",
		TypedSearchAttributes: temporal.NewSearchAttributes(sas...)}, "Probe")
	if err != nil {
		return err
	}
	return c.TerminateWorkflow(ctx, id, run.GetRunID(), "search attribute probe")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// quietLogger drops the SDK client's messages while the server starts.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}

// serverConfig is the server's static configuration: Postgres persistence and visibility through
// the Unix socket, Shards history shards, the four services' gRPC and membership ports on Port to Port+7.
var serverConfig = template.Must(template.New("server").Parse(`log:
  stdout: true
  level: warn
persistence:
  defaultStore: postgres
  visibilityStore: postgres-visibility
  numHistoryShards: {{.Shards}}
  datastores:
    postgres:
      sql:
        pluginName: postgres12_pgx
        databaseName: temporal
        connectAddr: "localhost:5432"
        connectProtocol: tcp
        user: "{{.User}}"
        connectAttributes:
          host: "{{.Socket}}"
        maxConns: 20
        maxIdleConns: 20
        maxConnLifetime: 1h
    postgres-visibility:
      sql:
        pluginName: postgres12_pgx
        databaseName: temporal_visibility
        connectAddr: "localhost:5432"
        connectProtocol: tcp
        user: "{{.User}}"
        connectAttributes:
          host: "{{.Socket}}"
        maxConns: 10
        maxIdleConns: 10
        maxConnLifetime: 1h
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "{{.Host}}"
services:
  frontend:
    rpc: {grpcPort: {{index .Ports 0}}, membershipPort: {{index .Ports 1}}, bindOnIP: "{{.Host}}"}
  history:
    rpc: {grpcPort: {{index .Ports 2}}, membershipPort: {{index .Ports 3}}, bindOnIP: "{{.Host}}"}
  matching:
    rpc: {grpcPort: {{index .Ports 4}}, membershipPort: {{index .Ports 5}}, bindOnIP: "{{.Host}}"}
  worker:
    rpc: {grpcPort: {{index .Ports 6}}, membershipPort: {{index .Ports 7}}, bindOnIP: "{{.Host}}"}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "{{.Host}}:{{.Port}}"
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: "{{.Dynamic}}"
  pollInterval: 10s
`))
