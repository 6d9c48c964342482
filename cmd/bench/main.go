// Command bench measures Signoff against baselines taken in the same run on the same servers and
// prints one table of medians, p99s and ratios. `make bench` runs it under cmd/testenv (a private
// Postgres and Temporal dev server); `make bench-cluster` runs it with -cluster as the command of
// `signoff cluster` (cluster.go). Benchmarks never fail on a slow machine: targets are reported, not
// enforced.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.uber.org/zap"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/ai"
	"github.com/signoff/signoff/api"
	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/config"
	"github.com/signoff/signoff/demodata"
	"github.com/signoff/signoff/logging"
	"github.com/signoff/signoff/sharelink"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/webhooks"
	"github.com/signoff/signoff/workers"
)

// row is one line of the result table.
type row struct {
	Name     string
	Median   time.Duration
	P99      time.Duration
	N        int
	Baseline string
	Ratio    float64
	Target   string
	Met      string
	Note     string
}

var rows []row

// hooksN is how many submits each phase of the hooks case times.
const hooksN = 64

// hooksBurstEvents and hooksBurstApproves size the hooks case's burst: events written at once, each to
// 3 endpoints, and approves timed before and during it.
const (
	hooksBurstEvents   = 1000
	hooksBurstApproves = 24
)

// timersFloorOnly stops the timers case after its floor, for experiments with the dev server.
var timersFloorOnly = flag.Bool("timers-floor-only", false, "in the timers case, measure only the floor (no-op timer workflows)")

func main() {
	builds := flag.Int("builds", 20, "draft builds per size")
	decisions := flag.Int("decisions", 64, "approve calls per concurrency level")
	timers := flag.Int("timers", 5000, "pending requests holding a deadline timer")
	reminders := flag.Int("reminders", 5000, "pending requests holding a reminder and a deadline timer in the reminders case")
	versions := flag.Int("versions", 64, "submits per variant (with and without the freeze) in the versions case")
	diffs := flag.Int("diffs", 2000, "timed diffs of two versions in the versions case")
	only := flag.String("only", "", "comma-separated cases to run: drafts,decisions,policies,review,decision-page,timers,versions,reminders,hooks (default all)")
	loadFor := flag.Duration("load", 5*time.Second, "how long each review and decision page load test runs")
	hookRate := flag.Float64("webhook-rate", 10, "webhook deliveries per second in the hooks case, as SIGNOFF_WEBHOOK_RATE (default 10; 0: unlimited)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the bench process (worker, API, load) to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	log, _ := logging.New("console", "warn")
	ctx := context.Background()
	if *clusterMode {
		if err := runClusterBench(ctx, log, *decisions); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, log, *builds, *decisions, *timers, *reminders, *versions, *diffs, *only, *loadFor, *hookRate); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// bench holds the servers and fixtures every case shares.
type bench struct {
	store   *storage.Store
	tc      client.Client
	api     *httptest.Server
	queue   string
	acct    storage.Account
	tokens  map[string]string
	users   map[string]storage.User
	camp    storage.Campaign
	search  storage.SavedSearch
	log     *zap.Logger
	started time.Time
	// hookRate is the webhook deliveries per second of the hooks case (SIGNOFF_WEBHOOK_RATE).
	hookRate float64
}

func run(ctx context.Context, log *zap.Logger, builds, decisions, timers, reminders, versions, diffs int, only string, loadFor time.Duration, hookRate float64) error {
	want := func(c string) bool { return only == "" || slices.Contains(strings.Split(only, ","), c) }
	base := os.Getenv(testenv.EnvDatabaseURL)
	addr := os.Getenv(testenv.EnvTemporalAddress)
	if base == "" || addr == "" {
		return fmt.Errorf("run under cmd/testenv (make bench) so Postgres and Temporal are started")
	}
	dbURL, drop, err := testenv.CreateDatabase(ctx, base)
	if err != nil {
		return err
	}
	defer drop()
	pool, err := storage.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	// The client every Signoff process builds (temporalclient), on the test server only.
	tc, err := testenv.TemporalFrom(config.EnvMap{"TEMPORAL_ADDRESS": addr, "TEMPORAL_CONFIG_FILE": os.DevNull,
		"TEMPORAL_GRPC_COMPRESSION": os.Getenv("TEMPORAL_GRPC_COMPRESSION")}, log)
	if err != nil {
		return err
	}
	defer tc.Close()
	b := &bench{store: storage.New(pool), tc: tc, queue: testenv.NewName("bench-"), log: log, started: time.Now(), hookRate: hookRate}
	key, _ := sharelink.ParseKey(sharelink.NewKey())
	sealer, _ := sharelink.NewSealer(key)
	if want("reminders") {
		// The reminders case measures memory per workflow as the difference between its phases; the
		// workflows of a finished phase (terminated) stay cached, and with the default 10,000 entries
		// the next phase's would evict them and hide their own size.
		worker.SetStickyWorkflowCacheSize(max(10000, 4*reminders))
	}
	acts := &activities.Activities{Store: b.store, Log: log, Sealer: sealer, PublicURL: "http://bench.test",
		AI: ai.NewPipeline(&ai.Local{}, nil), BuildCapacity: 1000, WebhookAllowPrivate: true,
		Webhooks: webhooks.NewClient(webhooks.Options{AllowPrivate: true})}
	w := workers.New(tc, b.queue, acts)
	registerFloor(w)
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Stop()
	if want("hooks") {
		// The deliveries' own worker, as `signoff worker` runs it, at the rate SIGNOFF_WEBHOOK_RATE sets.
		hw := workers.NewWebhookWorker(tc, b.queue, acts, b.hookRate)
		if err := hw.Start(); err != nil {
			return err
		}
		defer hw.Stop()
	}
	srv := &api.Server{App: &app.App{Store: b.store, Temporal: tc, PublicURL: "http://bench.test", TaskQueue: b.queue, Sealer: sealer, ImmediateApprovalWindow: 2 * time.Hour}, Log: log}
	b.api = httptest.NewServer(srv.Handler())
	defer b.api.Close()
	if err := b.fixtures(ctx); err != nil {
		return err
	}
	fmt.Printf("bench: machine %d CPUs, %s; servers ready in %s\n", runtime.NumCPU(), runtime.Version(), time.Since(b.started).Round(time.Millisecond))

	if want("drafts") {
		if err := b.drafts(ctx, builds); err != nil {
			return fmt.Errorf("drafts: %w", err)
		}
	}
	if want("decisions") {
		if err := b.decisions(ctx, decisions); err != nil {
			return fmt.Errorf("decisions: %w", err)
		}
	}
	if want("policies") {
		if err := b.policies(ctx, decisions); err != nil {
			return fmt.Errorf("policies: %w", err)
		}
	}
	if want("review") {
		if err := b.review(ctx, loadFor); err != nil {
			return fmt.Errorf("review: %w", err)
		}
	}
	if want("decision-page") {
		if err := b.decisionPage(ctx, loadFor); err != nil {
			return fmt.Errorf("decision page: %w", err)
		}
	}
	if want("versions") {
		if err := b.versions(ctx, versions, diffs); err != nil {
			return fmt.Errorf("versions: %w", err)
		}
	}
	if want("timers") {
		if err := b.timers(ctx, timers); err != nil {
			return fmt.Errorf("timers: %w", err)
		}
	}
	if want("hooks") {
		if err := b.hooks(ctx, hooksN, sealer); err != nil {
			return fmt.Errorf("hooks: %w", err)
		}
		if err := b.hooksBurst(ctx, hooksBurstEvents, hooksBurstApproves, sealer); err != nil {
			return fmt.Errorf("hooks burst: %w", err)
		}
	}
	if want("reminders") {
		if err := b.reminders(ctx, reminders); err != nil {
			return fmt.Errorf("reminders: %w", err)
		}
	}
	printTable()
	return nil
}

func (b *bench) fixtures(ctx context.Context) error {
	tok, hash := storage.NewToken()
	acct, admin, err := b.store.CreateAccountWithAdmin(ctx, "Bench", "admin@bench.test", "Admin", hash)
	if err != nil {
		return err
	}
	b.acct = acct
	b.tokens = map[string]string{storage.RoleAdmin: tok}
	b.users = map[string]storage.User{storage.RoleAdmin: admin}
	for _, role := range []string{storage.RoleCollaborator, storage.RoleApprover, storage.RoleCSM} {
		t, h := storage.NewToken()
		u, err := b.store.CreateUser(ctx, acct.ID, storage.NewUser{Email: role + "@bench.test", Name: role, Role: role}, h)
		if err != nil {
			return err
		}
		b.tokens[role], b.users[role] = t, u
	}
	people := demodata.Contacts(5000)
	for i := 0; i < len(people); i += 1000 {
		if _, err := b.store.InsertContacts(ctx, acct.ID, people[i:i+1000]); err != nil {
			return err
		}
	}
	if b.search, err = b.store.CreateSavedSearch(ctx, acct.ID, admin.ID, "Everyone", storage.SearchFilters{}); err != nil {
		return err
	}
	b.camp, err = b.store.CreateCampaign(ctx, acct.ID, b.users[storage.RoleCollaborator].ID, demodata.Campaigns(time.Now())[0])
	return err
}

// call sends one API request and decodes the answer into out.
func (b *bench) call(method, path, role string, body any, out any) (int, error) {
	var r io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		r = strings.NewReader(string(j))
	}
	req, _ := http.NewRequest(method, b.api.URL+path, r)
	req.Header.Set("Authorization", "Bearer "+b.tokens[role])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		_ = json.Unmarshal(data, out)
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode, nil
}

// --- the floor: a no-op workflow of six local activities ---

const floorWorkflow = "BenchFloor"

func floorNoop(ctx context.Context) error { return nil }

func floor(ctx workflow.Context) error {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second})
	for i := 0; i < 6; i++ {
		if err := workflow.ExecuteLocalActivity(ctx, floorNoop).Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

// oneActivityWorkflow is the floor of a webhook delivery (R-HOOK-3): a workflow that runs one
// regular activity, timed from its start to its result.
const oneActivityWorkflow = "BenchOneActivity"

func oneActivity(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	return workflow.ExecuteActivity(ctx, floorNoop).Get(ctx, nil)
}

const (
	noopWorkflow = "BenchNoopUpdate"
	noopUpdate   = "noop"
)

// noopUpdateWorkflow answers its Update at once; the bare round trip decisions are compared with.
func noopUpdateWorkflow(ctx workflow.Context) error {
	done := false
	if err := workflow.SetUpdateHandler(ctx, noopUpdate, func(ctx workflow.Context, n int) (int, error) { return n, nil }); err != nil {
		return err
	}
	workflow.GetSignalChannel(ctx, "stop").Receive(ctx, nil)
	done = true
	_ = done
	return nil
}

const timerWorkflow = "BenchTimer"

// timerFloorWorkflow waits for a durable timer due at due, then ends: the floor deadline timers are
// compared with.
func timerFloorWorkflow(ctx workflow.Context, due time.Time) error {
	return workflow.NewTimer(ctx, max(0, due.Sub(workflow.Now(ctx)))).Get(ctx, nil)
}

func registerFloor(w worker.Worker) {
	w.RegisterWorkflowWithOptions(floor, workflow.RegisterOptions{Name: floorWorkflow})
	w.RegisterWorkflowWithOptions(timerFloorWorkflow, workflow.RegisterOptions{Name: timerWorkflow})
	w.RegisterWorkflowWithOptions(noopUpdateWorkflow, workflow.RegisterOptions{Name: noopWorkflow})
	w.RegisterWorkflowWithOptions(twoTimersWorkflow, workflow.RegisterOptions{Name: twoTimersWorkflowName})
	w.RegisterWorkflowWithOptions(oneActivity, workflow.RegisterOptions{Name: oneActivityWorkflow})
	w.RegisterActivity(floorNoop)
}

// --- statistics ---

func median(ds []time.Duration) time.Duration { return pct(ds, 50) }

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return s[min(i, len(s))-1]
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

func printTable() {
	fmt.Println()
	fmt.Println("| case | n | median | p99 | baseline (same run) | ratio | target | met | note |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		ratio := "—"
		if r.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f×", r.Ratio)
		}
		fmt.Printf("| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", r.Name, r.N, fmtD(r.Median), fmtD(r.P99), r.Baseline, ratio, r.Target, r.Met, r.Note)
	}
}

func fmtD(d time.Duration) string {
	if d == 0 {
		return "—"
	}
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return d.Round(100 * time.Millisecond).String()
}

// parallel runs fn n times with conc workers and returns each call's latency.
func parallel(n, conc int, fn func(i int) error) ([]time.Duration, error) {
	lat := make([]time.Duration, n)
	errs := make(chan error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t := time.Now()
				if err := fn(i); err != nil {
					errs <- err
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	return lat, <-errs
}

// cpuTimes is the CPU time used so far by this process (worker, API and load), by the Temporal dev
// server (or temporal-server) and by all Postgres processes, read from /proc: where a phase's time
// goes. Under bench-server, Postgres also serves Temporal's persistence.
type cpuTimes struct{ self, temporal, postgres time.Duration }

func readCPU() cpuTimes {
	var t cpuTimes
	entries, _ := os.ReadDir("/proc")
	self := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		open, closeIdx := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closeIdx < 0 {
			continue
		}
		comm := s[open+1 : closeIdx]
		f := strings.Fields(s[closeIdx+2:])
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		d := time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
		switch {
		case e.Name() == self:
			t.self += d
		case comm == "temporal" || comm == "temporal-server":
			t.temporal += d
		case comm == "postgres":
			t.postgres += d
		}
	}
	return t
}

// add adds the CPU used between from and to.
func (t *cpuTimes) add(to, from cpuTimes) {
	t.self += to.self - from.self
	t.temporal += to.temporal - from.temporal
	t.postgres += to.postgres - from.postgres
}

func (t cpuTimes) String() string {
	return fmt.Sprintf("CPU: bench process (worker+API+load) %s, temporal %s, postgres %s",
		t.self.Round(10*time.Millisecond), t.temporal.Round(10*time.Millisecond), t.postgres.Round(10*time.Millisecond))
}

// perOp is the CPU per operation of n, as a table note.
func (t cpuTimes) perOp(n int) string {
	per := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(n)/1e6) }
	return fmt.Sprintf("CPU ms/op: temporal %s, worker+API+load %s, postgres %s", per(t.temporal), per(t.self), per(t.postgres))
}
