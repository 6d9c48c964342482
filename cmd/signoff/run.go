package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/ai"
	"github.com/signoff/signoff/api"
	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/config"
	"github.com/signoff/signoff/email"
	"github.com/signoff/signoff/logging"
	"github.com/signoff/signoff/schema"
	"github.com/signoff/signoff/sharelink"
	"github.com/signoff/signoff/storage"
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

// dialTemporal connects to Temporal with the zap logger adapter and optional mTLS, retrying for a minute.
func dialTemporal(ctx context.Context, cfg config.Config, log *zap.Logger) (client.Client, error) {
	opts := client.Options{
		HostPort:  cfg.TemporalAddress,
		Namespace: cfg.TemporalNamespace,
		Logger:    logging.NewTemporalLogger(log.Named("temporal")),
	}
	opts.ConnectionOptions.GrpcCompression, _ = config.TemporalCompressionOption(cfg.TemporalCompression, cfg.TemporalAddress) // Load validated it
	if cfg.TemporalTLSCert != "" || cfg.TemporalTLSCA != "" {
		tc := &tls.Config{ServerName: cfg.TemporalTLSServerName, MinVersion: tls.VersionTLS12}
		if cfg.TemporalTLSCert != "" {
			cert, err := tls.LoadX509KeyPair(cfg.TemporalTLSCert, cfg.TemporalTLSKey)
			if err != nil {
				return nil, fmt.Errorf("temporal tls: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		if cfg.TemporalTLSCA != "" {
			pem, err := os.ReadFile(cfg.TemporalTLSCA)
			if err != nil {
				return nil, fmt.Errorf("temporal tls ca: %w", err)
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pem)
			tc.RootCAs = pool
		}
		opts.ConnectionOptions.TLS = tc
	}
	var lastErr error
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		c, err := client.DialContext(ctx, opts)
		if err == nil {
			return c, nil
		}
		lastErr = err
		log.Warn("temporal not reachable yet", zap.Error(err))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return nil, fmt.Errorf("temporal at %s: %w", cfg.TemporalAddress, lastErr)
}

// ensureSearchAttributes registers the search attributes of SPEC §7 when missing.
func ensureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	attrs := map[string]enums.IndexedValueType{}
	for _, name := range workflows.SearchAttributes() {
		attrs[name] = enums.INDEXED_VALUE_TYPE_KEYWORD
	}
	_, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		SearchAttributes: attrs, Namespace: namespace,
	})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("register search attributes: %w", err)
	}
	return nil
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

// services are the long-lived parts a process runs.
type services struct {
	pool     *pgxpool.Pool
	store    *storage.Store
	temporal client.Client
	sealer   *sharelink.Sealer
}

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
	pool, err := connectDB(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	tc, err := dialTemporal(ctx, cfg, log)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &services{pool: pool, store: storage.New(pool), temporal: tc, sealer: sealer}, nil
}

func (s *services) close() {
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
	server := &api.Server{App: uses, Log: log.Named("api"), OperatorToken: cfg.OperatorToken, TrustedProxies: cfg.TrustedProxies}
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
		Webhooks: webhooks.NewClient(webhooks.Options{AllowPrivate: cfg.WebhookAllowPrivate}), WebhookAllowPrivate: cfg.WebhookAllowPrivate}
	if cfg.SendGridAPIKey != "" {
		acts.Mail = email.NewSendGrid(cfg.SendGridAPIKey, cfg.SendGridHost, cfg.MailFrom, "Signoff")
	}
	w := workers.New(svc.temporal, cfg.TaskQueue, acts)
	if err := w.Start(); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	log.Info("worker polling", zap.String("task_queue", cfg.TaskQueue), zap.String("namespace", cfg.TemporalNamespace),
		zap.Bool("sendgrid", acts.Mail != nil))
	sweepDone, dispatchDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sweepDone)
		workers.RunSweeper(ctx, svc.temporal, svc.store, cfg.TaskQueue, cfg.SweepInterval, log.Named("sweeper"))
	}()
	go func() {
		defer close(dispatchDone)
		d := &workers.WebhookDispatcher{Client: svc.temporal, Store: svc.store, TaskQueue: cfg.TaskQueue, Log: log.Named("webhooks")}
		d.Run(ctx)
	}()
	<-ctx.Done()
	<-sweepDone
	<-dispatchDone
	log.Info("worker shutting down")
	w.Stop()
	return nil
}

// runBoth runs worker and API in one process until ctx ends.
func runBoth(ctx context.Context, cfg config.Config, svc *services, log *zap.Logger) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveWorker(gctx, cfg, svc, log) })
	g.Go(func() error { return serveAPI(gctx, cfg, svc, log) })
	return g.Wait()
}
