package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"github.com/signoff/signoff/config"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/workflows"
)

// The cluster mode (make bench-cluster): the bench runs as the command of `signoff cluster -- …` and
// measures the cluster's processes over HTTP, through both API processes in turn.
var (
	clusterMode      = flag.Bool("cluster", false, "measure a running `signoff cluster` (make bench-cluster): run as `signoff cluster -- bench -cluster`")
	clusterPending   = flag.Int("pending", 50000, "cluster mode: pending requests to fill to, each a real submit through the API")
	clusterConc      = flag.Int("conc", 32, "cluster mode: concurrent submits (the throughput phase and the fill), spread over both APIs")
	clusterSubmits   = flag.Int("submits", 2000, "cluster mode: submits timed in the throughput phase (they count towards -pending)")
	clusterApprovers = flag.Int("approvers", 50, "cluster mode: approvers the pending requests are spread over (the inbox is one approver's)")
	clusterCalls     = flag.Int("calls", 200, "cluster mode: timed inbox and list calls at size (each phase stops after 3 minutes)")
)

// The goals of issue 17 at the pending size.
const (
	goalWorkerRSS     = 1 << 30
	goalInboxP99      = 50 * time.Millisecond
	goalDecisionRatio = 2.0
)

// clusterBench is the state of the cluster mode.
type clusterBench struct {
	store      *storage.Store
	tc         client.Client
	queue      string // the floor worker's own task queue
	apis       []string
	workerPIDs []int
	workerMets []string // the workers' metrics addresses
	apiPIDs    []int
	http       *http.Client
	acct       storage.Account
	collab     string // collaborator token
	collabID   string
	approvers  []storage.User
	apprTokens []string
	camps      []string   // campaigns not submitted yet, used from the front
	held       [][]string // the requests submitted to each approver, in order
	campMu     sync.Mutex
	rr         atomic.Uint64 // round-robin over apis
}

// runClusterBench is the cluster mode: the bare Update floor on the cluster's Temporal server, the
// decision latency against it, the submit throughput across both APIs, then, filled to -pending
// requests, the workers' RSS, inbox and list latency and the decision latency again.
func runClusterBench(ctx context.Context, log *zap.Logger, decisions int) error {
	apis := splitList(os.Getenv("SIGNOFF_CLUSTER_APIS"))
	dbURL, addr := os.Getenv("DATABASE_URL"), os.Getenv("TEMPORAL_ADDRESS")
	if len(apis) == 0 || dbURL == "" || addr == "" {
		return fmt.Errorf("cluster mode runs under `signoff cluster -- bench -cluster` (make bench-cluster), which sets SIGNOFF_CLUSTER_APIS, DATABASE_URL and TEMPORAL_ADDRESS")
	}
	started := time.Now()
	pool, err := storage.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	tc, err := testenv.TemporalFrom(config.EnvMap{"TEMPORAL_ADDRESS": addr, "TEMPORAL_NAMESPACE": os.Getenv("TEMPORAL_NAMESPACE"),
		"TEMPORAL_CONFIG_FILE": os.DevNull}, log)
	if err != nil {
		return err
	}
	defer tc.Close()
	b := &clusterBench{store: storage.New(pool), tc: tc, queue: testenv.NewName("bench-floor-"), apis: apis,
		http: &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0}}}
	if b.workerPIDs, err = pidList(os.Getenv("SIGNOFF_CLUSTER_WORKER_PIDS")); err != nil {
		return err
	}
	if b.apiPIDs, err = pidList(os.Getenv("SIGNOFF_CLUSTER_API_PIDS")); err != nil {
		return err
	}
	if v := os.Getenv("SIGNOFF_CLUSTER_WORKER_METRICS"); v != "" {
		b.workerMets = strings.Split(v, ",")
	}
	// The floor worker, in this process, on a task queue of its own on the cluster's server.
	w := worker.New(tc, b.queue, worker.Options{})
	registerFloor(w)
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Stop()

	n := *clusterPending
	cache := os.Getenv("SIGNOFF_STICKY_CACHE_SIZE")
	if cache == "" {
		cache = fmt.Sprintf("%d (default)", config.DefaultStickyCacheSize)
	}
	fmt.Printf("bench-cluster: %s; APIs %s; worker pids %v; sticky cache per worker %s; load %s\n",
		machine(), strings.Join(apis, ", "), b.workerPIDs, cache, loadAvg())
	if err := b.fixtures(ctx, n+5*decisions+64); err != nil {
		return err
	}
	fmt.Printf("fixtures (account, %d approvers, %d campaigns via the store) ready in %s; load %s\n",
		len(b.approvers), len(b.camps), time.Since(started).Round(time.Second), loadAvg())
	rssBefore := b.rss(b.workerPIDs)
	apiRSSBefore := b.rss(b.apiPIDs)

	// 1. Decisions against the bare Update, on a cluster holding almost nothing.
	r0, err := b.decisionsVsBare(ctx, decisions, nil)
	if err != nil {
		return fmt.Errorf("decisions (empty): %w", err)
	}
	rows = append(rows, r0.rows("empty", "both APIs in turn, empty")...)
	b.campMu.Lock()
	decided := len(b.held[0]) // approver 0's requests decided above; the fill's follow
	b.campMu.Unlock()
	fmt.Printf("decisions (empty): %s\n", r0.summary())

	// 2. Submit throughput across both APIs, then the fill to n pending.
	k := min(*clusterSubmits, n)
	reqs := make([]string, 0, n)
	tput, err := b.submitMany(ctx, k, *clusterConc, &reqs, "throughput")
	if err != nil {
		return err
	}
	rows = append(rows, row{Name: fmt.Sprintf("POST …/approval-requests (submit), %d concurrent over %d APIs", *clusterConc, len(apis)), N: k,
		Median: median(tput.lat), P99: pct(tput.lat, 99), Baseline: "—", Target: "—", Met: "—",
		Note: fmt.Sprintf("%.0f requests/s; %d errors", tput.rate, tput.errors)})
	fill, err := b.submitMany(ctx, n-k, *clusterConc, &reqs, "fill")
	if err != nil {
		return err
	}
	fillAll := time.Since(tput.began)
	rows = append(rows, row{Name: fmt.Sprintf("fill to %d pending: submit, %d concurrent", n, *clusterConc), N: n - k,
		Median: median(fill.lat), P99: pct(fill.lat, 99), Baseline: "—", Target: "—", Met: "—",
		Note: fmt.Sprintf("%.0f requests/s in the fill; %d pending in %s (%.0f/s with the throughput phase); %d errors", fill.rate, len(reqs),
			fillAll.Round(time.Second), float64(len(reqs))/fillAll.Seconds(), fill.errors)})

	// 3. At size: wait for the workflows' first tasks, then memory, reads and decisions.
	settleStart := time.Now()
	if err := b.settleSample(ctx, reqs); err != nil {
		return err
	}
	var pending int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM approval_requests WHERE account_id = $1 AND status = 'pending'`, b.acct.ID).Scan(&pending); err != nil {
		return err
	}
	fmt.Printf("at size: %d pending requests (the sample's first workflow tasks done %s after the fill); load %s\n",
		pending, time.Since(settleStart).Round(time.Second), loadAvg())
	rssAt := b.rss(b.workerPIDs)
	apiRSSAt := b.rss(b.apiPIDs)
	for i, pid := range b.workerPIDs {
		r := rssAt[i]
		rows = append(rows, row{Name: fmt.Sprintf("worker-%d RSS at %d pending (pid %d)", i+1, pending, pid), N: 1,
			Baseline: fmt.Sprintf("%d MiB before the fill", rssBefore[i]>>20), Target: "≤ 1 GiB", Met: met(r > 0 && r <= goalWorkerRSS),
			Note: fmt.Sprintf("%d MiB; sticky cache %s", r>>20, cache)})
	}
	for i, pid := range b.apiPIDs {
		rows = append(rows, row{Name: fmt.Sprintf("api-%d RSS at %d pending (pid %d)", i+1, pending, pid), N: 1,
			Baseline: fmt.Sprintf("%d MiB before the fill", apiRSSBefore[i]>>20), Target: "—", Met: "—", Note: fmt.Sprintf("%d MiB", apiRSSAt[i]>>20)})
	}

	inboxLat, items, size, err := b.timedGets(ctx, "/v1/approvals/inbox", b.apprTokens[0])
	if err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	dbInbox, err := b.storeInbox(ctx, 20, 0)
	if err != nil {
		return err
	}
	dbPage, err := b.storeInbox(ctx, 20, 20)
	if err != nil {
		return err
	}
	rows = append(rows, row{Name: fmt.Sprintf("GET /v1/approvals/inbox, one approver holding %d, the whole inbox (no limit)", items), N: len(inboxLat),
		Median: median(inboxLat), P99: pct(inboxLat, 99), Baseline: "—", Target: "—", Met: "—",
		Note: fmt.Sprintf("%d KiB a response; storage.Inbox alone (from the bench) median %s", size>>10, fmtD(median(dbInbox)))})
	firstLat, firstItems, firstSize, err := b.timedGets(ctx, "/v1/approvals/inbox?limit=20", b.apprTokens[0])
	if err != nil {
		return fmt.Errorf("inbox page: %w", err)
	}
	rows = append(rows, row{Name: fmt.Sprintf("GET /v1/approvals/inbox?limit=20, first page (%d of %d)", firstItems, items), N: len(firstLat),
		Median: median(firstLat), P99: pct(firstLat, 99), Baseline: "—", Target: "p99 ≤ 50ms", Met: met(pct(firstLat, 99) <= goalInboxP99),
		Note: fmt.Sprintf("%d KiB a response; storage.Inbox alone, 20 items, median %s", firstSize>>10, fmtD(median(dbPage)))})
	mid, err := b.inboxCursorAt(ctx, items/2)
	if err != nil {
		return fmt.Errorf("inbox walk: %w", err)
	}
	midLat, midItems, _, err := b.timedGets(ctx, "/v1/approvals/inbox?limit=20&cursor="+mid, b.apprTokens[0])
	if err != nil {
		return fmt.Errorf("inbox page: %w", err)
	}
	rows = append(rows, row{Name: fmt.Sprintf("GET /v1/approvals/inbox?limit=20&cursor=…, a page after item %d (%d items)", items/2, midItems), N: len(midLat),
		Median: median(midLat), P99: pct(midLat, 99), Baseline: "—", Target: "p99 ≤ 50ms", Met: met(pct(midLat, 99) <= goalInboxP99)})
	inboxP99 := max(pct(firstLat, 99), pct(midLat, 99))
	listLat, listed, _, err := b.timedGets(ctx, "/v1/campaigns", b.collab)
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	rows = append(rows, row{Name: fmt.Sprintf("GET /v1/campaigns, first page (%d of %d campaigns)", listed, len(reqs)), N: len(listLat),
		Median: median(listLat), P99: pct(listLat, 99), Baseline: "—", Target: "—", Met: "—"})
	fmt.Printf("at size: inbox whole p50 %s p99 %s (%d items), page p99 %s / %s; list p50 %s p99 %s; load %s\n", fmtD(median(inboxLat)),
		fmtD(pct(inboxLat, 99)), items, fmtD(pct(firstLat, 99)), fmtD(pct(midLat, 99)), fmtD(median(listLat)), fmtD(pct(listLat, 99)), loadAvg())

	// Approver 0's oldest requests, submitted at the start of the fill: with more pending workflows
	// than the workers' sticky caches hold, most have been evicted and are replayed at the decision.
	b.campMu.Lock()
	oldest := append([]string(nil), b.held[0][decided:]...)
	b.campMu.Unlock()
	r1, err := b.decisionsVsBare(ctx, decisions, oldest)
	if err != nil {
		return fmt.Errorf("decisions (at size, oldest): %w", err)
	}
	rows = append(rows, r1.rows(fmt.Sprintf("at %d pending", pending), fmt.Sprintf("at %d pending: the approver's oldest requests", pending))...)
	fmt.Printf("decisions (at size, oldest): %s\n", r1.summary())
	r2, err := b.decisionsVsBare(ctx, decisions, nil)
	if err != nil {
		return fmt.Errorf("decisions (at size, fresh): %w", err)
	}
	rows = append(rows, r2.rows(fmt.Sprintf("at %d pending (second round)", pending), fmt.Sprintf("at %d pending: requests submitted just before", pending))...)
	fmt.Printf("decisions (at size, fresh): %s\n", r2.summary())
	printTable()

	fmt.Printf("\nGoals at %d pending requests:\n", pending)
	for i, r := range rssAt {
		fmt.Printf("  worker-%d RSS %d MiB ≤ 1 GiB: %s\n", i+1, r>>20, metWord(r > 0 && r <= goalWorkerRSS))
	}
	fmt.Printf("  inbox page p99 %s ≤ 50ms: %s (the whole inbox of %d: p99 %s)\n", fmtD(inboxP99), metWord(inboxP99 <= goalInboxP99), items, fmtD(pct(inboxLat, 99)))
	for _, r := range []struct {
		what string
		d    decisionRound
	}{{"the approver's oldest requests", r1}, {"requests submitted just before", r2}} {
		q := r.d.ratio()
		fmt.Printf("  decision median %s ≤ 2× bare Update %s (%.2f×), %s: %s; against the evicted floor %s: %.2f×\n", fmtD(median(r.d.approve)),
			fmtD(median(r.d.bare)), q, r.what, metWord(q <= goalDecisionRatio), fmtD(median(r.d.cold)), ratio(median(r.d.approve), median(r.d.cold)))
	}
	fmt.Printf("bench-cluster: done in %s; load %s\n", time.Since(started).Round(time.Second), loadAvg())
	return nil
}

// ratio is the round's decision median over its bare Update median.
func (r decisionRound) ratio() float64 { return ratio(median(r.approve), median(r.bare)) }

// summary is the round in one line for the bench's progress output.
func (r decisionRound) summary() string {
	return fmt.Sprintf("approve median %s p99 %s; bare Update median %s (%.2f×); evicted floor median %s; sticky cache %s; load %s",
		fmtD(median(r.approve)), fmtD(pct(r.approve, 99)), fmtD(median(r.bare)), r.ratio(), fmtD(median(r.cold)), r.cache(), loadAvg())
}

// cache says the workers' sticky cache misses and hits during the round.
func (r decisionRound) cache() string {
	return fmt.Sprintf("%.0f misses, %.0f hits on the workers", r.misses, r.hits)
}

// rows are the table rows of a round: the bare Update (floorWhat), the evicted floor, POST …/approve
// (what) and the approve Update alone.
func (r decisionRound) rows(floorWhat, what string) []row {
	q := r.ratio()
	return []row{
		{Name: "bare Update round trip (cluster's server, bench's floor worker), 1 concurrent, " + floorWhat, N: len(r.bare),
			Median: median(r.bare), P99: pct(r.bare, 99), Baseline: "—", Target: "—", Met: "—"},
		{Name: "floor: bare Update on an evicted no-op workflow (history fetched and replayed), " + floorWhat, N: len(r.cold),
			Median: median(r.cold), P99: pct(r.cold, 99), Baseline: "bare Update " + fmtD(median(r.bare)), Ratio: ratio(median(r.cold), median(r.bare)),
			Target: "—", Met: "—"},
		{Name: "POST …/approve → answer, 1 concurrent, " + what, N: len(r.approve), Median: median(r.approve), P99: pct(r.approve, 99),
			Baseline: "bare Update " + fmtD(median(r.bare)), Ratio: q, Target: "median ≤ 2× bare", Met: met(q <= goalDecisionRatio),
			Note: fmt.Sprintf("%.2f× the evicted floor %s; %s", ratio(median(r.approve), median(r.cold)), fmtD(median(r.cold)), r.cache())},
		directRow(what, r.direct, r.bare),
	}
}

// directRow is the table row of the approve Update sent straight to the workflows (no HTTP API).
func directRow(what string, direct, bare []time.Duration) row {
	return row{Name: "part: the approve Update alone (no HTTP API), 1 concurrent, " + what, N: len(direct), Median: median(direct),
		P99: pct(direct, 99), Baseline: "bare Update " + fmtD(median(bare)), Ratio: ratio(median(direct), median(bare)), Target: "—", Met: "—"}
}

func metWord(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// fixtures makes the bench's account through the store: a collaborator, the approvers, the account's
// reminders (every request then holds a reminder timer besides its deadline timer) and n campaigns
// that may be submitted (active, starting in two days).
func (b *clusterBench) fixtures(ctx context.Context, n int) error {
	_, hash := storage.NewToken()
	acct, _, err := b.store.CreateAccountWithAdmin(ctx, testenv.NewName("Bench cluster "), testenv.NewName("admin-")+"@bench.test", "Admin", hash)
	if err != nil {
		return err
	}
	b.acct = acct
	tok, h := storage.NewToken()
	u, err := b.store.CreateUser(ctx, acct.ID, storage.NewUser{Email: "collaborator@bench.test", Name: "Collaborator", Role: storage.RoleCollaborator}, h)
	if err != nil {
		return err
	}
	b.collab, b.collabID = tok, u.ID
	for i := 0; i < *clusterApprovers; i++ {
		tok, h := storage.NewToken()
		a, err := b.store.CreateUser(ctx, acct.ID, storage.NewUser{Email: fmt.Sprintf("approver%d@bench.test", i), Name: fmt.Sprintf("Approver %d", i),
			Role: storage.RoleApprover}, h)
		if err != nil {
			return err
		}
		b.approvers, b.apprTokens = append(b.approvers, a), append(b.apprTokens, tok)
	}
	b.held = make([][]string, len(b.approvers))
	st, err := b.store.Settings(ctx, acct.ID)
	if err != nil {
		return err
	}
	st.ReminderAfter = 6 * time.Hour
	if _, err := b.store.UpdateSettings(ctx, acct.ID, st); err != nil {
		return err
	}
	b.camps = make([]string, n)
	start := time.Now().Add(48 * time.Hour).UTC()
	end := start.Add(24 * time.Hour)
	_, err = parallel(n, 8, func(i int) error {
		c, err := b.store.CreateCampaign(ctx, acct.ID, b.collabID, storage.NewCampaign{Name: "Cluster bench " + strconv.Itoa(i),
			Kind: storage.CampaignKindCampaign, Mode: storage.CampaignModeActive, StartAt: &start, EndAt: &end})
		b.camps[i] = c.ID
		return err
	})
	return err
}

// takeCampaign hands out the next campaign not submitted yet.
func (b *clusterBench) takeCampaign() (string, error) {
	b.campMu.Lock()
	defer b.campMu.Unlock()
	if len(b.camps) == 0 {
		return "", fmt.Errorf("out of campaigns")
	}
	c := b.camps[0]
	b.camps = b.camps[1:]
	return c, nil
}

// api is the next API base URL, in turn.
func (b *clusterBench) api() string { return b.apis[(b.rr.Add(1)-1)%uint64(len(b.apis))] }

// call sends one request to the next API in turn and decodes the answer into out.
func (b *clusterBench) call(ctx context.Context, method, path, token string, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		r = strings.NewReader(string(j))
	}
	req, _ := http.NewRequestWithContext(ctx, method, b.api()+path, r)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return len(data), fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return len(data), err
		}
	}
	return len(data), nil
}

// submit submits a fresh campaign to approver i%approvers through the next API and returns the request id.
func (b *clusterBench) submit(ctx context.Context, i int) (string, error) {
	camp, err := b.takeCampaign()
	if err != nil {
		return "", err
	}
	var r struct{ ID string }
	if _, err := b.call(ctx, http.MethodPost, "/v1/campaigns/"+camp+"/approval-requests", b.collab,
		map[string]any{"approver_ids": []string{b.approvers[i%len(b.approvers)].ID}}, &r); err != nil {
		return "", err
	}
	b.campMu.Lock()
	b.held[i%len(b.approvers)] = append(b.held[i%len(b.approvers)], r.ID)
	b.campMu.Unlock()
	return r.ID, nil
}

// submitted is what submitMany measured.
type submitted struct {
	lat    []time.Duration
	rate   float64 // requests/s
	errors int
	began  time.Time
}

// submitMany submits n requests with conc at once, through both APIs in turn, appending their ids to
// reqs, and prints progress every 10 %. It fails when more than 1 % of the submits fail.
func (b *clusterBench) submitMany(ctx context.Context, n, conc int, reqs *[]string, what string) (submitted, error) {
	out := submitted{began: time.Now()}
	if n <= 0 {
		return out, nil
	}
	var mu sync.Mutex
	var done, failed atomic.Int64
	var firstErr error
	base := len(*reqs)
	lat := make([]time.Duration, n)
	next := make(chan int)
	var wg sync.WaitGroup
	step := max(1, n/10)
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t := time.Now()
				id, err := b.submit(ctx, base+i)
				lat[i] = time.Since(t)
				mu.Lock()
				if err != nil {
					failed.Add(1)
					if firstErr == nil {
						firstErr = err
					}
				} else {
					*reqs = append(*reqs, id)
				}
				mu.Unlock()
				if d := done.Add(1); d%int64(step) == 0 {
					el := time.Since(out.began)
					fmt.Printf("  %s: %d/%d submitted in %s (%.0f/s, %d errors); %s load %s\n", what, d, n, el.Round(time.Second),
						float64(d)/el.Seconds(), failed.Load(), time.Now().UTC().Format("15:04:05"), loadAvg())
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	out.lat = lat
	out.rate = float64(n) / time.Since(out.began).Seconds()
	out.errors = int(failed.Load())
	if out.errors > n/100 {
		return out, fmt.Errorf("%s: %d of %d submits failed, the first: %w", what, out.errors, n, firstErr)
	}
	if firstErr != nil {
		fmt.Printf("  %s: %d submits failed, the first: %v\n", what, out.errors, firstErr)
	}
	return out, nil
}

// settleSample waits (up to 15 minutes) until a sample of 200 of the request workflows ids has no
// pending workflow task: the fill's workflows have started and set their timers.
func (b *clusterBench) settleSample(ctx context.Context, reqs []string) error {
	step := max(1, len(reqs)/200)
	limit := time.Now().Add(15 * time.Minute)
	for i := len(reqs) - 1; i >= 0; i -= step {
		id := workflows.ApprovalRequestWorkflowID(reqs[i])
		for {
			d, err := b.tc.DescribeWorkflowExecution(ctx, id, "")
			if err != nil {
				return err
			}
			if d.PendingWorkflowTask == nil {
				break
			}
			if time.Now().After(limit) {
				return fmt.Errorf("workflow %s still has a pending workflow task 15 minutes after the fill", id)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// decisionsVsBare times n approves by approver 0 through both APIs in turn (one at a time), and n bare
// Updates on no-op workflows of the floor worker, alternating in rounds of 8 so both see the same
// machine; to split an approve's time, a third side sends the approve Update straight to other
// requests' workflows (no HTTP API). The requests are old (approver 0's oldest pending requests, likely
// evicted from the workers' sticky caches at size), or 2n fresh ones submitted first when old is nil.
func (b *clusterBench) decisionsVsBare(ctx context.Context, n int, old []string) (round decisionRound, err error) {
	ids := make([]string, 2*n) // n for the bare Update, n for the bare Update on an evicted workflow
	for i := range ids {
		ids[i] = testenv.NewName("noop-")
		if _, err := b.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: ids[i], TaskQueue: b.queue}, noopWorkflow); err != nil {
			return round, err
		}
	}
	defer func() {
		for _, id := range ids {
			_ = b.tc.SignalWorkflow(ctx, id, "", "stop", nil)
		}
	}()
	reqs := old
	if reqs != nil {
		n = min(n, len(reqs)/2)
	} else {
		reqs = make([]string, 2*n)
		for i := range reqs {
			if reqs[i], err = b.submit(ctx, 0); err != nil {
				return round, err
			}
		}
	}
	if n == 0 {
		return round, fmt.Errorf("no request to decide")
	}
	wfIDs := make([]string, 0, 2*n)
	for _, r := range reqs[:2*n] {
		wfIDs = append(wfIDs, workflows.ApprovalRequestWorkflowID(r))
	}
	for _, id := range append(wfIDs, ids...) {
		if err := b.settleOne(ctx, id); err != nil {
			return round, err
		}
	}
	update := func(id string, i int) error {
		h, err := b.tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: noopUpdate, Args: []any{i},
			WaitForStage: client.WorkflowUpdateStageCompleted})
		if err != nil {
			return err
		}
		return h.Get(ctx, nil)
	}
	approveOne := func(i int) error {
		_, err := b.call(ctx, http.MethodPost, "/v1/approval-requests/"+reqs[i]+"/approve", b.apprTokens[0], map[string]any{"note": "ok"}, nil)
		return err
	}
	directOne := func(i int) error {
		h, err := b.tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: wfIDs[n+i], UpdateName: workflows.UpdateApprove,
			Args: []any{workflows.DecisionInput{ActorID: b.approvers[0].ID, Note: "ok"}}, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err != nil {
			return err
		}
		return h.Get(ctx, nil)
	}
	before := b.stickyCache()
	for from := 0; from < n; from += 8 {
		k := min(8, n-from)
		d, err := parallel(k, 1, func(i int) error { return update(ids[from+i], from+i) })
		if err != nil {
			return round, err
		}
		round.bare = append(round.bare, d...)
		d, err = parallel(k, 1, func(i int) error { return approveOne(from + i) })
		if err != nil {
			return round, err
		}
		round.approve = append(round.approve, d...)
		d, err = parallel(k, 1, func(i int) error { return directOne(from + i) })
		if err != nil {
			return round, err
		}
		round.direct = append(round.direct, d...)
	}
	after := b.stickyCache()
	round.misses, round.hits = after.misses-before.misses, after.hits-before.hits
	// The floor of a decision on an evicted workflow: the bench's floor worker forgets its cached
	// workflows before each Update, so the Update's workflow task fetches the whole (short) history
	// and replays it, as a signoff worker does for a request its cache has dropped. After the rounds
	// above, as purging the cache would also evict their bare workflows.
	for i := 0; i < n; i++ {
		worker.PurgeStickyWorkflowCache()
		d, err := parallel(1, 1, func(int) error { return update(ids[n+i], i) })
		if err != nil {
			return round, err
		}
		round.cold = append(round.cold, d...)
	}
	return round, nil
}

// decisionRound is what decisionsVsBare measured: the bare Update on a cached no-op workflow and on
// an evicted one, POST …/approve, the approve Update sent straight to the workflow, and the workers'
// sticky cache misses and hits during the first three.
type decisionRound struct {
	bare, cold, approve, direct []time.Duration
	misses, hits                float64
}

// cacheCounts is the sum over the workers of their sticky cache counters.
type cacheCounts struct{ misses, hits float64 }

// stickyCache scrapes the workers' metrics listeners for temporal_sticky_cache_miss and _hit (the
// SDK's counters), summed over the workers and their labels; zero when there is no address.
func (b *clusterBench) stickyCache() cacheCounts {
	var c cacheCounts
	for _, addr := range b.workerMets {
		resp, err := b.http.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(data), "\n") {
			name, rest, _ := strings.Cut(line, " ")
			if i := strings.IndexByte(line, '{'); i > 0 && i < len(name) {
				name = line[:i]
				rest = line[strings.LastIndexByte(line, '}')+1:]
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				continue
			}
			switch strings.TrimSuffix(name, "_total") {
			case "temporal_sticky_cache_miss":
				c.misses += v
			case "temporal_sticky_cache_hit":
				c.hits += v
			}
		}
	}
	return c
}

// settleOne waits (up to a minute) until workflow id has no pending workflow task.
func (b *clusterBench) settleOne(ctx context.Context, id string) error {
	for limit := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		d, err := b.tc.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			return err
		}
		if d.PendingWorkflowTask == nil {
			return nil
		}
		if time.Now().After(limit) {
			return fmt.Errorf("workflow %s still has a pending workflow task", id)
		}
	}
}

// timedGets times up to -calls GETs of path, one at a time through both APIs in turn, for at most
// 3 minutes, and answers the latencies, the items of the last answer and its size in bytes.
func (b *clusterBench) timedGets(ctx context.Context, path, token string) ([]time.Duration, int, int, error) {
	var lat []time.Duration
	var items, size int
	limit := time.Now().Add(3 * time.Minute)
	for i := 0; i < *clusterCalls && time.Now().Before(limit); i++ {
		var page struct {
			Items []json.RawMessage `json:"items"`
		}
		t := time.Now()
		n, err := b.call(ctx, http.MethodGet, path, token, nil, &page)
		if err != nil {
			return nil, 0, 0, err
		}
		lat = append(lat, time.Since(t))
		items, size = len(page.Items), n
	}
	return lat, items, size, nil
}

// storeInbox times storage.Inbox for approver 0 from the bench, n times, the whole inbox when limit is
// 0: the database's share of the inbox.
func (b *clusterBench) storeInbox(ctx context.Context, n, limit int) ([]time.Duration, error) {
	var lat []time.Duration
	for i := 0; i < n; i++ {
		t := time.Now()
		if _, err := b.store.Inbox(ctx, b.acct.ID, b.approvers[0].ID, nil, limit); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t))
	}
	return lat, nil
}

// inboxCursorAt walks approver 0's inbox by pages of 100 through the API and answers the cursor that
// follows item at (rounded down to the page).
func (b *clusterBench) inboxCursorAt(ctx context.Context, at int) (string, error) {
	path := "/v1/approvals/inbox?limit=100"
	cursor := ""
	for read := 0; ; {
		var page struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor *string           `json:"next_cursor"`
		}
		if _, err := b.call(ctx, http.MethodGet, path, b.apprTokens[0], nil, &page); err != nil {
			return "", err
		}
		read += len(page.Items)
		if page.NextCursor == nil {
			return cursor, nil
		}
		cursor = url.QueryEscape(*page.NextCursor)
		if read >= at {
			return cursor, nil
		}
		path = "/v1/approvals/inbox?limit=100&cursor=" + cursor
	}
}

// rss reads VmRSS of each process of pids, in bytes (0 when unreadable).
func (b *clusterBench) rss(pids []int) []int64 {
	out := make([]int64, len(pids))
	for i, pid := range pids {
		out[i] = vmRSS(pid)
	}
	return out
}

// vmRSS is VmRSS of /proc/<pid>/status in bytes.
func vmRSS(pid int) int64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "VmRSS:") {
			kb, _ := strconv.ParseInt(strings.Fields(sc.Text())[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func pidList(s string) ([]int, error) {
	var out []int
	for _, p := range splitList(s) {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("process id %q: %w", p, err)
		}
		out = append(out, n)
	}
	return out, nil
}

// loadAvg is the machine's 1, 5 and 15 minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// machine is the CPU count and total memory.
func machine() string {
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "MemTotal:") {
				kb, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
				mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%d CPUs, %s memory, %s", runtime.NumCPU(), mem, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
}
