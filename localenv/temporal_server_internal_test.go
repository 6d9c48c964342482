package localenv

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The server's configuration carries the shards, the socket and eight distinct ports from the base.
func TestServerConfigRendersPortsShardsAndSocket(t *testing.T) {
	var b strings.Builder
	require.NoError(t, serverConfig.Execute(&b, map[string]any{"Host": "127.0.0.1", "Port": 21000,
		"Ports": []int{21000, 21001, 21002, 21003, 21004, 21005, 21006, 21007}, "Shards": 16,
		"Socket": "/tmp/pg run", "User": "postgres", "Dynamic": "/tmp/dc.yaml"}))
	out := b.String()
	require.Contains(t, out, "numHistoryShards: 16")
	require.Contains(t, out, `host: "/tmp/pg run"`)
	require.Contains(t, out, `rpcAddress: "127.0.0.1:21000"`)
	require.Contains(t, out, `filepath: "/tmp/dc.yaml"`)
	for _, p := range []string{"grpcPort: 21000, membershipPort: 21001", "grpcPort: 21002, membershipPort: 21003",
		"grpcPort: 21004, membershipPort: 21005", "grpcPort: 21006, membershipPort: 21007"} {
		require.Contains(t, out, p)
	}
	require.NotContains(t, out, "<no value>")
}
