package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/signoff/signoff/sharelink"
	"github.com/signoff/signoff/testenv"
	"github.com/signoff/signoff/workflows"
)

// buildStamped builds cmd/signoff as `make build` does, stamped with the git revision of this tree,
// and returns the binary and the revision.
func buildStamped(t *testing.T) (string, string) {
	t.Helper()
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	require.NoError(t, err, "git rev-parse HEAD")
	rev := strings.TrimSpace(string(out))
	bin := filepath.Join(t.TempDir(), "signoff")
	b, err := exec.Command("go", "build", "-ldflags", "-X main.buildRevision="+rev, "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", b)
	return bin, rev
}

// runSignoff runs the binary with args in env and answers its output and exit error.
func runSignoff(t *testing.T, bin string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestSetupAndVersionCommands: R-OPS-2, `signoff setup` against the test dev server registers a
// namespace the test names and the three Keyword search attributes; a second run changes nothing
// and succeeds. R-OPS-5, a profile file written by the `temporal` CLI serves the CLI, `signoff setup`
// and `signoff api` alike, and a certificate path that does not exist stops `signoff worker` at
// start-up with the variable's name. `signoff version` prints the revision the binary was built from.
func TestSetupAndVersionCommands(t *testing.T) {
	bin, rev := buildStamped(t)
	noFile := filepath.Join(t.TempDir(), "absent.toml")

	t.Run("setup twice", func(t *testing.T) {
		ns := testenv.NewName("signoff-setup-")
		env := testenv.ChildEnv(map[string]string{"TEMPORAL_ADDRESS": testenv.TemporalAddress(t),
			"TEMPORAL_NAMESPACE": ns, "TEMPORAL_CONFIG_FILE": noFile, "SIGNOFF_NAMESPACE_RETENTION": "48h"})
		out, err := runSignoff(t, bin, env, "setup")
		require.NoError(t, err, "%s", out)
		require.Contains(t, out, "namespace "+ns+": registered (retention 48h0m0s)")
		for _, a := range workflows.SearchAttributes() {
			require.Contains(t, out, "search attribute "+a+" (Keyword): added")
		}

		c := testenv.Temporal(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
		require.NoError(t, err)
		require.Equal(t, 48*time.Hour, desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration())
		list := func() map[string]enums.IndexedValueType {
			resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
			require.NoError(t, err)
			return resp.GetCustomAttributes()
		}
		before := list()
		for _, a := range workflows.SearchAttributes() {
			require.Equal(t, enums.INDEXED_VALUE_TYPE_KEYWORD, before[a], "%s registered as Keyword", a)
		}

		out, err = runSignoff(t, bin, env, "setup")
		require.NoError(t, err, "%s", out)
		require.Contains(t, out, "namespace "+ns+": already there")
		require.NotContains(t, out, ": added")
		require.Equal(t, before, list(), "the second run changes no search attribute")
		again, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
		require.NoError(t, err)
		require.Equal(t, desc.GetNamespaceInfo().GetId(), again.GetNamespaceInfo().GetId(), "the namespace is the same one")
	})

	t.Run("a profile the temporal CLI wrote", func(t *testing.T) {
		// R-OPS-5: the CLI writes the profile; the CLI and `signoff setup` and `signoff api` all use it.
		file := filepath.Join(t.TempDir(), "temporal.toml")
		cli := testenv.TemporalCLI(t)
		ns := testenv.NewName("signoff-profile-")
		cliEnv := testenv.ChildEnv(map[string]string{"TEMPORAL_CONFIG_FILE": file})
		for _, prop := range [][2]string{{"address", testenv.TemporalAddress(t)}, {"namespace", ns}} {
			out, err := runSignoff(t, cli, cliEnv, "config", "set", "--profile", "staging", "--prop", prop[0], "--value", prop[1])
			require.NoError(t, err, "%s", out)
		}
		env := testenv.ChildEnv(map[string]string{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "staging"})
		out, err := runSignoff(t, bin, env, "setup")
		require.NoError(t, err, "%s", out)
		require.Contains(t, out, "namespace "+ns+": registered")
		out, err = runSignoff(t, cli, env, "operator", "search-attribute", "list")
		require.NoError(t, err, "the CLI reads the same profile: %s", out)
		for _, a := range workflows.SearchAttributes() {
			require.Contains(t, out, a)
		}
		api := startAPI(t, bin, testenv.ChildEnv(map[string]string{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "staging",
			"DATABASE_URL": testenv.DatabaseURL(t), "SIGNOFF_SECRET_KEY": sharelink.NewKey(), "SIGNOFF_LOG_LEVEL": "warn"}))
		api.stop()
	})

	t.Run("broken certificate path stops start-up", func(t *testing.T) {
		certs := testenv.NewTLSFiles(t)
		for _, variable := range []string{"TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CERT"} {
			key := "TEMPORAL_TLS_CLIENT_KEY_PATH"
			if variable == "TEMPORAL_TLS_CERT" {
				key = "TEMPORAL_TLS_KEY"
			}
			env := testenv.ChildEnv(map[string]string{"TEMPORAL_ADDRESS": testenv.TemporalAddress(t), "TEMPORAL_CONFIG_FILE": noFile,
				"DATABASE_URL": testenv.DatabaseURL(t), "SIGNOFF_SECRET_KEY": sharelink.NewKey(),
				variable: "/nowhere/client.pem", key: certs.ClientKeyPath})
			out, err := runSignoff(t, bin, env, "worker")
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "signoff worker must stop; its output:\n%s", out)
			require.Equal(t, 1, exit.ExitCode())
			require.Contains(t, out, variable)
			require.Contains(t, out, "/nowhere/client.pem")
		}
	})

	t.Run("version", func(t *testing.T) {
		out, err := runSignoff(t, bin, os.Environ(), "version")
		require.NoError(t, err, "%s", out)
		require.Contains(t, out, "revision "+rev+"\n")
		require.Contains(t, out, runtime.Version())
	})
}

// TestVersionFromGoBuildInfo: without a stamped revision, `signoff version` reports what Go's own
// VCS stamping recorded (a build in a plain git checkout), and says when the tree was modified.
func TestVersionFromGoBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/signoff/signoff", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"}}}
	got := versionText(bi, "")
	require.Contains(t, got, "signoff v1.4.0\n")
	require.Contains(t, got, "revision 0123abcd+dirty\n")
	require.Contains(t, got, "commit time 2026-12-01T10:00:00Z\n")
	require.Contains(t, got, "go1.26.8 ")
	require.Contains(t, versionText(bi, "feedbeef"), "revision feedbeef\n", "the revision make build stamps wins")
	require.Contains(t, versionText(nil, ""), "revision unknown")
}
