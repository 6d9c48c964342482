package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTemporalGzip(t *testing.T) {
	for _, tc := range []struct {
		setting, address string
		want             bool
		wantErr          bool
	}{
		{"auto", "127.0.0.1:7233", false, false},
		{"", "localhost:7233", false, false},
		{"auto", "[::1]:7233", false, false},
		{"auto", "127.0.0.5:7233", false, false},
		{"auto", "temporal.internal:7233", true, false},
		{"auto", "10.0.0.7:7233", true, false},
		{"auto", "my-ns.a1b2c.tmprl.cloud:7233", true, false},
		{"gzip", "127.0.0.1:7233", true, false},
		{"none", "temporal.internal:7233", false, false},
		{"brotli", "127.0.0.1:7233", false, true},
	} {
		t.Run(tc.setting+" "+tc.address, func(t *testing.T) {
			got, err := TemporalGzip(tc.setting, tc.address)
			if tc.wantErr {
				require.ErrorContains(t, err, "TEMPORAL_GRPC_COMPRESSION")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestLoadRejectsUnknownCompression(t *testing.T) {
	t.Setenv("TEMPORAL_GRPC_COMPRESSION", "zstd")
	_, err := Load()
	require.ErrorContains(t, err, "TEMPORAL_GRPC_COMPRESSION must be auto, gzip or none")

	t.Setenv("TEMPORAL_GRPC_COMPRESSION", "")
	c, err := Load()
	require.NoError(t, err)
	require.Equal(t, "auto", c.TemporalCompression)
}

// TestMetricsAddrAndDrainDelay: the metrics endpoint defaults to 127.0.0.1:9090 and is configurable,
// may not share the API's address, and the drain delay defaults to none (R-OPS-1).
func TestMetricsAddrAndDrainDelay(t *testing.T) {
	t.Setenv("SIGNOFF_METRICS_ADDR", "")
	t.Setenv("SIGNOFF_HTTP_ADDR", "")
	t.Setenv("SIGNOFF_DRAIN_DELAY", "")
	c, err := Load()
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9090", c.MetricsAddr)
	require.Zero(t, c.DrainDelay)

	t.Setenv("SIGNOFF_METRICS_ADDR", "0.0.0.0:9191")
	t.Setenv("SIGNOFF_DRAIN_DELAY", "5s")
	c, err = Load()
	require.NoError(t, err)
	require.Equal(t, "0.0.0.0:9191", c.MetricsAddr)
	require.Equal(t, 5*time.Second, c.DrainDelay)

	t.Setenv("SIGNOFF_DRAIN_DELAY", "soon")
	_, err = Load()
	require.ErrorContains(t, err, "SIGNOFF_DRAIN_DELAY")
	t.Setenv("SIGNOFF_DRAIN_DELAY", "")

	t.Setenv("SIGNOFF_HTTP_ADDR", "0.0.0.0:9191")
	_, err = Load()
	require.ErrorContains(t, err, "SIGNOFF_METRICS_ADDR must differ from SIGNOFF_HTTP_ADDR")
}

// SIGNOFF_WEBHOOK_RATE paces webhook deliveries: 10 per second unless set, 0 for no limit, and a clear
// error naming the variable for anything but a non-negative number.
func TestWebhookRate(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  float64
		err   bool
	}{
		{"", 10, false},
		{"25", 25, false},
		{"0.5", 0.5, false},
		{"0", 0, false},
		{"-1", 0, true},
		{"fast", 0, true},
	} {
		t.Run(tc.value, func(t *testing.T) {
			t.Setenv("SIGNOFF_WEBHOOK_RATE", tc.value)
			c, err := Load()
			if tc.err {
				require.ErrorContains(t, err, "SIGNOFF_WEBHOOK_RATE")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, c.WebhookRate)
		})
	}
}

// TestStickyCacheSize: the worker's sticky cache defaults to the Temporal SDK's 10,000 workflows and is
// configurable by SIGNOFF_STICKY_CACHE_SIZE, a positive whole number.
func TestStickyCacheSize(t *testing.T) {
	t.Setenv("SIGNOFF_STICKY_CACHE_SIZE", "")
	c, err := Load()
	require.NoError(t, err)
	require.Equal(t, 10000, c.StickyCacheSize)
	require.Equal(t, DefaultStickyCacheSize, c.StickyCacheSize)

	t.Setenv("SIGNOFF_STICKY_CACHE_SIZE", "2500")
	c, err = Load()
	require.NoError(t, err)
	require.Equal(t, 2500, c.StickyCacheSize)

	for _, bad := range []string{"0", "-1", "lots"} {
		t.Setenv("SIGNOFF_STICKY_CACHE_SIZE", bad)
		_, err = Load()
		require.ErrorContains(t, err, "SIGNOFF_STICKY_CACHE_SIZE", bad)
	}
}
