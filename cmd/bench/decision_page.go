package main

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/signoff/signoff/api"
	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/demodata"
	"github.com/signoff/signoff/sharelink"
	"github.com/signoff/signoff/storage"
)

// decisionLink finds the decision link of an approver email; group 1 is the token.
var decisionLink = regexp.MustCompile(`/a/([A-Za-z0-9_-]{43})`)

// bareTemplate renders a page of paragraphs: the baseline's work is an html/template execution of a
// page of the decision page's size, as the decision page's first render is.
var bareTemplate = template.Must(template.New("bare").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">` +
	`<title>{{.Title}}</title></head><body><main>{{range .Paragraphs}}<p class="para">{{.}}</p>{{end}}</main></body></html>`))

// decisionPage measures the approver's decision page, GET /a/{token} (R-ACT-1), at 64 concurrent
// connections against a bare Gin handler rendering a page of the same size with html/template in the
// same run (the target: at least its req/s), and a bare Gin handler answering the same bytes as they
// are (no rendering at all). The page is that of a request for a second version of the fintech demo
// campaign (two changes since the approved first), with two approvers; a row also measures the page
// with the in-memory page cache off (every GET reads the database and renders).
func (b *bench) decisionPage(ctx context.Context, d time.Duration) error {
	now := time.Now()
	nc := demodata.Campaigns(now)[0]
	nc.Name += " (decision page)"
	c, err := b.store.CreateCampaign(ctx, b.acct.ID, b.users[storage.RoleCollaborator].ID, nc)
	if err != nil {
		return err
	}
	approvers := []string{b.users[storage.RoleApprover].ID, b.users[storage.RoleAdmin].ID}
	var first struct{ ID string }
	if _, err := b.call("POST", "/v1/campaigns/"+c.ID+"/approval-requests", storage.RoleCollaborator,
		map[string]any{"approver_ids": approvers, "note": "First version."}, &first); err != nil {
		return err
	}
	if _, err := b.call("POST", "/v1/approval-requests/"+first.ID+"/approve", storage.RoleApprover, map[string]any{"note": "ok"}, nil); err != nil {
		return err
	}
	if _, err := b.call("PATCH", "/v1/campaigns/"+c.ID, storage.RoleCollaborator,
		map[string]any{"name": nc.Name + " v2", "end_at": now.Add(40 * 24 * time.Hour).UTC()}, nil); err != nil {
		return err
	}
	var second struct{ ID string }
	if _, err := b.call("POST", "/v1/campaigns/"+c.ID+"/approval-requests", storage.RoleCollaborator,
		map[string]any{"approver_ids": approvers, "note": "New name and a longer run, as agreed."}, &second); err != nil {
		return err
	}
	emails, err := b.store.UnsentEmails(ctx, second.ID)
	if err != nil {
		return err
	}
	token := ""
	for _, e := range emails {
		if m := decisionLink.FindStringSubmatch(e.Body); m != nil && e.ToEmail == b.users[storage.RoleApprover].Email {
			token = m[1]
		}
	}
	if token == "" {
		return fmt.Errorf("no decision link in the approver's email")
	}

	// Servers without the public rate limits: this measures throughput, not the limiter. One hears the
	// change feed (pages kept in memory, as in production); the other does not (every GET reads and renders).
	key, _ := sharelink.ParseKey(sharelink.NewKey())
	sealer, _ := sharelink.NewSealer(key)
	newServer := func() *api.Server {
		return &api.Server{App: &app.App{Store: b.store, Temporal: b.tc, PublicURL: "http://bench.test", TaskQueue: b.queue, Sealer: sealer},
			Log: b.log, ReviewTokenRate: 1e9, ReviewTokenBurst: 1 << 30, ReviewIPRate: 1e9, ReviewIPBurst: 1 << 30}
	}
	cached, uncached := newServer(), newServer()
	hs, hu := httptest.NewServer(cached.Handler()), httptest.NewServer(uncached.Handler())
	defer hs.Close()
	defer hu.Close()
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() { _ = cached.WatchReviews(wctx) }()
	deadline := time.Now().Add(time.Minute)
	for !cached.ReviewsWatched() {
		if time.Now().After(deadline) {
			return fmt.Errorf("change feed not heard")
		}
		time.Sleep(5 * time.Millisecond)
	}
	pageURL := hs.URL + "/a/" + token
	resp, err := http.Get(pageURL)
	if err != nil {
		return err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `name="csrf"`) {
		return fmt.Errorf("GET the decision page: %d", resp.StatusCode)
	}

	// The baselines: bare Gin rendering paragraphs up to the page's size with html/template, and bare
	// Gin answering the page's bytes.
	para := strings.Repeat("Finance leaders close the quarter with fewer surprises. ", 2)
	n := max(1, len(page)/(len(para)+len(`<p class="para"></p>`)))
	data := map[string]any{"Title": nc.Name, "Paragraphs": make([]string, n)}
	for i := range n {
		data["Paragraphs"].([]string)[i] = para
	}
	g := gin.New()
	g.GET("/render", func(c *gin.Context) {
		c.Header("Content-Type", "text/html; charset=utf-8")
		c.Status(http.StatusOK)
		_ = bareTemplate.Execute(c.Writer, data)
	})
	g.GET("/static", func(c *gin.Context) { c.Data(http.StatusOK, "text/html; charset=utf-8", page) })
	bare := httptest.NewServer(g)
	defer bare.Close()
	var sized strings.Builder
	_ = bareTemplate.Execute(&sized, data)

	const conns = 64
	renderRPS, renderLat, err := load(conns, d, func(c *http.Client) error { return get(c, bare.URL+"/render") })
	if err != nil {
		return err
	}
	rows = append(rows, row{Name: fmt.Sprintf("bare Gin html/template page (%d bytes), 64 connections", sized.Len()), N: len(renderLat),
		Median: median(renderLat), P99: pct(renderLat, 99), Baseline: "—", Target: "—", Met: "—", Note: fmt.Sprintf("%.0f req/s", renderRPS)})
	staticRPS, staticLat, err := load(conns, d, func(c *http.Client) error { return get(c, bare.URL+"/static") })
	if err != nil {
		return err
	}
	rows = append(rows, row{Name: fmt.Sprintf("bare Gin static bytes (%d bytes), 64 connections", len(page)), N: len(staticLat),
		Median: median(staticLat), P99: pct(staticLat, 99), Baseline: "—", Target: "—", Met: "—", Note: fmt.Sprintf("%.0f req/s", staticRPS)})

	pageRPS, pageLat, err := load(conns, d, func(c *http.Client) error { return get(c, pageURL) })
	if err != nil {
		return err
	}
	r := pageRPS / renderRPS
	rows = append(rows, row{Name: fmt.Sprintf("decision page GET /a/{token} (%d bytes), 64 connections", len(page)), N: len(pageLat),
		Median: median(pageLat), P99: pct(pageLat, 99), Baseline: fmt.Sprintf("bare render %.0f req/s", renderRPS), Ratio: r,
		Target: "≥ 1.0× bare render req/s", Met: met(r >= 1.0),
		Note: fmt.Sprintf("%.0f req/s; %.2f× bare static", pageRPS, pageRPS/staticRPS)})

	coldRPS, coldLat, err := load(conns, d, func(c *http.Client) error { return get(c, hu.URL+"/a/"+token) })
	if err != nil {
		return err
	}
	rows = append(rows, row{Name: "decision page GET, no page cache (database + render each time), 64 connections", N: len(coldLat),
		Median: median(coldLat), P99: pct(coldLat, 99), Baseline: fmt.Sprintf("bare render %.0f req/s", renderRPS), Ratio: coldRPS / renderRPS,
		Target: "—", Met: "—", Note: fmt.Sprintf("%.0f req/s", coldRPS)})
	return nil
}
