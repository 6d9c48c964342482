package temporalclient_test

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/signoff/signoff/config"
	"github.com/signoff/signoff/temporalclient"
	"github.com/signoff/signoff/testenv"
)

// frontend is a stand-in Temporal frontend that answers GetSystemInfo (what a client's Dial calls)
// and records the authorization header and the client certificate's name of each call.
type frontend struct {
	workflowservice.UnimplementedWorkflowServiceServer
	mu         sync.Mutex
	auth       []string
	clientName []string
	// deny answers every call Unauthenticated, as a frontend does to a wrong API key.
	deny bool
}

func (f *frontend) GetSystemInfo(ctx context.Context, _ *workflowservice.GetSystemInfoRequest) (*workflowservice.GetSystemInfoResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	name := ""
	if p, ok := peer.FromContext(ctx); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
			name = ti.State.PeerCertificates[0].Subject.CommonName
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auth = append(f.auth, md.Get("authorization")...)
	f.clientName = append(f.clientName, name)
	if f.deny {
		return nil, status.Error(codes.Unauthenticated, "invalid API key")
	}
	return &workflowservice.GetSystemInfoResponse{}, nil
}

// startFrontend serves a frontend on a free loopback port, with TLS when tc is not nil.
func startFrontend(t *testing.T, tc *tls.Config) (*frontend, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var opts []grpc.ServerOption
	if tc != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tc)))
	}
	srv := grpc.NewServer(opts...)
	f := &frontend{}
	workflowservice.RegisterWorkflowServiceServer(srv, f)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return f, ln.Addr().String()
}

// dial connects as a Signoff process whose environment is env would, without retrying.
func dial(t *testing.T, env config.EnvMap, log *zap.Logger) (client.Client, error) {
	t.Helper()
	tc, err := config.LoadTemporal(env)
	require.NoError(t, err)
	cfg := config.Config{Temporal: tc, TemporalAddress: tc.Profile.Address, TemporalNamespace: tc.Profile.Namespace}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := temporalclient.Dial(ctx, cfg, log, temporalclient.Extras{}, 0)
	if err == nil {
		t.Cleanup(c.Close)
	}
	return c, err
}

func profileFile(t *testing.T, toml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "temporal.toml")
	require.NoError(t, os.WriteFile(path, []byte(toml), 0o600))
	return path
}

// TestAPIKeyIsSentAsCredentials: R-OPS-5, TEMPORAL_API_KEY (or a profile's api_key) reaches the
// frontend as the bearer token of every call, as Temporal Cloud expects. TLS is turned off here
// (TEMPORAL_TLS=false) only because the stand-in frontend speaks plain gRPC.
func TestAPIKeyIsSentAsCredentials(t *testing.T) {
	f, addr := startFrontend(t, nil)
	noFile := filepath.Join(t.TempDir(), "absent.toml")
	_, err := dial(t, config.EnvMap{"TEMPORAL_CONFIG_FILE": noFile, "TEMPORAL_ADDRESS": addr,
		"TEMPORAL_API_KEY": "env-key-123", "TEMPORAL_TLS": "false"}, zap.NewNop())
	require.NoError(t, err)
	file := profileFile(t, "[profile.cloud]\naddress = \""+addr+"\"\napi_key = \"file-key-456\"\n[profile.cloud.tls]\ndisabled = true\n")
	_, err = dial(t, config.EnvMap{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "cloud"}, zap.NewNop())
	require.NoError(t, err)
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Equal(t, []string{"Bearer env-key-123", "Bearer file-key-456"}, f.auth)
}

// TestMutualTLS: R-OPS-5, a frontend that requires a client certificate signed by its CA accepts
// Signoff's client whether the certificates come as paths or as PEM data, from the standard
// variables, the older ones or a profile file; without a client certificate it is refused.
func TestMutualTLS(t *testing.T) {
	certs := testenv.NewTLSFiles(t)
	f, addr := startFrontend(t, certs.ServerConfig(t))
	noFile := filepath.Join(t.TempDir(), "absent.toml")
	file := profileFile(t, `
[profile.mtls]
address = "`+addr+`"
[profile.mtls.tls]
client_cert_path = "`+certs.ClientCertPath+`"
client_key_path = "`+certs.ClientKeyPath+`"
server_ca_cert_path = "`+certs.CAPath+`"
server_name = "temporal.test"
`)
	for _, tc := range []struct {
		name string
		env  config.EnvMap
	}{
		{"paths in the environment", config.EnvMap{"TEMPORAL_TLS_CLIENT_CERT_PATH": certs.ClientCertPath,
			"TEMPORAL_TLS_CLIENT_KEY_PATH": certs.ClientKeyPath, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": certs.CAPath}},
		{"data in the environment", config.EnvMap{"TEMPORAL_TLS_CLIENT_CERT_DATA": string(certs.ClientCertPEM),
			"TEMPORAL_TLS_CLIENT_KEY_DATA": string(certs.ClientKeyPEM), "TEMPORAL_TLS_SERVER_CA_CERT_DATA": string(certs.CAPEM)}},
		{"older names", config.EnvMap{"TEMPORAL_TLS_CERT": certs.ClientCertPath, "TEMPORAL_TLS_KEY": certs.ClientKeyPath,
			"TEMPORAL_TLS_CA": certs.CAPath}},
		{"profile file", config.EnvMap{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "mtls"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env["TEMPORAL_CONFIG_FILE"] == "" {
				tc.env["TEMPORAL_CONFIG_FILE"] = noFile
				tc.env["TEMPORAL_ADDRESS"] = addr
				tc.env["TEMPORAL_TLS_SERVER_NAME"] = "temporal.test"
			}
			_, err := dial(t, tc.env, zap.NewNop())
			require.NoError(t, err)
		})
	}
	f.mu.Lock()
	require.Equal(t, []string{certs.ClientName, certs.ClientName, certs.ClientName, certs.ClientName}, f.clientName)
	f.mu.Unlock()

	_, err := dial(t, config.EnvMap{"TEMPORAL_CONFIG_FILE": noFile, "TEMPORAL_ADDRESS": addr,
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH": certs.CAPath, "TEMPORAL_TLS_SERVER_NAME": "temporal.test"}, zap.NewNop())
	require.Error(t, err, "no client certificate: the frontend refuses the handshake")
}

// TestOlderNamesLogAWarning: a process reading TEMPORAL_TLS_CERT, _KEY or _CA says so in its log,
// with the standard name to use instead.
func TestOlderNamesLogAWarning(t *testing.T) {
	certs := testenv.NewTLSFiles(t)
	tc, err := config.LoadTemporal(config.EnvMap{"TEMPORAL_CONFIG_FILE": filepath.Join(t.TempDir(), "absent.toml"),
		"TEMPORAL_TLS_CERT": certs.ClientCertPath, "TEMPORAL_TLS_KEY": certs.ClientKeyPath})
	require.NoError(t, err)
	core, logs := observer.New(zapcore.WarnLevel)
	_, err = temporalclient.Options(config.Config{Temporal: tc, TemporalAddress: tc.Profile.Address}, zap.New(core), temporalclient.Extras{})
	require.NoError(t, err)
	got := map[string]string{}
	for _, e := range logs.All() {
		got[e.ContextMap()["variable"].(string)] = e.ContextMap()["standard_name"].(string)
	}
	require.Equal(t, map[string]string{"TEMPORAL_TLS_CERT": "TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_KEY": "TEMPORAL_TLS_CLIENT_KEY_PATH"}, got)
}

// TestProfileFileAgainstTheDevServer: R-OPS-5, a client built from a profile file the test writes
// (the format of the `temporal` CLI) connects to the test dev server and starts a workflow there.
func TestProfileFileAgainstTheDevServer(t *testing.T) {
	file := profileFile(t, "[profile.default]\naddress = \"127.0.0.1:1\"\n\n[profile.signoff-test]\naddress = \""+
		testenv.TemporalAddress(t)+"\"\nnamespace = \"default\"\n")
	c, err := dial(t, config.EnvMap{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "signoff-test"}, testenv.Logger(t))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id := testenv.NewName("profile-file-")
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: testenv.TaskQueue(t)}, "NobodyRunsThis")
	require.NoError(t, err)
	defer func() { _ = c.TerminateWorkflow(context.Background(), id, run.GetRunID(), "test done") }()
	desc, err := c.DescribeWorkflowExecution(ctx, id, run.GetRunID())
	require.NoError(t, err)
	require.Equal(t, "NobodyRunsThis", desc.GetWorkflowExecutionInfo().GetType().GetName())
}

// TestRefusedCredentialsFailAtOnce: a frontend that refuses the API key is not retried for the
// minute a process waits for Temporal to come up; the error says what the frontend answered.
func TestRefusedCredentialsFailAtOnce(t *testing.T) {
	f, addr := startFrontend(t, nil)
	f.deny = true
	tc, err := config.LoadTemporal(config.EnvMap{"TEMPORAL_CONFIG_FILE": os.DevNull, "TEMPORAL_ADDRESS": addr,
		"TEMPORAL_API_KEY": "wrong", "TEMPORAL_TLS": "false"})
	require.NoError(t, err)
	start := time.Now()
	_, err = temporalclient.Dial(context.Background(), config.Config{Temporal: tc, TemporalAddress: addr, TemporalNamespace: "default"},
		zap.NewNop(), temporalclient.Extras{}, time.Minute)
	require.ErrorContains(t, err, "invalid API key")
	require.Less(t, time.Since(start), 10*time.Second, "no retry of refused credentials")
}

// TestSetupRefusesAnAttributeOfAnotherType: R-OPS-2, Setup adds only the missing attributes, and an
// attribute that exists with another type than Keyword is an error naming it, not a silent success.
func TestSetupRefusesAnAttributeOfAnotherType(t *testing.T) {
	c := testenv.Temporal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := testenv.NewName("signoff-types-")
	res, err := temporalclient.Setup(ctx, c, ns, 24*time.Hour, []string{"SignoffTestA"})
	require.NoError(t, err)
	require.Equal(t, temporalclient.SetupResult{NamespaceRegistered: true, AttributesAdded: []string{"SignoffTestA"}}, res)

	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: ns,
		SearchAttributes: map[string]enums.IndexedValueType{"SignoffTestB": enums.INDEXED_VALUE_TYPE_INT}})
	require.NoError(t, err)
	res, err = temporalclient.Setup(ctx, c, ns, 24*time.Hour, []string{"SignoffTestA", "SignoffTestC"})
	require.NoError(t, err)
	require.Equal(t, temporalclient.SetupResult{AttributesAdded: []string{"SignoffTestC"}}, res, "only the missing one is added")
	_, err = temporalclient.Setup(ctx, c, ns, 24*time.Hour, []string{"SignoffTestA", "SignoffTestB"})
	require.ErrorContains(t, err, "search attribute SignoffTestB of namespace "+ns+" has type Int; Signoff needs Keyword")
}
