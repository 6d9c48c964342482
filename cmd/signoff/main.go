// Command signoff is the Signoff binary: `signoff api`, `signoff worker`, `signoff migrate`,
// `signoff setup` (namespace and search attributes on a Temporal cluster), `signoff version`,
// `signoff dev` (migrations, demo data, worker and API in one process), `signoff cluster` (the
// production shape on one machine, several processes; make cluster) and `signoff healthcheck`.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/signoff/signoff/config"
	"github.com/signoff/signoff/logging"
)

const usage = `usage: signoff <command>

commands:
  api      serve the HTTP API
  worker   run the Temporal worker
  migrate  apply database migrations and exit
  setup    register the Temporal namespace (when missing) and the search attributes, and exit
  version  print the build: module version, VCS revision, Go version
  dev      start Postgres and Temporal when absent, migrate, load demo data, run worker and API
  cluster [-- command [args...]]
           the production shape on this machine (make cluster): Postgres, a Temporal server on
           Postgres, its Web UI, migrations, two api and two worker processes, until Ctrl-C; with a
           command, runs it once everything is ready (SIGNOFF_CLUSTER_* variables name the processes)
           and stops everything when it exits, with its status (make bench-cluster)
  healthcheck api|worker
           exit 0 when this host's API answers /healthz, or its worker polls (container healthchecks)

Configuration comes from environment variables; see README.md.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "version":
		runVersion(os.Stdout)
		return
	case "help", "-h", "--help":
		fmt.Print(usage)
		return
	}
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if os.Args[1] == "dev" && os.Getenv("SIGNOFF_WEBHOOK_ALLOW_PRIVATE") == "" {
		cfg.WebhookAllowPrivate = true // local receivers (R-HOOK-5: dev sets it)
	}
	format := cfg.LogFormat
	if (os.Args[1] == "dev" || os.Args[1] == "cluster") && os.Getenv("SIGNOFF_LOG_FORMAT") == "" {
		format = "console"
	}
	log, err := logging.New(format, cfg.LogLevel)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer func() { _ = log.Sync() }()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch os.Args[1] {
	case "api":
		err = runAPI(ctx, cfg, log)
	case "worker":
		err = runWorker(ctx, cfg, log)
	case "migrate":
		err = runMigrate(ctx, cfg, log)
	case "setup":
		err = runSetup(ctx, cfg, os.Stdout, log)
	case "dev":
		err = runDev(ctx, cfg, log)
	case "cluster":
		var then []string
		if then, err = clusterCommand(os.Args[2:]); err == nil {
			err = runCluster(ctx, cfg, log, then)
		}
	case "healthcheck":
		if err = runHealthcheck(ctx, cfg, strings.Join(os.Args[2:], " ")); err != nil {
			fmt.Fprintln(os.Stderr, "unhealthy:", err)
			os.Exit(1)
		}
	case "help", "-h", "--help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "signoff: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error("signoff stopped with an error", zapErr(err))
		_ = log.Sync()
		os.Exit(1)
	}
}
