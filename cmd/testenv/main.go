// Command testenv starts a private Postgres cluster and a Temporal dev server, runs the command
// given after "--" with their addresses in the environment, and tears both down. `make test` uses
// it so every test talks to real servers; it exits non-zero when it cannot start them. With
// SIGNOFF_TEST_TEMPORAL=server (make bench-server) it starts a Temporal server on the same Postgres
// instead of the dev server.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.uber.org/zap"

	"github.com/signoff/signoff/localenv"
	"github.com/signoff/signoff/logging"
	"github.com/signoff/signoff/testenv"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: testenv -- <command> [args...]")
		os.Exit(2)
	}
	os.Exit(run(args))
}

func run(args []string) int {
	log, _ := logging.New("console", "info")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "testenv: "+format+"\n", a...)
		return 1
	}
	cli, err := filepath.Abs(envOr("SIGNOFF_TEMPORAL_CLI", "bin/temporal"))
	if err != nil {
		return fail("%v", err)
	}
	if _, err := os.Stat(cli); err != nil {
		return fail("Temporal CLI missing at %s (make bin/temporal builds it): %v", cli, err)
	}
	dir, err := os.MkdirTemp("", "signoff-test-")
	if err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		return fail("%v", err)
	}

	start := time.Now()
	// SIGNOFF_TEST_POSTGRES_CONFIG adds server settings to the test cluster, for experiments:
	// "shared_preload_libraries=pg_stat_statements" (what `bench -pgstats` reads).
	pg, err := localenv.StartPostgres(ctx, localenv.PostgresOptions{Dir: filepath.Join(dir, "postgres"), Database: "postgres",
		Settings: strings.Fields(os.Getenv("SIGNOFF_TEST_POSTGRES_CONFIG"))}, log)
	if err != nil {
		return fail("cannot start Postgres: %v", err)
	}
	defer func() { _ = pg.Stop(context.Background()) }()

	var address string
	if os.Getenv("SIGNOFF_TEST_TEMPORAL") == "server" {
		// make bench-server: a Temporal server with Postgres persistence and several history shards.
		bin := filepath.Dir(cli)
		shards, _ := strconv.Atoi(envOr("SIGNOFF_TEST_TEMPORAL_SHARDS", "4"))
		port, err := testenv.FreePortBlock(8)
		if err != nil {
			return fail("%v", err)
		}
		srv, err := localenv.StartTemporalServer(ctx, localenv.TemporalServerOptions{
			Bin: filepath.Join(bin, "temporal-server"), SQLTool: filepath.Join(bin, "temporal-sql-tool"),
			Dir: filepath.Join(dir, "temporal-server"), PostgresURL: pg.URL, Address: fmt.Sprintf("127.0.0.1:%d", port), Shards: shards}, log)
		if err != nil {
			return fail("cannot start the Temporal server: %v", err)
		}
		defer srv.Stop()
		address = srv.Address
	} else {
		tlog, err := os.Create(filepath.Join(dir, "temporal.log"))
		if err != nil {
			return fail("%v", err)
		}
		extra := localenv.DevServerArgs()
		// SIGNOFF_TEST_TEMPORAL_CONFIG adds dynamic config to the dev server, for experiments:
		// "history.cacheMaxSize=20000 matching.numTaskqueueReadPartitions=1".
		for _, kv := range strings.Fields(os.Getenv("SIGNOFF_TEST_TEMPORAL_CONFIG")) {
			extra = append(extra, "--dynamic-config-value", kv)
		}
		srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
			ExistingPath:  cli,
			ClientOptions: &client.Options{Logger: logging.NewTemporalLogger(log.WithOptions(zap.IncreaseLevel(zap.WarnLevel)))},
			LogLevel:      "warn",
			ExtraArgs:     extra,
			Stdout:        tlog,
			Stderr:        tlog,
		})
		if err != nil {
			out, _ := os.ReadFile(tlog.Name())
			return fail("cannot start the Temporal dev server: %v\n%s", err, out)
		}
		defer func() { _ = srv.Stop() }()
		address = srv.FrontendHostPort()
	}
	log.Info("test servers ready", zap.Duration("took", time.Since(start)),
		zap.String("postgres", pg.URL), zap.String("temporal", address))

	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr, cmd.Stdin = os.Stdout, os.Stderr, os.Stdin
	cmd.Env = append(os.Environ(),
		testenv.EnvDatabaseURL+"="+pg.URL,
		testenv.EnvTemporalAddress+"="+address,
		testenv.EnvTemporalCLI+"="+cli,
	)
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		return fail("%v", err)
	}
	return 0
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
