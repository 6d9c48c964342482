package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/signoff/signoff/localenv"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/workflows"
)

// envTestCluster opts in to TestCluster (make test-cluster): it needs bin/temporal-server and
// bin/temporal-ui-server, which `make test` does not build, and takes minutes.
const envTestCluster = "SIGNOFF_TEST_CLUSTER"

// clusterBurst is how many approval requests the kill case submits and approves, one started every
// clusterPace; a worker is killed once clusterKillAfter of them have ended.
const (
	clusterBurst, clusterKillAfter = 24, 6
	clusterPace                    = 150 * time.Millisecond
	// clusterPending requests are submitted during the burst and approved only after the kill.
	clusterPending = 4
)

// TestCluster runs `signoff cluster` (R-OPS-3) as `make cluster` does, on a data folder of its own:
// the Web UI answers; two tenants cannot see each other's campaigns or requests through either API
// process; one approval goes end to end through each API process, decided by one of the two workers;
// then the busier worker is killed (kill -9) in the middle of a burst of submissions and approvals
// and every request still ends approved, handled from then on by the other worker only. Ctrl-C stops every process; a
// second start on the same data is warm, prints the same tokens and still has the requests.
func TestCluster(t *testing.T) {
	if os.Getenv(envTestCluster) == "" {
		t.Skipf("opt-in (%s=1, make test-cluster): runs make cluster end to end with bin/temporal-server and bin/temporal-ui-server", envTestCluster)
	}
	testStart := time.Now()
	bin := testenv.BuildSignoff(t)
	cli := testenv.TemporalCLI(t)
	for _, name := range []string{"temporal-server", "temporal-sql-tool", "temporal-ui-server"} {
		_, err := os.Stat(filepath.Join(filepath.Dir(cli), name))
		require.NoError(t, err, "make bin/temporal-server bin/temporal-ui-server builds it")
	}
	dataDir := testenv.ReachableTempDir(t, "signoff-cluster-")
	vars := map[string]string{
		"SIGNOFF_DATA_DIR":     dataDir,
		"SIGNOFF_TEMPORAL_CLI": cli,
		"TEMPORAL_ADDRESS":     fmt.Sprintf("127.0.0.1:%d", temporalServerPort(t)),
		"SIGNOFF_HTTP_ADDR":    portBlock(t, 2),
		"SIGNOFF_METRICS_ADDR": portBlock(t, 4),
		"SIGNOFF_LOG_LEVEL":    "info",
	}

	cold := time.Now()
	run := startCluster(t, bin, vars)
	t.Logf("cold start (initdb, Temporal schemas, server, UI, migrations, demo data, 4 processes): %s", time.Since(cold).Round(time.Millisecond))
	require.Len(t, run.procs, 4, "two api and two worker processes in the banner")
	for _, role := range []string{"admin", "editor", "collaborator", "approver", "csm", "operator"} {
		require.NotEmptyf(t, run.tokens[role], "no %s token printed", role)
	}
	apis := []string{run.procs["api-1"].url, run.procs["api-2"].url}
	require.NotEqual(t, apis[0], apis[1])
	workerPIDs := map[int]string{run.procs["worker-1"].pid: "worker-1", run.procs["worker-2"].pid: "worker-2"}

	resp, err := http.Get(run.ui)
	require.NoError(t, err, "Temporal Web UI")
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "Temporal Web UI at %s", run.ui)

	tc, err := client.Dial(client.Options{HostPort: vars["TEMPORAL_ADDRESS"], Logger: quietLog{}})
	require.NoError(t, err)
	defer tc.Close()

	// A second tenant, provisioned by the operator through api-2.
	status, body := call(t, http.MethodPost, apis[1]+"/v1/operator/accounts", run.tokens["operator"],
		map[string]any{"name": "Other Co", "admin_email": "admin@other.test"})
	require.Equal(t, http.StatusCreated, status, "%s", body)
	var other struct {
		Token string `json:"token"`
	}
	require.NoError(t, json.Unmarshal(body, &other))
	approverID := myID(t, apis[0], run.tokens["approver"])

	// One approval end to end through each API process, with cross-tenant checks on both.
	var firstIDs []string
	for i, api := range apis {
		camp := createCampaign(t, api, run.tokens["collaborator"], fmt.Sprintf("Cluster campaign via api-%d", i+1))
		req := submit(t, api, run.tokens["collaborator"], camp, approverID)
		for _, a := range apis {
			for _, path := range []string{"/v1/campaigns/" + camp, "/v1/approval-requests/" + req} {
				status, body := call(t, http.MethodGet, a+path, other.Token, nil)
				require.Equal(t, http.StatusNotFound, status, "another tenant reads %s at %s: %s", path, a, body)
			}
			status, body := call(t, http.MethodPost, a+"/v1/approval-requests/"+req+"/approve", other.Token, nil)
			require.Equal(t, http.StatusNotFound, status, "another tenant approves at %s: %s", a, body)
			var list struct {
				Items []struct {
					ID string `json:"id"`
				} `json:"items"`
			}
			status, body = call(t, http.MethodGet, a+"/v1/campaigns?limit=100", other.Token, nil)
			require.Equal(t, http.StatusOK, status, "%s", body)
			require.NoError(t, json.Unmarshal(body, &list))
			require.Empty(t, list.Items, "another tenant lists no campaign of account default at %s", a)
		}
		require.Equal(t, "approved", decide(t, api, run.tokens["approver"], req), "approval through api-%d", i+1)
		require.Equal(t, "approved", requestStatus(t, apis[1-i], run.tokens["admin"], req), "read back through the other API")
		firstIDs = append(firstIDs, req)
	}
	handled := map[string]bool{}
	for _, id := range firstIDs {
		for _, ev := range handlers(t, tc, id) {
			name, ok := workerPIDs[ev.pid]
			require.True(t, ok, "request %s: a task was handled by pid %d, not one of the cluster's workers %v", id, ev.pid, workerPIDs)
			handled[name] = true
		}
	}
	t.Logf("the two end-to-end approvals were handled by %v", handled)

	// The burst: submissions and approvals through both APIs, one started every clusterPace, six at a
	// time, plus clusterPending requests submitted meanwhile and left pending. Once clusterKillAfter
	// burst requests have ended, the worker that started the first pending request's workflow dies by
	// kill -9 (the server's matching may give one worker all the tasks of a light load, so the victim is
	// chosen by what it holds), with burst requests in flight; the pending ones are approved after it.
	// The other worker must handle everything from then on.
	camps := make([]string, clusterBurst)
	for i := range camps {
		camps[i] = createCampaign(t, apis[i%2], run.tokens["collaborator"], fmt.Sprintf("Burst #%02d", i+1))
	}
	reqs := make([]string, clusterBurst)
	outcome := make([]string, clusterBurst) // "approved", or what went wrong
	began := make([]time.Time, clusterBurst)
	took := make([]time.Duration, clusterBurst)
	var mu sync.Mutex
	var endedIDs []string
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				start := time.Now()
				id, out := submitAndApprove(apis[i%2], apis[(i+1)%2], run.tokens["collaborator"], run.tokens["approver"], camps[i], approverID)
				mu.Lock()
				began[i], reqs[i], outcome[i], took[i] = start, id, out, time.Since(start)
				if id != "" {
					endedIDs = append(endedIDs, id)
				}
				mu.Unlock()
			}
		}()
	}
	go func() {
		for i := 0; i < clusterBurst; i++ {
			next <- i
			time.Sleep(clusterPace)
		}
		close(next)
	}()
	// Requests submitted during the burst and left pending: their workflows live in a worker's cache
	// (its sticky queue) when it dies, and are approved only after the kill.
	pendingCamps := make([]string, clusterPending)
	for i := range pendingCamps {
		pendingCamps[i] = createCampaign(t, apis[i%2], run.tokens["collaborator"], fmt.Sprintf("Pending #%02d", i+1))
	}
	var pending []string
	for i, camp := range pendingCamps {
		pending = append(pending, submit(t, apis[i%2], run.tokens["collaborator"], camp, approverID))
	}
	var ended []string
	for {
		mu.Lock()
		ended = append([]string(nil), endedIDs...)
		mu.Unlock()
		if len(ended) >= clusterKillAfter {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The victim is the worker that started the first pending request's workflow.
	victim := workerPIDs[handlers(t, tc, pending[0])[0].pid]
	survivor := map[string]string{"worker-1": "worker-2", "worker-2": "worker-1"}[victim]
	killAt := time.Now()
	require.NoError(t, syscall.Kill(run.procs[victim].pid, syscall.SIGKILL), "kill -9 %s", victim)
	pendingTook := make([]time.Duration, len(pending))
	pendingOutcome := make([]string, len(pending))
	for i, id := range pending {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			status, body, err := send(http.MethodPost, apis[(i+1)%2]+"/v1/approval-requests/"+id+"/approve", run.tokens["approver"], nil)
			pendingTook[i] = time.Since(start)
			pendingOutcome[i] = fmt.Sprintf("%d %v %s", status, err, body)
			if err == nil && status == http.StatusOK {
				pendingOutcome[i] = statusOfBody(body)
			}
		}()
	}
	wg.Wait()
	require.False(t, run.proc.Exited(), "signoff cluster keeps running when a worker dies")
	var slowest time.Duration
	for i := range reqs {
		require.Equal(t, "approved", outcome[i], "burst request %d", i+1)
		require.NotEmpty(t, reqs[i])
		require.Equal(t, "approved", requestStatus(t, apis[i%2], run.tokens["admin"], reqs[i]), "burst request %d", i+1)
		slowest = max(slowest, took[i])
	}
	var slowestPending time.Duration
	for i, id := range pending {
		require.Equal(t, "approved", pendingOutcome[i], "pending request %d, approved after the kill", i+1)
		require.Equal(t, "approved", requestStatus(t, apis[i%2], run.tokens["admin"], id))
		slowestPending = max(slowestPending, pendingTook[i])
		reqs = append(reqs, id)
		began = append(began, killAt.Add(-time.Second)) // submitted before the kill
	}
	// Every task is handled by one of the two workers; none by the victim once it is dead (a task it
	// completed just before may be recorded a moment later: 250 ms is ample on one machine), and a
	// request begun after the kill is handled by the survivor alone.
	before := map[string]int{}
	var afterKill, begunAfter, spanning int
	for i, id := range reqs {
		byWhom := map[string]bool{}
		for _, ev := range handlers(t, tc, id) {
			name, ok := workerPIDs[ev.pid]
			require.True(t, ok, "request %s handled by pid %d, not a worker of the cluster", id, ev.pid)
			byWhom[name] = true
			if ev.at.After(killAt.Add(250 * time.Millisecond)) {
				afterKill++
				require.Equal(t, survivor, name, "request %s: a task after the kill went to %s", id, name)
			} else {
				before[name]++
			}
		}
		if began[i].After(killAt) {
			begunAfter++
			require.Equal(t, map[string]bool{survivor: true}, byWhom, "request %s, begun after the kill", id)
		}
		if len(byWhom) == 2 {
			spanning++
		}
	}
	require.NotZero(t, before[victim], "%s handled tasks before it was killed", victim)
	require.NotZero(t, begunAfter, "requests begun after the kill")
	require.NotZero(t, spanning, "the first pending request was started by %s and approved by %s", victim, survivor)
	t.Logf("burst of %d requests (one every %s) and %d pending ones: %s killed once %d had ended; every request approved "+
		"(slowest burst submit+approve %s; slowest approval of a pending request after the kill %s); tasks until the kill %v, "+
		"after it %d, all on %s; %d requests begun after the kill; %d handled by both workers",
		clusterBurst, clusterPace, clusterPending, victim, len(ended), slowest.Round(time.Millisecond), slowestPending.Round(time.Millisecond),
		before, afterKill, survivor, begunAfter, spanning)

	// Ctrl-C stops everything.
	stopped := time.Now()
	require.NoError(t, run.proc.Interrupt(2*time.Minute), "signoff cluster must exit cleanly on Ctrl-C; its log:\n%s", run.stderr.String())
	t.Logf("Ctrl-C: everything stopped in %s", time.Since(stopped).Round(time.Millisecond))
	for name, p := range run.procs {
		require.ErrorIs(t, syscall.Kill(p.pid, 0), syscall.ESRCH, "%s (pid %d) still runs after Ctrl-C", name, p.pid)
	}
	require.False(t, localenv.Answers(vars["TEMPORAL_ADDRESS"]), "the Temporal server still answers after Ctrl-C")
	require.False(t, localenv.Answers(strings.TrimPrefix(run.ui, "http://")), "the Web UI still answers after Ctrl-C")
	for _, api := range apis {
		require.False(t, localenv.Answers(strings.TrimPrefix(api, "http://")), "%s still answers after Ctrl-C", api)
	}

	// A warm start on the same data: same tokens, the requests are still there.
	warm := time.Now()
	run2 := startCluster(t, bin, vars)
	t.Logf("warm start: %s", time.Since(warm).Round(time.Millisecond))
	require.Equal(t, run.tokens, run2.tokens, "a second start reuses the data folder and prints the same tokens")
	require.Equal(t, "approved", requestStatus(t, run2.procs["api-2"].url, run2.tokens["admin"], firstIDs[0]))
	require.NoError(t, run2.proc.Interrupt(2*time.Minute), "its log:\n%s", run2.stderr.String())
	t.Logf("elapsed: %s in all", time.Since(testStart).Round(time.Millisecond))
}

// temporalServerPort is a free port P below 32768 (the server keeps membership ports in a smallint)
// with P+1..P+7 free for the server's other services and P+1000 free for the Web UI.
func temporalServerPort(t *testing.T) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		p, err := testenv.FreePortBlock(8)
		require.NoError(t, err)
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1000)); err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no free port block for the Temporal server and its UI")
	return 0
}

// portBlock is "127.0.0.1:P" for n free consecutive ports from P, below the kernel's ephemeral range
// (32768 and up): a port picked there can be taken, before the process that was given it listens, by
// one of the many outgoing connections the cluster's Temporal server and Postgres open meanwhile.
func portBlock(t *testing.T, n int) string {
	t.Helper()
	p, err := testenv.FreePortBlock(n)
	require.NoError(t, err)
	return fmt.Sprintf("127.0.0.1:%d", p)
}

// clusterRun is a running `signoff cluster`: what its banner printed, its process and its log.
type clusterRun struct {
	ui     string
	procs  map[string]clusterChild
	tokens map[string]string
	proc   *testenv.Process
	stderr *syncBuffer
}

// clusterChild is one line of the banner's process table.
type clusterChild struct {
	pid int
	url string // APIs only
}

// startCluster starts `signoff cluster` with vars and reads its banner.
func startCluster(t *testing.T, bin string, vars map[string]string) clusterRun {
	t.Helper()
	stdout, banner := io.Pipe()
	run := clusterRun{procs: map[string]clusterChild{}, tokens: map[string]string{}, stderr: &syncBuffer{}}
	run.proc = testenv.StartProcess(t, testenv.Command{Bin: bin, Args: []string{"cluster"}, Stdout: banner, Stderr: run.stderr,
		Env: testenv.ChildEnv(vars)})
	go func() { <-run.proc.Done(); banner.Close() }()
	t.Cleanup(func() { _ = run.proc.Interrupt(time.Minute) })

	tokenRe := regexp.MustCompile(`^\s+(admin|editor|collaborator|approver|csm|operator)\s+(so_\S+)`)
	procRe := regexp.MustCompile(`^\s+((?:api|worker)-\d)\s+pid (\d+)\s+(http://\S+)?`)
	uiRe := regexp.MustCompile(`^\s+Temporal UI\s+(http://\S+)`)
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(5 * time.Minute)
read:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("signoff cluster exited before its banner (%v); its log:\n%s", run.proc.Err(), run.stderr.String())
			}
			if m := tokenRe.FindStringSubmatch(l); m != nil {
				run.tokens[m[1]] = m[2]
			}
			if m := procRe.FindStringSubmatch(l); m != nil {
				pid, _ := strconv.Atoi(m[2])
				run.procs[m[1]] = clusterChild{pid: pid, url: m[3]}
			}
			if m := uiRe.FindStringSubmatch(l); m != nil {
				run.ui = m[1]
			}
			if strings.Contains(l, "Try:") {
				break read
			}
		case <-deadline:
			t.Fatalf("signoff cluster printed no banner within 5 minutes; its log:\n%s", run.stderr.String())
		}
	}
	go func() {
		for range lines { // keep draining so the process never blocks on stdout
		}
	}()
	return run
}

// call sends a JSON request with a bearer token and answers the status and body.
func call(t *testing.T, method, url, token string, body any) (int, []byte) {
	t.Helper()
	status, out, err := send(method, url, token, body)
	require.NoError(t, err, "%s %s", method, url)
	return status, out
}

// send is call for goroutines other than the test's: it answers an error instead of failing.
func send(method, url, token string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c := http.Client{Timeout: 90 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// submitAndApprove submits a campaign through one API and approves the request through another;
// it answers the request's id and "approved", or what went wrong.
func submitAndApprove(submitAPI, approveAPI, submitter, approver, campaignID, approverID string) (string, string) {
	status, body, err := send(http.MethodPost, submitAPI+"/v1/campaigns/"+campaignID+"/approval-requests", submitter,
		map[string]any{"approver_ids": []string{approverID}})
	var v struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if err != nil || status != http.StatusCreated || json.Unmarshal(body, &v) != nil {
		return "", fmt.Sprintf("submit through %s: %d %v %s", submitAPI, status, err, body)
	}
	id := v.ID
	status, body, err = send(http.MethodPost, approveAPI+"/v1/approval-requests/"+id+"/approve", approver, nil)
	if err != nil || status != http.StatusOK || json.Unmarshal(body, &v) != nil {
		return id, fmt.Sprintf("approve through %s: %d %v %s", approveAPI, status, err, body)
	}
	return id, v.Status
}

// myID is the id of the token's user.
func myID(t *testing.T, api, token string) string {
	t.Helper()
	status, body := call(t, http.MethodGet, api+"/v1/me", token, nil)
	require.Equal(t, http.StatusOK, status, "%s", body)
	return idOf(t, body)
}

// createCampaign creates an active campaign starting in an hour (submittable; it never launches
// while the test runs) and answers its id.
func createCampaign(t *testing.T, api, token, name string) string {
	t.Helper()
	start := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	end := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	status, body := call(t, http.MethodPost, api+"/v1/campaigns", token,
		map[string]any{"name": name, "kind": "campaign", "mode": "active", "start_at": start, "end_at": end})
	require.Equal(t, http.StatusCreated, status, "%s", body)
	return idOf(t, body)
}

// submit submits a campaign to one approver and answers the request's id.
func submit(t *testing.T, api, token, campaignID, approverID string) string {
	t.Helper()
	status, body := call(t, http.MethodPost, api+"/v1/campaigns/"+campaignID+"/approval-requests", token,
		map[string]any{"approver_ids": []string{approverID}})
	require.Equal(t, http.StatusCreated, status, "submit through %s: %s", api, body)
	return idOf(t, body)
}

// decide approves a request and answers its status as the decision left it.
func decide(t *testing.T, api, token, requestID string) string {
	t.Helper()
	status, body := call(t, http.MethodPost, api+"/v1/approval-requests/"+requestID+"/approve", token, nil)
	require.Equal(t, http.StatusOK, status, "approve through %s: %s", api, body)
	return statusOf(t, body)
}

func requestStatus(t *testing.T, api, token, requestID string) string {
	t.Helper()
	status, body := call(t, http.MethodGet, api+"/v1/approval-requests/"+requestID, token, nil)
	require.Equal(t, http.StatusOK, status, "%s", body)
	return statusOf(t, body)
}

func idOf(t *testing.T, body []byte) string {
	t.Helper()
	var v struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(body, &v), "%s", body)
	require.NotEmpty(t, v.ID, "%s", body)
	return v.ID
}

func statusOf(t *testing.T, body []byte) string {
	t.Helper()
	var v struct {
		Status string `json:"status"`
	}
	require.NoError(t, json.Unmarshal(body, &v), "%s", body)
	return v.Status
}

// statusOfBody is statusOf for goroutines other than the test's: the status, or the body itself.
func statusOfBody(body []byte) string {
	var v struct {
		Status string `json:"status"`
	}
	if json.Unmarshal(body, &v) != nil || v.Status == "" {
		return string(body)
	}
	return v.Status
}

// handledTask is a workflow or activity task of a history and the process that handled it.
type handledTask struct {
	pid int
	at  time.Time
}

// handlers lists who completed each workflow task and ran each activity of a request's workflow
// (the SDK's worker identity starts with "<pid>@").
func handlers(t *testing.T, tc client.Client, requestID string) []handledTask {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it := tc.GetWorkflowHistory(ctx, workflows.ApprovalRequestWorkflowID(requestID), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var out []handledTask
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		var identity string
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			identity = ev.GetWorkflowTaskCompletedEventAttributes().GetIdentity()
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			identity = ev.GetActivityTaskStartedEventAttributes().GetIdentity()
		default:
			continue
		}
		pid, err := strconv.Atoi(strings.SplitN(identity, "@", 2)[0])
		require.NoError(t, err, "worker identity %q", identity)
		out = append(out, handledTask{pid: pid, at: ev.GetEventTime().AsTime()})
	}
	require.NotEmpty(t, out, "request %s: no task handled", requestID)
	return out
}

// quietLog drops the test client's messages.
type quietLog struct{}

func (quietLog) Debug(string, ...any) {}
func (quietLog) Info(string, ...any)  {}
func (quietLog) Warn(string, ...any)  {}
func (quietLog) Error(string, ...any) {}
