// Package metrics is what a Signoff process tells Prometheus (R-OPS-1): the Temporal SDK's metrics,
// the API's requests, Go's runtime, and Signoff's own counters, served with /healthz and /readyz on
// the process's metrics address. Every method works on a nil *Metrics and does nothing, so code and
// tests that run without metrics need no check.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/otlptranslator"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
)

// Names of Signoff's own metrics, as Prometheus shows them.
const (
	HTTPRequestsTotal       = "signoff_http_requests_total"
	HTTPRequestSeconds      = "signoff_http_request_duration_seconds"
	ApprovalRequestsPending = "signoff_approval_requests_pending"
	DecisionsTotal          = "signoff_decisions_total"
	DraftBuildsTotal        = "signoff_draft_builds_total"
	DraftBuildSeconds       = "signoff_draft_build_seconds"
	WebhookDeliveriesTotal  = "signoff_webhook_deliveries_total"
)

// DecisionTypes are the type label values of signoff_decisions_total: the decision event types of
// storage (storage.EventApproved and the others).
var DecisionTypes = []string{"approved", "rejected", "cancelled", "timed_out", "approver_expired", "auto_approved"}

// Outcomes of a draft build (the outcome label of signoff_draft_builds_total).
const (
	DraftReady  = "ready"
	DraftFailed = "failed"
)

// Outcomes of a webhook delivery (the outcome label of signoff_webhook_deliveries_total).
const (
	WebhookDelivered = "delivered"
	WebhookFailed    = "failed"
	WebhookRetried   = "retried"
)

// secondsBuckets are the histogram buckets of every latency in seconds, the Temporal SDK's included:
// from 5 ms (a decision's database write) to 10 minutes (a large draft build).
var secondsBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

// Metrics is one process's registry and the metrics Signoff itself records.
type Metrics struct {
	// Registry holds every metric the process exports; Handler serves it.
	Registry *prometheus.Registry

	httpRequests      *prometheus.CounterVec
	httpSeconds       *prometheus.HistogramVec
	decisions         *prometheus.CounterVec
	draftBuilds       *prometheus.CounterVec
	draftBuildSeconds prometheus.Histogram
	webhooks          *prometheus.CounterVec
	temporal          client.MetricsHandler
	provider          *sdkmetric.MeterProvider
	draining          atomic.Bool
}

// New makes a registry with Go's runtime and process metrics, Signoff's metrics and the Temporal SDK's
// (through OpenTelemetry's Prometheus exporter). onError receives the errors the SDK's metrics meet;
// nil drops them.
func New(onError func(error)) (*Metrics, error) {
	reg := prometheus.NewRegistry()
	m := &Metrics{Registry: reg,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: HTTPRequestsTotal,
			Help: "HTTP requests answered by the API, by route template, method and status."}, []string{"route", "method", "status"}),
		httpSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: HTTPRequestSeconds,
			Help:    "Time the API took to answer a request, by route template, method and status.",
			Buckets: secondsBuckets}, []string{"route", "method", "status"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: DecisionsTotal,
			Help: "Decisions recorded on approval requests, by type (approved, rejected, cancelled, timed_out, approver_expired, auto_approved)."},
			[]string{"type"}),
		draftBuilds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: DraftBuildsTotal,
			Help: "Approval draft builds that ended, by outcome (ready or failed)."}, []string{"outcome"}),
		draftBuildSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: DraftBuildSeconds,
			Help:    "Time from a draft's creation until its build was ready to review.",
			Buckets: secondsBuckets}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: WebhookDeliveriesTotal,
			Help: "Webhook delivery attempts, by outcome (delivered, failed, retried)."}, []string{"outcome"}),
	}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpSeconds, m.decisions, m.draftBuilds, m.draftBuildSeconds, m.webhooks,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	// The known label values start at zero, so rate() and increase() see the first event.
	for _, t := range DecisionTypes {
		m.decisions.WithLabelValues(t)
	}
	for _, o := range []string{DraftReady, DraftFailed} {
		m.draftBuilds.WithLabelValues(o)
	}
	for _, o := range []string{WebhookDelivered, WebhookFailed, WebhookRetried} {
		m.webhooks.WithLabelValues(o)
	}
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo(),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes))
	if err != nil {
		return nil, fmt.Errorf("metrics: temporal exporter: %w", err)
	}
	m.provider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithView(sdkmetric.NewView(
		sdkmetric.Instrument{Kind: sdkmetric.InstrumentKindHistogram, Unit: "s"},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: secondsBuckets}})))
	if onError == nil {
		onError = func(error) {}
	}
	m.temporal = temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter: m.provider.Meter("temporal-sdk-go"), OnError: onError, UseMonotonicCounters: true})
	return m, nil
}

// TemporalHandler is the metrics handler of the process's Temporal client (client.Options.MetricsHandler);
// its metrics are named temporal_*. A nil Metrics answers the SDK's no-op handler.
func (m *Metrics) TemporalHandler() client.MetricsHandler {
	if m == nil {
		return client.MetricsNopHandler
	}
	return m.temporal
}

// ObserveHTTP records one answered request under its route template (never the raw path, which holds
// ids and share tokens), method and status.
func (m *Metrics) ObserveHTTP(route, method string, status int, took time.Duration) {
	if m == nil {
		return
	}
	code := strconv.Itoa(status)
	m.httpRequests.WithLabelValues(route, method, code).Inc()
	m.httpSeconds.WithLabelValues(route, method, code).Observe(took.Seconds())
}

// DecisionRecorded counts a decision of decisionType the database has just recorded; call it only
// where the write changed the request, so a retried step counts nothing.
func (m *Metrics) DecisionRecorded(decisionType string) {
	if m == nil {
		return
	}
	m.decisions.WithLabelValues(decisionType).Inc()
}

// DraftBuilt counts a draft build that ended with outcome (DraftReady or DraftFailed); a ready build
// also observes took, the time since the draft was asked for.
func (m *Metrics) DraftBuilt(outcome string, took time.Duration) {
	if m == nil {
		return
	}
	m.draftBuilds.WithLabelValues(outcome).Inc()
	if outcome == DraftReady {
		m.draftBuildSeconds.Observe(took.Seconds())
	}
}

// WebhookDelivery counts one webhook delivery attempt with outcome (WebhookDelivered, WebhookFailed or
// WebhookRetried).
func (m *Metrics) WebhookDelivery(outcome string) {
	if m == nil {
		return
	}
	m.webhooks.WithLabelValues(outcome).Inc()
}

// SetDraining marks the process as stopping: /readyz answers 503 from now on.
func (m *Metrics) SetDraining() {
	if m != nil {
		m.draining.Store(true)
	}
}

// Draining reports whether SetDraining was called.
func (m *Metrics) Draining() bool { return m != nil && m.draining.Load() }

// Close flushes and stops the Temporal SDK's meter provider.
func (m *Metrics) Close(ctx context.Context) error {
	if m == nil {
		return nil
	}
	return m.provider.Shutdown(ctx)
}

// RegisterPending exports signoff_approval_requests_pending, the number of pending approval requests
// of every account as count reads it from the database. The count is read at scrape time and reused
// for maxAge, so a burst of scrapes costs one query; every process reports the same database-wide
// number (aggregate it with max, not sum).
func (m *Metrics) RegisterPending(count func(context.Context) (int64, error), maxAge time.Duration) error {
	if m == nil {
		return nil
	}
	return m.Registry.Register(&pendingCollector{count: count, maxAge: maxAge,
		desc: prometheus.NewDesc(ApprovalRequestsPending, "Approval requests waiting for a decision, in every account (read from Postgres at scrape time).", nil, nil)})
}

// pendingCollector answers the pending count from a query cached for maxAge.
type pendingCollector struct {
	count  func(context.Context) (int64, error)
	maxAge time.Duration
	desc   *prometheus.Desc

	mu    sync.Mutex
	value int64
	at    time.Time
}

func (p *pendingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- p.desc }

// Collect queries the count when the cached one is older than maxAge; a failed query exports an
// invalid metric (the scrape reports the error) rather than a stale or zero count.
func (p *pendingCollector) Collect(ch chan<- prometheus.Metric) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.at.IsZero() || time.Since(p.at) > p.maxAge {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		n, err := p.count(ctx)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(p.desc, errors.Join(errors.New("metrics: count pending requests"), err))
			return
		}
		p.value, p.at = n, time.Now()
	}
	ch <- prometheus.MustNewConstMetric(p.desc, prometheus.GaugeValue, float64(p.value))
}
