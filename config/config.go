// Package config reads Signoff's configuration from environment variables.
// Every variable is documented here, where it is read, and in the README.
package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
)

// Config is the process configuration shared by every subcommand.
type Config struct {
	// DatabaseURL (DATABASE_URL) is the Postgres connection string. When empty,
	// `signoff dev` starts a throwaway cluster under DataDir.
	DatabaseURL string
	// Temporal is the Temporal connection, configured the way Temporal's own tools are: the profile
	// file of the `temporal` CLI and the TEMPORAL_* variables (see LoadTemporal and README).
	Temporal Temporal
	// TemporalAddress is Temporal.Profile.Address (TEMPORAL_ADDRESS or the profile's address,
	// default 127.0.0.1:7233): the Temporal frontend.
	TemporalAddress string
	// TemporalNamespace is Temporal.Profile.Namespace (TEMPORAL_NAMESPACE or the profile's
	// namespace, default "default"): the namespace every workflow runs in.
	TemporalNamespace string
	// TemporalCompression (TEMPORAL_GRPC_COMPRESSION: auto, gzip or none; default auto) says whether
	// gRPC requests to Temporal are gzip-compressed; see TemporalGzip. It is Signoff's own setting.
	TemporalCompression string
	// NamespaceRetention (SIGNOFF_NAMESPACE_RETENTION, default 720h) is how long Temporal keeps the
	// history of a closed workflow in a namespace that `signoff setup` registers.
	NamespaceRetention time.Duration
	// TaskQueue (SIGNOFF_TASK_QUEUE, default "signoff") is the task queue the worker polls.
	TaskQueue string
	// HTTPAddr (SIGNOFF_HTTP_ADDR, default 127.0.0.1:8080) is where the API listens.
	HTTPAddr string
	// MetricsAddr (SIGNOFF_METRICS_ADDR, default 127.0.0.1:9090) is where `signoff api`, `signoff worker`
	// and `signoff dev` serve /metrics, /healthz and /readyz (R-OPS-1). Processes on one machine each
	// need their own; port 0 picks a free one, which the process logs.
	MetricsAddr string
	// DrainDelay (SIGNOFF_DRAIN_DELAY, default 0s) is how long a process keeps serving after SIGTERM
	// while its /readyz answers 503, so a load balancer stops sending it work before it stops.
	DrainDelay time.Duration
	// PublicURL (SIGNOFF_PUBLIC_URL, default "http://" + HTTPAddr) prefixes share links and the
	// decision links of approver emails.
	PublicURL string
	// TrustedProxies (SIGNOFF_TRUSTED_PROXIES, comma-separated CIDRs or addresses, default none) are
	// the load balancers in front of the API: a request whose connection comes from one of them is
	// from the client its X-Forwarded-For names, for the per-address rate limits. Without it the
	// connection's peer is the client and X-Forwarded-For is never read.
	TrustedProxies []string
	// BootstrapToken (SIGNOFF_BOOTSTRAP_TOKEN) makes sure account "default" has an admin with this token.
	BootstrapToken string
	// OperatorToken (SIGNOFF_OPERATOR_TOKEN) enables POST /v1/operator/accounts for this bearer token.
	OperatorToken string
	// DataDir (SIGNOFF_DATA_DIR, default ".data") holds the local Postgres cluster, the Temporal
	// SQLite file and the dev credentials of `signoff dev`.
	DataDir string
	// TemporalCLI (SIGNOFF_TEMPORAL_CLI, default "bin/temporal") is the pinned Temporal CLI that
	// `signoff dev` starts when nothing answers at TemporalAddress.
	TemporalCLI string
	// LogFormat (SIGNOFF_LOG_FORMAT, "json" or "console", default "json") selects the zap encoder.
	LogFormat string
	// LogLevel (SIGNOFF_LOG_LEVEL, default "info") is the minimum zap level.
	LogLevel string
	// ShutdownTimeout (SIGNOFF_SHUTDOWN_TIMEOUT, default 20s) bounds graceful shutdown.
	ShutdownTimeout time.Duration
	// ImmediateApprovalWindow (SIGNOFF_IMMEDIATE_APPROVAL_WINDOW, default 2h) is how long a request for
	// a campaign that starts now stays open (R-APPR-6).
	ImmediateApprovalWindow time.Duration
	// SweepInterval (SIGNOFF_SWEEP_INTERVAL, default 30s) is how often the worker repairs what a crash
	// between a database commit and a Temporal call left behind.
	SweepInterval time.Duration
	// SendGridAPIKey (SENDGRID_API_KEY) sends email through SendGrid; empty keeps email in the outbox table.
	SendGridAPIKey string
	// SendGridHost (SENDGRID_API_HOST, default https://api.sendgrid.com) is the SendGrid API host.
	SendGridHost string
	// MailFrom (SIGNOFF_MAIL_FROM, default signoff@localhost) is the sender of every email.
	MailFrom string
	// SecretKey (SIGNOFF_SECRET_KEY) is the 32-byte key, base64 or hex, that seals share tokens at rest.
	// `signoff dev` generates one under the data directory.
	SecretKey string
	// BuildCapacity (SIGNOFF_BUILD_CAPACITY, default 10) is how many drafts one account may build at once.
	BuildCapacity int
	// StickyCacheSize (SIGNOFF_STICKY_CACHE_SIZE, default 10000, the Temporal SDK's own default) is how many
	// workflows a worker process keeps in memory between their tasks; it bounds the worker's memory.
	StickyCacheSize int
	// CSVMaxBytes (SIGNOFF_CSV_MAX_BYTES, default 1048576) bounds CSV uploads.
	CSVMaxBytes int
	// AIBaseURL (SIGNOFF_AI_BASE_URL) is an OpenAI-compatible chat-completions API, such as
	// https://api.openai.com/v1 or http://localhost:11434/v1 (Ollama); empty disables the "openai" provider.
	AIBaseURL string
	// AIAPIKey (SIGNOFF_AI_API_KEY) is the bearer key of that API.
	AIAPIKey string
	// AILocalDelay (SIGNOFF_AI_LOCAL_DELAY, default 0) slows each step of the local provider, to
	// simulate a real model in load and crash tests.
	AILocalDelay time.Duration
	// WebhookAllowPrivate (SIGNOFF_WEBHOOK_ALLOW_PRIVATE, default false; `signoff dev` defaults it to
	// true) lets webhook endpoints use http and reach loopback, private and link-local addresses
	// (R-HOOK-5). Leave it off in production: it opens the deliveries to the internal network.
	WebhookAllowPrivate bool
	// WebhookRate (SIGNOFF_WEBHOOK_RATE, default 10) is how many webhook deliveries per second the
	// workers attempt, all together: a burst of events drains at this pace on a task queue of its own
	// instead of taking the CPU that decisions need. 0 means unlimited.
	WebhookRate float64
}

// DefaultStickyCacheSize is the default of SIGNOFF_STICKY_CACHE_SIZE, the Temporal SDK's own default.
const DefaultStickyCacheSize = 10000

// Load reads the configuration from the environment and applies defaults.
func Load() (Config, error) {
	c := Config{
		DatabaseURL:         os.Getenv("DATABASE_URL"),
		TemporalCompression: env("TEMPORAL_GRPC_COMPRESSION", "auto"),
		TaskQueue:           env("SIGNOFF_TASK_QUEUE", "signoff"),
		HTTPAddr:            env("SIGNOFF_HTTP_ADDR", "127.0.0.1:8080"),
		MetricsAddr:         env("SIGNOFF_METRICS_ADDR", "127.0.0.1:9090"),
		BootstrapToken:      os.Getenv("SIGNOFF_BOOTSTRAP_TOKEN"),
		OperatorToken:       os.Getenv("SIGNOFF_OPERATOR_TOKEN"),
		DataDir:             env("SIGNOFF_DATA_DIR", ".data"),
		TemporalCLI:         env("SIGNOFF_TEMPORAL_CLI", filepath.Join("bin", "temporal")),
		LogFormat:           env("SIGNOFF_LOG_FORMAT", "json"),
		LogLevel:            env("SIGNOFF_LOG_LEVEL", "info"),
	}
	c.PublicURL = strings.TrimRight(env("SIGNOFF_PUBLIC_URL", "http://"+c.HTTPAddr), "/")
	var err error
	if c.Temporal, err = LoadTemporal(envconfig.EnvLookupOS); err != nil {
		return Config{}, err
	}
	c.TemporalAddress, c.TemporalNamespace = c.Temporal.Profile.Address, c.Temporal.Profile.Namespace
	if c.ShutdownTimeout, err = duration("SIGNOFF_SHUTDOWN_TIMEOUT", 20*time.Second); err != nil {
		return Config{}, err
	}
	if c.ImmediateApprovalWindow, err = duration("SIGNOFF_IMMEDIATE_APPROVAL_WINDOW", 2*time.Hour); err != nil {
		return Config{}, err
	}
	if c.NamespaceRetention, err = duration("SIGNOFF_NAMESPACE_RETENTION", 30*24*time.Hour); err != nil {
		return Config{}, err
	}
	if c.SweepInterval, err = duration("SIGNOFF_SWEEP_INTERVAL", 30*time.Second); err != nil {
		return Config{}, err
	}
	if v := strings.TrimSpace(os.Getenv("SIGNOFF_DRAIN_DELAY")); v != "" {
		if c.DrainDelay, err = time.ParseDuration(v); err != nil || c.DrainDelay < 0 {
			return Config{}, fmt.Errorf("config: SIGNOFF_DRAIN_DELAY must be a duration such as 5s or 0s, not %q", v)
		}
	}
	if c.MetricsAddr == c.HTTPAddr && !strings.HasSuffix(c.HTTPAddr, ":0") {
		return Config{}, fmt.Errorf("config: SIGNOFF_METRICS_ADDR must differ from SIGNOFF_HTTP_ADDR (both %s)", c.HTTPAddr)
	}
	if c.TrustedProxies, err = trustedProxies(os.Getenv("SIGNOFF_TRUSTED_PROXIES")); err != nil {
		return Config{}, err
	}
	c.SecretKey = os.Getenv("SIGNOFF_SECRET_KEY")
	c.AIBaseURL = os.Getenv("SIGNOFF_AI_BASE_URL")
	c.AIAPIKey = os.Getenv("SIGNOFF_AI_API_KEY")
	if c.BuildCapacity, err = Int("SIGNOFF_BUILD_CAPACITY", 10); err != nil {
		return Config{}, err
	}
	if c.StickyCacheSize, err = Int("SIGNOFF_STICKY_CACHE_SIZE", DefaultStickyCacheSize); err != nil {
		return Config{}, err
	}
	if c.CSVMaxBytes, err = Int("SIGNOFF_CSV_MAX_BYTES", 1<<20); err != nil {
		return Config{}, err
	}
	if v := os.Getenv("SIGNOFF_AI_LOCAL_DELAY"); v != "" {
		if c.AILocalDelay, err = time.ParseDuration(v); err != nil || c.AILocalDelay < 0 {
			return Config{}, fmt.Errorf("config: SIGNOFF_AI_LOCAL_DELAY must be a duration such as 50ms, not %q", v)
		}
	}
	if v := os.Getenv("SIGNOFF_WEBHOOK_ALLOW_PRIVATE"); v != "" {
		if c.WebhookAllowPrivate, err = strconv.ParseBool(v); err != nil {
			return Config{}, fmt.Errorf("config: SIGNOFF_WEBHOOK_ALLOW_PRIVATE must be true or false, not %q", v)
		}
	}
	c.WebhookRate = 10
	if v := strings.TrimSpace(os.Getenv("SIGNOFF_WEBHOOK_RATE")); v != "" {
		if c.WebhookRate, err = strconv.ParseFloat(v, 64); err != nil || c.WebhookRate < 0 {
			return Config{}, fmt.Errorf("config: SIGNOFF_WEBHOOK_RATE must be deliveries per second such as 10 (0: unlimited), not %q", v)
		}
	}
	c.SendGridAPIKey = os.Getenv("SENDGRID_API_KEY")
	c.SendGridHost = env("SENDGRID_API_HOST", "https://api.sendgrid.com")
	c.MailFrom = env("SIGNOFF_MAIL_FROM", "signoff@localhost")
	if c.BootstrapToken != "" && len(c.BootstrapToken) < 32 {
		return Config{}, fmt.Errorf("config: SIGNOFF_BOOTSTRAP_TOKEN must be at least 32 characters")
	}
	if c.OperatorToken != "" && len(c.OperatorToken) < 32 {
		return Config{}, fmt.Errorf("config: SIGNOFF_OPERATOR_TOKEN must be at least 32 characters")
	}
	if _, err := TemporalGzip(c.TemporalCompression, c.TemporalAddress); err != nil {
		return Config{}, err
	}
	if c.LogFormat != "json" && c.LogFormat != "console" {
		return Config{}, fmt.Errorf("config: SIGNOFF_LOG_FORMAT must be json or console, not %q", c.LogFormat)
	}
	return c, nil
}

// TemporalGzip reports whether gRPC requests to the Temporal frontend at address are gzip-compressed
// under setting: "gzip", "none", or "auto" (also the empty string), which compresses only across a
// network. On a loopback address compression saves no bandwidth and costs CPU at both ends: it was
// a sixth of the worker's CPU in the decision benchmark (BENCHMARKS.md).
func TemporalGzip(setting, address string) (bool, error) {
	switch setting {
	case "gzip":
		return true, nil
	case "none":
		return false, nil
	case "auto", "":
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			host = address
		}
		if host == "localhost" {
			return false, nil
		}
		ip := net.ParseIP(host)
		return ip == nil || !ip.IsLoopback(), nil
	}
	return false, fmt.Errorf("config: TEMPORAL_GRPC_COMPRESSION must be auto, gzip or none, not %q", setting)
}

// TemporalCompressionOption is TemporalGzip as the Temporal client's connection option: nil keeps
// the SDK's default gzip, GrpcCompressionNone turns it off.
func TemporalCompressionOption(setting, address string) (client.GrpcCompression, error) {
	gzip, err := TemporalGzip(setting, address)
	if err != nil || gzip {
		return nil, err
	}
	return &client.GrpcCompressionNone{}, nil
}

// trustedProxies parses SIGNOFF_TRUSTED_PROXIES: CIDRs (10.0.0.0/8) or single addresses, separated
// by commas. A range holding every address is refused: it would let any client name its own address.
func trustedProxies(v string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if strings.Contains(p, "/") {
			_, n, err := net.ParseCIDR(p)
			if err != nil {
				return nil, fmt.Errorf("config: SIGNOFF_TRUSTED_PROXIES: %q is not a CIDR such as 10.0.0.0/8", p)
			}
			if ones, _ := n.Mask.Size(); ones == 0 {
				return nil, fmt.Errorf("config: SIGNOFF_TRUSTED_PROXIES: %q trusts every address; name the load balancers' own range", p)
			}
		} else if net.ParseIP(p) == nil {
			return nil, fmt.Errorf("config: SIGNOFF_TRUSTED_PROXIES: %q is not an IP address or CIDR", p)
		}
		out = append(out, p)
	}
	return out, nil
}

func env(key, def string) string {
	if v := strings.TrimSpace(os.Getenv(key)); v != "" {
		return v
	}
	return def
}

func duration(key string, def time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(os.Getenv(key))
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("config: %s must be a positive duration such as 2h or 90s, not %q", key, v)
	}
	return d, nil
}

// Int reads a positive integer variable, for settings that later packages add.
func Int(key string, def int) (int, error) {
	v := strings.TrimSpace(os.Getenv(key))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("config: %s must be a positive whole number, not %q", key, v)
	}
	return n, nil
}
