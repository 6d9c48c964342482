package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/signoff/signoff/api"
	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/storage"
)

// load drives fn from conns goroutines for d and returns requests per second and latencies. Its client
// does not ask for compression (no Accept-Encoding), so the rows compare the server's work alone;
// loadGzip's does, as browsers do.
func load(conns int, d time.Duration, fn func(c *http.Client) error) (float64, []time.Duration, error) {
	return loadWith(conns, d, false, fn)
}

// loadGzip is load with a client that accepts gzip and decodes it (the load generator shares the
// machine, so the decoding's CPU is taken from the server).
func loadGzip(conns int, d time.Duration, fn func(c *http.Client) error) (float64, []time.Duration, error) {
	return loadWith(conns, d, true, fn)
}

func loadWith(conns int, d time.Duration, gzip bool, fn func(c *http.Client) error) (float64, []time.Duration, error) {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: !gzip}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr atomic.Value
	var n atomic.Int64
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(stop) {
				t := time.Now()
				if err := fn(c); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				mine = append(mine, time.Since(t))
				n.Add(1)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, nil, err
	}
	return float64(n.Load()) / time.Since(start).Seconds(), lat, nil
}

func get(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", url, resp.StatusCode)
	}
	return nil
}

// review measures the review page, its JSON snapshot and a comment write at 64 concurrent
// connections beside a bare Gin handler answering a JSON body of the snapshot's size.
func (b *bench) review(ctx context.Context, d time.Duration) error {
	var draft struct {
		ID       string
		ShareURL string     `json:"share_url"`
		AIDoneAt *time.Time `json:"ai_done_at"`
	}
	if _, err := b.call("POST", "/v1/campaigns/"+b.camp.ID+"/approval-drafts", storage.RoleCSM, map[string]any{
		"source": map[string]any{"type": "saved_search", "saved_search_id": b.search.ID}, "contact_count": 20}, &draft); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	// Measured once every lead has its AI result: the answer's size is then final.
	for draft.ShareURL == "" || draft.AIDoneAt == nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("draft not ready")
		}
		time.Sleep(20 * time.Millisecond)
		if _, err := b.call("GET", "/v1/approval-drafts/"+draft.ID, storage.RoleCSM, nil, &draft); err != nil {
			return err
		}
	}
	token := draft.ShareURL[strings.LastIndex(draft.ShareURL, "/")+1:]
	// A server without review rate limits: this measures throughput, not the limiter. Its store lets the
	// one draft hold every comment the load writes, far more than a draft may (storage.MaxCommentsPerDraft).
	store := storage.New(b.store.Pool)
	store.SetMaxComments(-1)
	srv := &api.Server{App: &app.App{Store: store, Temporal: b.tc, PublicURL: "http://bench.test", TaskQueue: b.queue}, Log: b.log, ReviewTokenRate: 1e9, ReviewTokenBurst: 1 << 30, ReviewIPRate: 1e9, ReviewIPBurst: 1 << 30}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() { _ = srv.WatchReviews(wctx) }()
	for !srv.ReviewsWatched() {
		if time.Now().After(deadline) {
			return fmt.Errorf("review change feed not heard")
		}
		time.Sleep(5 * time.Millisecond)
	}
	snapshotURL := hs.URL + "/v1/public/reviews/" + token
	resp, err := http.Get(snapshotURL)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	// The baseline: bare Gin answering a JSON body of the same size.
	payload := map[string]string{"data": strings.Repeat("x", max(0, len(body)-12))}
	g := gin.New()
	g.GET("/bare", func(c *gin.Context) { c.JSON(http.StatusOK, payload) })
	bare := httptest.NewServer(g)
	defer bare.Close()

	const conns = 64
	bareRPS, bareLat, err := load(conns, d, func(c *http.Client) error { return get(c, bare.URL+"/bare") })
	if err != nil {
		return err
	}
	rows = append(rows, row{Name: fmt.Sprintf("bare Gin JSON (%d bytes), 64 connections", len(body)), N: len(bareLat),
		Median: median(bareLat), P99: pct(bareLat, 99), Baseline: "—", Target: "—", Met: "—", Note: fmt.Sprintf("%.0f req/s", bareRPS)})

	snapRPS, snapLat, err := load(conns, d, func(c *http.Client) error { return get(c, snapshotURL) })
	if err != nil {
		return err
	}
	r := snapRPS / bareRPS
	rows = append(rows, row{Name: "review JSON snapshot GET, 64 connections", N: len(snapLat), Median: median(snapLat), P99: pct(snapLat, 99),
		Baseline: fmt.Sprintf("bare %.0f req/s", bareRPS), Ratio: r, Target: "≥ 0.5× bare req/s", Met: met(r >= 0.5),
		Note: fmt.Sprintf("%.0f req/s", snapRPS)})

	pageRPS, pageLat, err := load(conns, d, func(c *http.Client) error { return get(c, hs.URL+"/r/"+token) })
	if err != nil {
		return err
	}
	rows = append(rows, row{Name: "review page GET /r/{token}, 64 connections", N: len(pageLat), Median: median(pageLat), P99: pct(pageLat, 99),
		Baseline: fmt.Sprintf("bare %.0f req/s", bareRPS), Ratio: pageRPS / bareRPS, Target: "—", Met: "—", Note: fmt.Sprintf("%.0f req/s", pageRPS)})

	for _, gz := range []struct{ name, url string }{{"review JSON snapshot GET, gzip", snapshotURL}, {"review page GET /r/{token}, gzip", hs.URL + "/r/" + token}} {
		rps, lat, err := loadGzip(conns, d, func(c *http.Client) error { return get(c, gz.url) })
		if err != nil {
			return err
		}
		rows = append(rows, row{Name: gz.name + ", 64 connections", N: len(lat), Median: median(lat), P99: pct(lat, 99),
			Baseline: fmt.Sprintf("bare %.0f req/s", bareRPS), Ratio: rps / bareRPS, Target: "—", Met: "—",
			Note: fmt.Sprintf("%.0f req/s; the client decodes", rps)})
	}

	comment := `{"target":"e1-p2","kind":"note","comment":"Shorter, please.","author":"Bench"}`
	writeRPS, writeLat, err := load(conns, d, func(c *http.Client) error {
		resp, err := c.Post(snapshotURL+"/comments", "application/json", strings.NewReader(comment))
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("POST comment: %d", resp.StatusCode)
		}
		return nil
	})
	if err != nil {
		return err
	}
	p99 := pct(writeLat, 99)
	rows = append(rows, row{Name: "review comment write, 64 connections", N: len(writeLat), Median: median(writeLat), P99: p99,
		Baseline: fmt.Sprintf("bare %.0f req/s", bareRPS), Ratio: writeRPS / bareRPS, Target: "p99 ≤ 25ms", Met: met(p99 <= 25*time.Millisecond),
		Note: fmt.Sprintf("%.0f req/s", writeRPS)})
	return nil
}
