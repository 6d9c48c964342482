package chaos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/webhooks"
)

// TestChaosWebhookKill is the webhook case (R-HOOK-3): submissions through the API while the API and
// the worker are killed with kill -9 between the state change and the delivery. Every request that
// exists has its approval_request.submitted event, and every event reaches the receiver, signed, at
// least once; no delivery ends other than delivered.
func TestChaosWebhookKill(t *testing.T) {
	ops, kills := 24, 3
	if chaosFull() {
		ops, kills = 120, 8
	}
	t.Logf("%d submissions in %d batches, each followed by kill -9 of the worker and the API", ops, kills)
	bin := testenv.BuildSignoff(t)
	ctx := context.Background()
	dbURL := testenv.DatabaseURL(t)
	pool, err := storage.Connect(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	store := storage.New(pool)
	fx := newChaosFixture(t, store, "Hook Chaos Inc", 0, 0, ops)
	key, sealer := testenv.SecretKey(t)
	tc := testenv.Temporal(t)
	queue := testenv.TaskQueue(t)

	// The receiver answers after 100 ms, so kills land on deliveries in flight.
	var mu sync.Mutex
	received := map[string]int{} // webhook-id → POSTs
	secret, err := webhooks.NewSecret()
	require.NoError(t, err)
	var badSignatures int
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ts int64
		_, _ = fmt.Sscan(r.Header.Get("webhook-timestamp"), &ts)
		id := r.Header.Get("webhook-id")
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		received[id]++
		if !webhooks.Verify(secret, id, ts, body, r.Header.Get("webhook-signature")) {
			badSignatures++
		}
		mu.Unlock()
	}))
	t.Cleanup(rc.Close)
	_, err = store.CreateWebhookEndpoint(ctx, storage.NewWebhookEndpoint{AccountID: fx.accountID, URL: rc.URL,
		Events: []string{"approval_request.submitted"}, SecretSealed: sealer.Seal(secret), CreatedBy: fx.adminID})
	require.NoError(t, err)

	env := map[string]string{"DATABASE_URL": dbURL, "TEMPORAL_ADDRESS": testenv.TemporalAddress(t), "SIGNOFF_TASK_QUEUE": queue,
		"SIGNOFF_SECRET_KEY": key, "SIGNOFF_LOG_LEVEL": "warn", "SIGNOFF_SWEEP_INTERVAL": "1s", "SIGNOFF_WEBHOOK_ALLOW_PRIVATE": "true"}
	workerSup := superviseWorker(t, bin, queue, tc, env)
	addr := testenv.FreeAddr(t)
	apiEnv := map[string]string{"SIGNOFF_HTTP_ADDR": addr}
	for k, v := range env {
		apiEnv[k] = v
	}
	apiSup := superviseAPI(t, bin, addr, apiEnv)
	workerSup.Start()
	apiSup.Start()

	// Each submission (by the admin, an editor of the fixture's campaigns) retries with its Idempotency-Key
	// on connection errors, 5xx and 409 idempotency_in_progress, until it gets its 201.
	httpc := &http.Client{Timeout: 10 * time.Second}
	submit := func(campaignID string, errs chan<- error) {
		b, _ := json.Marshal(map[string]any{"approver_ids": []string{fx.approverID}, "note": "chaos"})
		idem := uuid.NewString()
		deadline := time.Now().Add(90 * time.Second)
		for {
			req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/campaigns/"+campaignID+"/approval-requests", bytes.NewReader(b))
			req.Header.Set("Authorization", "Bearer "+fx.adminToken)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", idem)
			resp, err := httpc.Do(req)
			if err == nil {
				answer, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case resp.StatusCode == http.StatusCreated:
					errs <- nil
					return
				case resp.StatusCode < 500 && !bytes.Contains(answer, []byte("idempotency_in_progress")):
					errs <- fmt.Errorf("campaign %s: %d %s", campaignID, resp.StatusCode, answer)
					return
				}
			}
			if time.Now().After(deadline) {
				errs <- fmt.Errorf("campaign %s: no 201 in 90 s (last: %v)", campaignID, err)
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	errs := make(chan error, ops)
	for k := range kills {
		for i := k * ops / kills; i < (k+1)*ops/kills; i++ {
			go submit(fx.requestCampaigns[i], errs)
		}
		// Kill once about half the batch is committed: its events are written, their deliveries pending or
		// in flight (the receiver takes 100 ms), the rest of the batch still in the API.
		half := k*ops/kills + (ops/kills+1)/2
		for waited := time.Now(); count(t, pool, `SELECT count(*) FROM webhook_events`) < half && time.Since(waited) < 10*time.Second; {
			time.Sleep(10 * time.Millisecond)
		}
		undelivered := count(t, pool, `SELECT count(*) FROM webhook_deliveries WHERE status <> 'delivered'`)
		workerSup.Kill()
		apiSup.Kill()
		aged := testenv.Fixtures{Pool: pool}.AgeUnansweredIdempotencyKeys(t, storage.IdempotencyLease)
		workerSup.Start()
		apiSup.Start()
		mu.Lock()
		posts := 0
		for _, c := range received {
			posts += c
		}
		mu.Unlock()
		t.Logf("kill %d: %d events, %d of their deliveries not done at the kill, %d POSTs received so far; %d unanswered keys aged", k+1,
			count(t, pool, `SELECT count(*) FROM webhook_events`), undelivered, posts, aged)
	}
	for range ops {
		require.NoError(t, <-errs)
	}

	// Every request has its event, and every event arrives.
	require.Equal(t, ops, count(t, pool, `SELECT count(*) FROM approval_requests WHERE account_id = $1`, fx.accountID))
	require.Equal(t, ops, count(t, pool, `SELECT count(*) FROM webhook_events WHERE type = 'approval_request.submitted'`),
		"one event per submission, written with it")
	start := time.Now()
	for count(t, pool, `SELECT count(*) FROM webhook_deliveries WHERE status <> 'delivered'`) > 0 {
		workerSup.RequireAlive()
		if time.Since(start) > 90*time.Second {
			t.Fatalf("deliveries not delivered after 90 s: %d\nworker log:\n%s",
				count(t, pool, `SELECT count(*) FROM webhook_deliveries WHERE status <> 'delivered'`), workerSup.CurrentLog())
		}
		time.Sleep(250 * time.Millisecond)
	}
	rows, err := pool.Query(ctx, `SELECT id::text FROM webhook_events`)
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	dupes := 0
	for _, id := range ids {
		require.Positive(t, received[id], "event %s never reached the receiver", id)
		dupes += received[id] - 1
	}
	require.Len(t, received, ops, "nothing but the events was received")
	require.Zero(t, badSignatures)
	require.Equal(t, ops, count(t, pool, `SELECT count(*) FROM webhook_deliveries`), "one delivery per event: started once each")
	t.Logf("every one of %d events delivered (%d POSTs repeated after kills: at least once); %d worker and %d API starts",
		ops, dupes, workerSup.Started(), apiSup.Started())
}

// count runs a count query.
func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}
