package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.uber.org/zap"

	"github.com/signoff/signoff/config"
)

// runHealthcheck answers whether this container's process is healthy, for the healthchecks of
// docker/compose.yaml (the image has no shell or curl): `api` asks /healthz at SIGNOFF_HTTP_ADDR;
// `worker` asks Temporal whether a worker of this host polls the task queue.
func runHealthcheck(ctx context.Context, cfg config.Config, what string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	switch what {
	case "api":
		host, port, err := net.SplitHostPort(cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("SIGNOFF_HTTP_ADDR: %w", err)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/healthz answered %d", resp.StatusCode)
		}
		return nil
	case "worker":
		hostname, err := os.Hostname()
		if err != nil {
			return err
		}
		tc, err := dialTemporal(ctx, cfg, zap.NewNop(), nil)
		if err != nil {
			return err
		}
		defer tc.Close()
		// The SDK's worker identity is "<pid>@<hostname>@".
		for _, tq := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
			resp, err := tc.DescribeTaskQueue(ctx, cfg.TaskQueue, tq)
			if err != nil {
				return err
			}
			found := false
			for _, p := range resp.GetPollers() {
				found = found || strings.Contains(p.GetIdentity(), "@"+hostname+"@")
			}
			if !found {
				return fmt.Errorf("no worker of host %s polls task queue %s (%s)", hostname, cfg.TaskQueue, tq)
			}
		}
		return nil
	default:
		return errors.New("usage: signoff healthcheck api|worker")
	}
}
