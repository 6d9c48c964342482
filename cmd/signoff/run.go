package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/ai"
	"github.com/signoff/signoff/api"
	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/config"
	"github.com/signoff/signoff/email"
	"github.com/signoff/signoff/metrics"
	"github.com/signoff/signoff/schema"
	"github.com/signoff/signoff/sharelink"
	"github.com/signoff/signoff/storage"
	"github.com/signoff/signoff/temporalclient"
	"github.com/signoff/signoff/webhooks"
	"github.com/signoff/signoff/workers"
	"github.com/signoff/signoff/workflows"
)

func zapErr(err error) zap.Field { return zap.Error(err) }

// connectDB opens the pool, retrying for up to a minute so processes may start before Postgres.
func connectDB(ctx context.Context, cfg config.Config, log *zap.Logger) (*pgxpool.Pool, error) {
	if cfg.DatabaseURL == "" {
		return nil, errors.New("DATABASE_URL is not set (only `signoff dev` starts a local Postgres)")
	}
	var lastErr error
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		pool, err := storage.Connect(ctx, cfg.DatabaseURL)
		if err == nil {
			return pool, nil
		}
		lastErr = err
		log.Warn("postgres not reachable yet", zap.Error(err))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return nil, lastErr
}

// dialTemporal connects to Temporal through temporalclient (profile file and TEMPORAL_* variables,
// Signoff's settings on top), the SDK's metrics going to mh, retrying for a minute.
func dialTemporal(ctx context.Context, cfg config.Config, log *zap.Logger, mh client.MetricsHandler) (client.Client, error) {
	return temporalclient.Dial(ctx, cfg, log, temporalclient.Extras{MetricsHandler: mh}, time.Minute)
}

// bootstrap makes sure the SIGNOFF_BOOTSTRAP_TOKEN admin exists (R-AUTH-4).
func bootstrap(ctx context.Context, cfg config.Config, store *storage.Store, log *zap.Logger) error {
	if cfg.BootstrapToken == "" {
		return nil
	}
	acct, u, err := store.EnsureBootstrapAdmin(ctx, storage.HashToken(cfg.BootstrapToken))
	if err != nil {
		return err
	}
	log.Info("bootstrap admin ready", zap.String("account_id", acct.ID), zap.String("user_id", u.ID))
	return nil
}

func runMigrate(ctx context.Context, cfg config.Config, log *zap.Logger) error {
	pool, err := connectDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer pool.Close()
	v, err := schema.Migrate(ctx, pool)
	if err != nil {
		return err
	}
	log.Info("migrations applied", zap.Int64("version", v))
	return nil
}

// services are the long-lived parts a process runs, and its metrics endpoint (R-OPS-1).
type services struct {
	pool       *pgxpool.Pool
	store      *storage.Store
	temporal   client.Client
	sealer     *sharelink.Sealer
	metrics    *metrics.Metrics
	metricsSrv *metrics.Server
}

// pendingMaxAge is how long the pending-requests gauge reuses its count: scrapes closer together
// than this cost one query.
const pendingMaxAge = 5 * time.Second

func connectAll(ctx context.Context, cfg config.Config, log *zap.Logger) (*services, error) {
	if cfg.SecretKey == "" {
		return nil, errors.New("SIGNOFF_SECRET_KEY is not set: generate 32 random bytes, base64-encoded (openssl rand -base64 32)")
	}
	key, err := sharelink.ParseKey(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	sealer, err := sharelink.NewSealer(key)
	if err != nil {
		return nil, err
	}
	mlog := log.Named("metrics")
	m, err := metrics.New(func(err error) { mlog.Warn("temporal sdk metric", zap.Error(err)) })
	if err != nil {
		return nil, err
	}
	pool, err := connectDB(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	tc, err := dialTemporal(ctx, cfg, log, m.TemporalHandler())
	if err != nil {
		pool.Close()
		return nil, err
	}
	svc := &services{pool: pool, store: storage.New(pool), temporal: tc, sealer: sealer, metrics: m}
	if err := m.RegisterPending(svc.store.CountPendingRequests, pendingMaxAge); err != nil {
		svc.close()
		return nil, err
	}
	if cfg.MetricsAddr == "" {
		return svc, nil // a process that serves nothing itself (the supervisor of signoff cluster)
	}
	if svc.metricsSrv, err = m.Serve(cfg.MetricsAddr, svc.ready); err != nil {
		svc.close()
		return nil, err
	}
	log.Info("metrics listening", zap.String("url", svc.metricsURL()))
	return svc, nil
}

// ready is the readiness of the metrics endpoint's /readyz: Postgres and Temporal answer.
func (s *services) ready(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return err
	}
	_, err := s.temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
	return err
}

// metricsURL is the address of /metrics.
func (s *services) metricsURL() string { return "http://" + s.metricsSrv.Addr + "/metrics" }

// drain starts a graceful stop: /readyz answers 503 from now on, and the process keeps serving for
// cfg.DrainDelay so load balancers notice before it stops.
func (s *services) drain(cfg config.Config, log *zap.Logger) {
	if !s.metrics.Draining() {
		log.Info("draining", zap.Duration("delay", cfg.DrainDelay))
	}
	s.metrics.SetDraining()
	time.Sleep(cfg.DrainDelay)
}

// close stops the metrics endpoint last of what serves, then the clients.
func (s *services) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s.metricsSrv != nil {
		_ = s.metricsSrv.Close(ctx)
	}
	_ = s.metrics.Close(ctx)
	s.temporal.Close()
	s.pool.Close()
}

func runAPI(ctx context.Context, cfg config.Config, log *zap.Logger) error {
	svc, err := connectAll(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer svc.close()
	if err := bootstrap(ctx, cfg, svc.store, log); err != nil {
		return err
	}
	return serveAPI(ctx, cfg, svc, log)
}

func runWorker(ctx context.Context, cfg config.Config, log *zap.Logger) error {
	svc, err := connectAll(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer svc.close()
	return serveWorker(ctx, cfg, svc, log)
}

// serveAPI listens until ctx ends, then drains in-flight requests.
func serveAPI(ctx context.Context, cfg config.Config, svc *services, log *zap.Logger) error {
	uses := &app.App{Store: svc.store, Temporal: svc.temporal, TaskQueue: cfg.TaskQueue, Log: log.Named("app"),
		PublicURL: cfg.PublicURL, Sealer: svc.sealer, CSVMaxBytes: int64(cfg.CSVMaxBytes), ImmediateApprovalWindow: cfg.ImmediateApprovalWindow,
		WebhookAllowPrivate: cfg.WebhookAllowPrivate}
	server := &api.Server{App: uses, Log: log.Named("api"), OperatorToken: cfg.OperatorToken, TrustedProxies: cfg.TrustedProxies,
		Metrics: svc.metrics}
	srv := &http.Server{
		Addr:              cfg.HTTPAddr,
		Handler:           server.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("api: listen %s: %w", cfg.HTTPAddr, err)
	}
	log.Info("api listening", zap.String("addr", ln.Addr().String()))
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() { _ = server.WatchReviews(watchCtx) }()
	// Idempotency-Keys expire after a day; each API process deletes the expired ones hourly.
	go server.PruneIdempotencyKeys(watchCtx, api.IdempotencyPruneInterval)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	svc.drain(cfg, log)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	log.Info("api shutting down")
	return srv.Shutdown(sctx)
}

// serveWorker polls the task queue until ctx ends, then stops gracefully.
func serveWorker(ctx context.Context, cfg config.Config, svc *services, log *zap.Logger) error {
	var openai ai.Provider
	if cfg.AIBaseURL != "" {
		openai = ai.NewOpenAI(cfg.AIBaseURL, cfg.AIAPIKey)
	}
	acts := &activities.Activities{Store: svc.store, Log: log.Named("activities"), Sealer: svc.sealer,
		AI: ai.NewPipeline(&ai.Local{Delay: cfg.AILocalDelay}, openai), BuildCapacity: cfg.BuildCapacity, PublicURL: cfg.PublicURL,
		Metrics: svc.metrics, Webhooks: webhooks.NewClient(webhooks.Options{AllowPrivate: cfg.WebhookAllowPrivate}),
		WebhookAllowPrivate: cfg.WebhookAllowPrivate}
	if cfg.SendGridAPIKey != "" {
		acts.Mail = email.NewSendGrid(cfg.SendGridAPIKey, cfg.SendGridHost, cfg.MailFrom, "Signoff")
	}
	// The sticky cache is the SDK's, shared by every worker of the process: set before the workers.
	worker.SetStickyWorkflowCacheSize(cfg.StickyCacheSize)
	// Run, not Start: a worker the SDK stops on a fatal error (its namespace deleted, a server it can
	// no longer talk to) ends this process with that error, so its supervisor restarts it, instead of
	// leaving a process that is up and polls nothing.
	g := startWorkers(workers.New(svc.temporal, cfg.TaskQueue, acts),
		workers.NewWebhookWorker(svc.temporal, cfg.TaskQueue, acts, cfg.WebhookRate))
	log.Info("worker polling", zap.String("task_queue", cfg.TaskQueue), zap.String("namespace", cfg.TemporalNamespace),
		zap.Bool("sendgrid", acts.Mail != nil), zap.Int("sticky_cache_size", cfg.StickyCacheSize))
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sweepDone, dispatchDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sweepDone)
		workers.RunSweeper(wctx, svc.temporal, svc.store, cfg.TaskQueue, cfg.SweepInterval, log.Named("sweeper"))
	}()
	go func() {
		defer close(dispatchDone)
		d := &workers.WebhookDispatcher{Client: svc.temporal, Store: svc.store, TaskQueue: workflows.WebhookTaskQueue(cfg.TaskQueue),
			Rate: cfg.WebhookRate, Log: log.Named("webhooks")}
		d.Run(wctx)
	}()
	var fatal error
	select {
	case <-ctx.Done():
		svc.drain(cfg, log)
	case fatal = <-g.failed:
		log.Error("a worker stopped on a fatal error; exiting so that the supervisor restarts the process", zap.Error(fatal))
	}
	cancel()
	<-sweepDone
	<-dispatchDone
	log.Info("worker shutting down")
	if err := g.stop(); fatal == nil {
		fatal = err
	}
	if fatal != nil {
		return fmt.Errorf("worker: %w", fatal)
	}
	return nil
}

// runner is what startWorkers runs: a Temporal worker, whose Run starts it and returns when the
// channel closes (nil) or the worker stopped on a fatal error (that error).
type runner interface {
	Run(interruptCh <-chan any) error
}

// workerGroup is the workers of one process, running.
type workerGroup struct {
	interrupt chan any
	// failed receives the result of the first worker whose Run returned on its own.
	failed  chan error
	results chan error
	n       int
}

// startWorkers runs each of ws until stop.
func startWorkers(ws ...runner) *workerGroup {
	g := &workerGroup{interrupt: make(chan any), failed: make(chan error, 1), results: make(chan error, len(ws)), n: len(ws)}
	for _, w := range ws {
		go func() {
			err := w.Run(g.interrupt)
			select {
			case <-g.interrupt:
			default:
				if err == nil {
					err = errors.New("the worker stopped by itself")
				}
				select {
				case g.failed <- err:
				default:
				}
			}
			g.results <- err
		}()
	}
	return g
}

// stop stops every worker and answers the first error any of them returned.
func (g *workerGroup) stop() error {
	close(g.interrupt)
	var first error
	for range g.n {
		if err := <-g.results; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// runBoth runs worker and API in one process until ctx ends.
func runBoth(ctx context.Context, cfg config.Config, svc *services, log *zap.Logger) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveWorker(gctx, cfg, svc, log) })
	g.Go(func() error { return serveAPI(gctx, cfg, svc, log) })
	return g.Wait()
}
