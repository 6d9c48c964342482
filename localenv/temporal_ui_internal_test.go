package localenv

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"
)

// The Web UI's configuration is YAML naming the frontend, the UI's own address and namespace, with
// the UI on: what the CLI's dev server gives its embedded UI.
func TestUIConfigRendersAddresses(t *testing.T) {
	var b strings.Builder
	require.NoError(t, uiConfig.Execute(&b, map[string]any{"Host": "127.0.0.1", "Port": 28233, "Temporal": "127.0.0.1:27233", "Namespace": "default"}))
	var cfg struct {
		Temporal  string `yaml:"temporalGrpcAddress"`
		Host      string `yaml:"host"`
		Port      int    `yaml:"port"`
		EnableUI  bool   `yaml:"enableUi"`
		Namespace string `yaml:"defaultNamespace"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(b.String()), &cfg), b.String())
	require.Equal(t, "127.0.0.1:27233", cfg.Temporal)
	require.Equal(t, "127.0.0.1", cfg.Host)
	require.Equal(t, 28233, cfg.Port)
	require.True(t, cfg.EnableUI)
	require.Equal(t, "default", cfg.Namespace)
}

// StartTemporalUI refuses a missing binary and a bad address before starting anything.
func TestStartTemporalUIRefusesBadOptions(t *testing.T) {
	ctx := context.Background()
	_, err := StartTemporalUI(ctx, TemporalUIOptions{Bin: "/nonexistent/temporal-ui-server", Dir: t.TempDir(), Address: "127.0.0.1:1", TemporalAddress: "127.0.0.1:2"}, zap.NewNop())
	require.ErrorContains(t, err, "make bin/temporal-ui-server")
	_, err = StartTemporalUI(ctx, TemporalUIOptions{Bin: "/bin/true", Dir: t.TempDir(), Address: "no-port"}, zap.NewNop())
	require.ErrorContains(t, err, "no-port")
}
