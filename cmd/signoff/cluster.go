package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/signoff/signoff/config"
	"github.com/signoff/signoff/localenv"
	"github.com/signoff/signoff/sharelink"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/temporalclient"
	"github.com/signoff/signoff/workflows"
)

// clusterShards is the number of history shards of the cluster's Temporal server (make bench-server's
// default too); it is fixed once the server's database exists.
const clusterShards = 4

// clusterAPIs and clusterWorkers are how many `signoff api` and `signoff worker` processes run.
const clusterAPIs, clusterWorkers = 2, 2

// envMetricsAddr is the metrics listener of a signoff process (R-OPS-1). `signoff cluster` gives each
// process its own, from this address of the first process upwards (default 127.0.0.1:9090).
const envMetricsAddr = "SIGNOFF_METRICS_ADDR"

// clusterLayout is where each process of `signoff cluster` listens.
type clusterLayout struct {
	temporal string   // the Temporal frontend; the server's other services take the next seven ports
	ui       string   // the Temporal Web UI: the frontend's port + 1000, as with `signoff dev`
	apis     []string // SIGNOFF_HTTP_ADDR of each API process: the configured address, then the next ports
	metrics  []string // SIGNOFF_METRICS_ADDR of the APIs, then of the workers, on consecutive ports
}

// newClusterLayout derives every address from TEMPORAL_ADDRESS, SIGNOFF_HTTP_ADDR and
// SIGNOFF_METRICS_ADDR, so that two clusters (or a cluster and `signoff dev`) can run side by side.
func newClusterLayout(cfg config.Config) (clusterLayout, error) {
	l := clusterLayout{temporal: cfg.TemporalAddress}
	var err error
	if l.ui, err = offsetAddr(cfg.TemporalAddress, 1000); err != nil {
		return l, err
	}
	for i := 0; i < clusterAPIs; i++ {
		a, err := offsetAddr(cfg.HTTPAddr, i)
		if err != nil {
			return l, err
		}
		l.apis = append(l.apis, a)
	}
	metrics := os.Getenv(envMetricsAddr)
	if metrics == "" {
		metrics = "127.0.0.1:9090"
	}
	for i := 0; i < clusterAPIs+clusterWorkers; i++ {
		a, err := offsetAddr(metrics, i)
		if err != nil {
			return l, fmt.Errorf("%s: %w", envMetricsAddr, err)
		}
		l.metrics = append(l.metrics, a)
	}
	return l, nil
}

// offsetAddr is host:port+off.
func offsetAddr(addr string, off int) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("address %q: %w", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return "", fmt.Errorf("address %q: bad port", addr)
	}
	return net.JoinHostPort(host, strconv.Itoa(p+off)), nil
}

// The variables `signoff cluster -- command` gives the command, besides the cluster's DATABASE_URL,
// TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, SIGNOFF_TASK_QUEUE and tokens: the API base URLs and the
// process ids of the API and worker processes and the workers' metrics addresses, each
// comma-separated in process order.
const (
	envClusterAPIs          = "SIGNOFF_CLUSTER_APIS"
	envClusterAPIPIDs       = "SIGNOFF_CLUSTER_API_PIDS"
	envClusterWorkerPIDs    = "SIGNOFF_CLUSTER_WORKER_PIDS"
	envClusterWorkerMetrics = "SIGNOFF_CLUSTER_WORKER_METRICS"
)

// clusterCommand is the command after `--` in `signoff cluster -- command [args...]`, or nil.
func clusterCommand(args []string) ([]string, error) {
	if len(args) == 0 {
		return nil, nil
	}
	if args[0] != "--" || len(args) < 2 {
		return nil, fmt.Errorf("usage: signoff cluster [-- command [args...]]")
	}
	return args[1:], nil
}

// runCluster runs the production shape on one machine (R-OPS-3): Postgres, a Temporal server on
// Postgres, the Temporal Web UI, migrations, then two `signoff api` and two `signoff worker`
// processes, each on its own ports; it prints URLs and tokens and stops everything on Ctrl-C. With a
// command (then), it runs the command once every process is ready and stops everything when the
// command exits, answering an error when the command failed (make bench-cluster).
func runCluster(ctx context.Context, cfg config.Config, log *zap.Logger, then []string) error {
	layout, err := newClusterLayout(cfg)
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(filepath.Join(cfg.DataDir, "cluster"))
	if err != nil {
		return err
	}
	logDir := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	binDir, err := filepath.Abs(filepath.Dir(cfg.TemporalCLI))
	if err != nil {
		return err
	}
	secretsPath := filepath.Join(dir, "cluster-secrets.json")
	secrets, err := loadSecrets(secretsPath)
	if err != nil {
		return err
	}
	fillSecrets(&cfg, &secrets)
	if err := saveSecrets(secretsPath, secrets); err != nil {
		return err
	}

	// The cluster has a Postgres of its own: the Temporal server needs a superuser on a Unix socket to
	// create its two databases, so DATABASE_URL is not used here.
	pg, err := localenv.StartPostgres(ctx, localenv.PostgresOptions{Dir: filepath.Join(dir, "postgres"), Durable: true}, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := pg.Stop(context.Background()); err != nil {
			log.Warn("stopping postgres", zap.Error(err))
		}
	}()
	cfg.DatabaseURL = pg.URL
	temporal, err := localenv.StartTemporalServer(ctx, localenv.TemporalServerOptions{
		Bin: filepath.Join(binDir, "temporal-server"), SQLTool: filepath.Join(binDir, "temporal-sql-tool"),
		Dir: filepath.Join(dir, "temporal"), PostgresURL: pg.URL, Address: layout.temporal, Shards: clusterShards}, log)
	if err != nil {
		return err
	}
	defer temporal.Stop()
	ui, err := localenv.StartTemporalUI(ctx, localenv.TemporalUIOptions{Bin: filepath.Join(binDir, "temporal-ui-server"),
		Dir: filepath.Join(dir, "ui"), Address: layout.ui, TemporalAddress: layout.temporal, Namespace: cfg.TemporalNamespace}, log)
	if err != nil {
		return err
	}
	defer ui.Stop()

	env := clusterEnv(cfg)
	if err := runToEnd(ctx, self, "migrate", env, filepath.Join(logDir, "migrate.log")); err != nil {
		return err
	}
	// The supervisor serves no metrics: the addresses are its children's (layout.metrics).
	supervisor := cfg
	supervisor.MetricsAddr = ""
	svc, err := connectAll(ctx, supervisor, log)
	if err != nil {
		return err
	}
	defer svc.close()
	if err := clusterSetup(ctx, cfg, svc); err != nil {
		return err
	}
	if err := bootstrap(ctx, cfg, svc.store, log); err != nil {
		return err
	}
	tokens, err := seedDemo(ctx, svc.store, &secrets, log)
	if err != nil {
		return err
	}
	if err := saveSecrets(secretsPath, secrets); err != nil {
		return err
	}

	var procs []*clusterProc
	defer func() { stopAll(procs, cfg.ShutdownTimeout+10*time.Second, log) }()
	for i := 0; i < clusterAPIs+clusterWorkers; i++ {
		p := &clusterProc{kind: "api", n: i + 1, metrics: layout.metrics[i]}
		if i >= clusterAPIs {
			p.kind, p.n = "worker", i-clusterAPIs+1
		} else {
			p.http = layout.apis[i]
		}
		vars := append(append([]string(nil), env...), envMetricsAddr+"="+p.metrics)
		if p.http != "" {
			vars = append(vars, "SIGNOFF_HTTP_ADDR="+p.http)
		}
		if err := p.start(self, vars, logDir); err != nil {
			return err
		}
		procs = append(procs, p)
	}
	for _, p := range procs {
		if err := p.waitReady(ctx, svc.temporal, cfg.TaskQueue); err != nil {
			return err
		}
	}
	printClusterBanner(cfg, layout, procs, logDir, pg.URL, append([][2]string{{"admin", cfg.BootstrapToken}}, tokens...))

	// A process that dies is reported and not restarted: the others carry on, as in production.
	exits := make(chan *clusterProc, len(procs))
	for _, p := range procs {
		go func() { <-p.done; exits <- p }()
	}
	var child chan error
	if len(then) > 0 {
		child = make(chan error, 1)
		go func() { child <- runClusterChild(ctx, then, env, procs) }()
	}
	for alive := len(procs); alive > 0; alive-- {
		select {
		case <-ctx.Done():
			return nil
		case err := <-child:
			return err
		case p := <-exits:
			log.Warn("a signoff process exited; the others keep running", zap.String("process", p.name()),
				zap.Int("pid", p.pid()), zap.Error(p.err), zap.String("log", p.logPath))
		}
	}
	return errors.New("cluster: every signoff process has exited")
}

// runClusterChild runs the command of `signoff cluster -- command` with the cluster's environment and
// the SIGNOFF_CLUSTER_* variables, its output on the supervisor's, until it exits.
func runClusterChild(ctx context.Context, then, env []string, procs []*clusterProc) error {
	var apis, apiPIDs, workerPIDs, workerMetrics []string
	for _, p := range procs {
		if p.kind == "api" {
			apis, apiPIDs = append(apis, "http://"+p.http), append(apiPIDs, strconv.Itoa(p.pid()))
		} else {
			workerPIDs, workerMetrics = append(workerPIDs, strconv.Itoa(p.pid())), append(workerMetrics, p.metrics)
		}
	}
	cmd := exec.CommandContext(ctx, then[0], then[1:]...)
	cmd.Env = append(append([]string(nil), env...), envClusterAPIs+"="+strings.Join(apis, ","),
		envClusterAPIPIDs+"="+strings.Join(apiPIDs, ","), envClusterWorkerPIDs+"="+strings.Join(workerPIDs, ","),
		envClusterWorkerMetrics+"="+strings.Join(workerMetrics, ","))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cluster: %s: %w", strings.Join(then, " "), err)
	}
	return nil
}

// fillSecrets sets the bootstrap and operator tokens and the secret key from the environment, or from
// the ones kept under the data directory (made once), so a second run prints the same tokens.
func fillSecrets(cfg *config.Config, s *devSecrets) {
	if cfg.BootstrapToken == "" {
		if s.BootstrapToken == "" {
			s.BootstrapToken, _ = storage.NewToken()
		}
		cfg.BootstrapToken = s.BootstrapToken
	}
	if cfg.OperatorToken == "" {
		if s.OperatorToken == "" {
			s.OperatorToken, _ = storage.NewToken()
		}
		cfg.OperatorToken = s.OperatorToken
	}
	if cfg.SecretKey == "" {
		if s.SecretKey == "" {
			s.SecretKey = sharelink.NewKey()
		}
		cfg.SecretKey = s.SecretKey
	}
}

// clusterSetup prepares the Temporal namespace for signoff as `signoff setup` does (R-OPS-2), with the
// same function: the namespace when missing (TEMPORAL_NAMESPACE, retention SIGNOFF_NAMESPACE_RETENTION)
// and the search attributes.
func clusterSetup(ctx context.Context, cfg config.Config, svc *services) error {
	_, err := temporalclient.Setup(ctx, svc.temporal, cfg.TemporalNamespace, cfg.NamespaceRetention, workflows.SearchAttributes())
	return err
}

// clusterEnv is the environment every signoff process of the cluster shares: the caller's, with the
// cluster's database, Temporal frontend and secrets.
func clusterEnv(cfg config.Config) []string {
	set := map[string]string{
		"DATABASE_URL":            cfg.DatabaseURL,
		"TEMPORAL_ADDRESS":        cfg.TemporalAddress,
		"TEMPORAL_NAMESPACE":      cfg.TemporalNamespace,
		"SIGNOFF_TASK_QUEUE":      cfg.TaskQueue,
		"SIGNOFF_SECRET_KEY":      cfg.SecretKey,
		"SIGNOFF_BOOTSTRAP_TOKEN": cfg.BootstrapToken,
		"SIGNOFF_OPERATOR_TOKEN":  cfg.OperatorToken,
		"SIGNOFF_PUBLIC_URL":      cfg.PublicURL,
	}
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if _, ok := set[name]; ok || name == "SIGNOFF_HTTP_ADDR" || name == envMetricsAddr {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env
}

// runToEnd runs `signoff <command>` with env, its output in logPath, and answers an error with the
// log's end when it fails.
func runToEnd(ctx context.Context, self, command string, env []string, logPath string) error {
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, self, command)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, f, f
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(logPath)
		return fmt.Errorf("signoff %s: %w; its log ends:\n%s", command, err, lastLines(string(b), 10))
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// clusterProc is one `signoff api` or `signoff worker` process of the cluster.
type clusterProc struct {
	kind    string // "api" or "worker"
	n       int    // 1-based
	http    string // SIGNOFF_HTTP_ADDR, APIs only
	metrics string // SIGNOFF_METRICS_ADDR
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited
	err     error         // its exit status, once done is closed
}

func (p *clusterProc) name() string { return fmt.Sprintf("%s-%d", p.kind, p.n) }

func (p *clusterProc) pid() int { return p.cmd.Process.Pid }

// start runs the process in a process group of its own (a terminal's Ctrl-C reaches the supervisor
// only, which stops the processes in order), with its output appended to logs/<name>.log.
func (p *clusterProc) start(self string, env []string, logDir string) error {
	p.logPath = filepath.Join(logDir, p.name()+".log")
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	p.cmd = exec.Command(self, p.kind)
	p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = env, f, f
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name(), err)
	}
	p.done = make(chan struct{})
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	return nil
}

// waitReady waits until an API answers /healthz or a worker polls both task queue types.
func (p *clusterProc) waitReady(ctx context.Context, tc client.Client, queue string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if p.kind == "api" && answersHealthz(p.http) || p.kind == "worker" && polls(ctx, tc, queue, p.pid()) {
			return nil
		}
		select {
		case <-p.done:
			b, _ := os.ReadFile(p.logPath)
			return fmt.Errorf("%s exited at start (%v); its log ends:\n%s", p.name(), p.err, lastLines(string(b), 10))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within 2 minutes; see %s", p.name(), p.logPath)
		}
	}
}

// polls reports whether the worker of process pid polls both the workflow and the activity task
// queue of queue (the SDK's worker identity starts with "<pid>@").
func polls(ctx context.Context, tc client.Client, queue string, pid int) bool {
	for _, tq := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := tc.DescribeTaskQueue(dctx, queue, tq)
		cancel()
		if err != nil {
			return false
		}
		found := false
		for _, poller := range resp.GetPollers() {
			found = found || strings.HasPrefix(poller.GetIdentity(), strconv.Itoa(pid)+"@")
		}
		if !found {
			return false
		}
	}
	return true
}

// healthClient asks the API processes' /healthz.
var healthClient = &http.Client{Timeout: 2 * time.Second}

func answersHealthz(addr string) bool {
	resp, err := healthClient.Get("http://" + addr + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// stopAll sends SIGTERM to every process still running, all at once (each drains as on Ctrl-C), and
// kills those still running after timeout.
func stopAll(procs []*clusterProc, timeout time.Duration, log *zap.Logger) {
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = syscall.Kill(-p.pid(), syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(timeout):
				log.Warn("killing a process that did not stop", zap.String("process", p.name()), zap.Duration("after", timeout))
				_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
				<-p.done
			}
		}()
	}
	wg.Wait()
}

func printClusterBanner(cfg config.Config, l clusterLayout, procs []*clusterProc, logDir, pgURL string, tokens [][2]string) {
	apiURL := "http://" + l.apis[0]
	fmt.Printf("\nSignoff cluster is running (the production shape). Press Ctrl-C to stop everything it started.\n\n")
	fmt.Printf("  Temporal UI  http://%s\n", l.ui)
	fmt.Printf("  Temporal     %s (server %s on Postgres, %d history shards; namespace %s, task queue %s)\n",
		l.temporal, temporalServerRelease, clusterShards, cfg.TemporalNamespace, cfg.TaskQueue)
	fmt.Printf("  Postgres     %s\n\n", pgURL)
	fmt.Printf("  Processes (logs in %s):\n", logDir)
	for _, p := range procs {
		url := ""
		if p.http != "" {
			url = "http://" + p.http
		}
		fmt.Printf("    %-9s pid %-8d %-24s metrics %s\n", p.name(), p.pid(), url, p.metrics)
	}
	fmt.Printf("\n  Demo tokens, account \"default\" (Authorization: Bearer <token>, any API process):\n")
	for _, t := range tokens {
		fmt.Printf("    %-13s %s\n", t[0], t[1])
	}
	fmt.Printf("    %-13s %s   (POST /v1/operator/accounts only)\n\n", "operator", cfg.OperatorToken)
	fmt.Printf("  Try:  curl -s -H 'Authorization: Bearer %s' %s/v1/campaigns\n\n", tokens[0][1], apiURL)
}

// temporalServerRelease is the Temporal server release the Makefile pins (TEMPORAL_SERVER_VERSION).
const temporalServerRelease = "v1.29.1"
