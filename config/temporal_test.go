package config_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/config"
	"github.com/signoff/signoff/testenv"
)

// writeProfiles writes a TOML profile file of the `temporal` CLI's format and returns its path.
func writeProfiles(t *testing.T, toml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "temporal.toml")
	require.NoError(t, os.WriteFile(path, []byte(toml), 0o600))
	return path
}

// TestTemporalConnectionSources: R-OPS-5, the connection comes from the environment, from a profile
// of the TOML file, or both (the environment wins, as envconfig defines), with Signoff's defaults
// for what neither sets and the older variable names kept as aliases.
func TestTemporalConnectionSources(t *testing.T) {
	noFile := filepath.Join(t.TempDir(), "absent.toml")
	file := writeProfiles(t, `
[profile.default]
address = "file-default:7233"
namespace = "file-ns"

[profile.prod]
address = "prod.example:7233"
namespace = "prod-ns"
api_key = "file-key"

[profile.prod.tls]
server_name = "prod.internal"
`)
	for _, tc := range []struct {
		name          string
		env           config.EnvMap
		address, ns   string
		apiKey        string
		certPath      string
		caPath        string
		serverName    string
		aliases       []string
		errorContains string
	}{
		{name: "nothing set: Signoff's defaults", env: config.EnvMap{"TEMPORAL_CONFIG_FILE": noFile},
			address: "127.0.0.1:7233", ns: "default"},
		{name: "environment only", env: config.EnvMap{"TEMPORAL_CONFIG_FILE": noFile, "TEMPORAL_ADDRESS": "env:7233",
			"TEMPORAL_NAMESPACE": "env-ns", "TEMPORAL_API_KEY": "env-key", "TEMPORAL_TLS_SERVER_NAME": "env.internal"},
			address: "env:7233", ns: "env-ns", apiKey: "env-key", serverName: "env.internal"},
		{name: "profile file only, default profile", env: config.EnvMap{"TEMPORAL_CONFIG_FILE": file},
			address: "file-default:7233", ns: "file-ns"},
		{name: "profile file only, named profile", env: config.EnvMap{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "prod"},
			address: "prod.example:7233", ns: "prod-ns", apiKey: "file-key", serverName: "prod.internal"},
		{name: "both: the environment wins field by field", env: config.EnvMap{"TEMPORAL_CONFIG_FILE": file,
			"TEMPORAL_PROFILE": "prod", "TEMPORAL_NAMESPACE": "env-ns", "TEMPORAL_API_KEY": "env-key"},
			address: "prod.example:7233", ns: "env-ns", apiKey: "env-key", serverName: "prod.internal"},
		{name: "older names as aliases", env: config.EnvMap{"TEMPORAL_CONFIG_FILE": noFile,
			"TEMPORAL_TLS_CERT": "/old/cert.pem", "TEMPORAL_TLS_KEY": "/old/key.pem", "TEMPORAL_TLS_CA": "/old/ca.pem"},
			address: "127.0.0.1:7233", ns: "default", certPath: "/old/cert.pem", caPath: "/old/ca.pem",
			aliases: []string{"TEMPORAL_TLS_CA", "TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY"}},
		{name: "the standard name wins over its alias", env: config.EnvMap{"TEMPORAL_CONFIG_FILE": noFile,
			"TEMPORAL_TLS_CERT": "/old/cert.pem", "TEMPORAL_TLS_CLIENT_CERT_PATH": "/new/cert.pem"},
			address: "127.0.0.1:7233", ns: "default", certPath: "/new/cert.pem"},
		{name: "a profile that the file lacks", env: config.EnvMap{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "staging"},
			errorContains: `Temporal profile "staging"`},
		{name: "a file that is not TOML", env: config.EnvMap{"TEMPORAL_CONFIG_FILE": writeProfiles(t, "[profile.default\naddress=")},
			errorContains: "TEMPORAL_CONFIG_FILE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := config.LoadTemporal(tc.env)
			if tc.errorContains != "" {
				require.ErrorContains(t, err, tc.errorContains)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.address, got.Profile.Address)
			require.Equal(t, tc.ns, got.Profile.Namespace)
			require.Equal(t, tc.apiKey, got.Profile.APIKey)
			require.Equal(t, tc.aliases, got.AliasesUsed)
			if tc.certPath != "" || tc.caPath != "" || tc.serverName != "" {
				require.NotNil(t, got.Profile.TLS)
				require.Equal(t, tc.certPath, got.Profile.TLS.ClientCertPath)
				require.Equal(t, tc.caPath, got.Profile.TLS.ServerCACertPath)
				require.Equal(t, tc.serverName, got.Profile.TLS.ServerName)
			}
		})
	}
}

// TestTemporalClientOptions: an API key becomes the connection's credentials (with TLS on, as
// Temporal Cloud needs); TLS comes from certificate paths or from PEM data, in the environment or in
// the profile file; a certificate that cannot be used stops start-up with the name of its setting.
func TestTemporalClientOptions(t *testing.T) {
	certs := testenv.NewTLSFiles(t)
	noFile := filepath.Join(t.TempDir(), "absent.toml")
	pathsFile := writeProfiles(t, `
[profile.default]
address = "mtls.example:7233"
[profile.default.tls]
client_cert_path = "`+certs.ClientCertPath+`"
client_key_path = "`+certs.ClientKeyPath+`"
server_ca_cert_path = "`+certs.CAPath+`"
server_name = "temporal.test"
`)
	brokenFile := writeProfiles(t, `
[profile.default.tls]
client_cert_path = "/nowhere/client.pem"
client_key_path = "`+certs.ClientKeyPath+`"
`)
	for _, tc := range []struct {
		name          string
		env           config.EnvMap
		apiKey        bool
		clientCert    bool
		ca            bool
		noTLS         bool
		errorContains []string
	}{
		{name: "plain gRPC by default", env: config.EnvMap{"TEMPORAL_CONFIG_FILE": noFile}, noTLS: true},
		{name: "API key: credentials and TLS", env: config.EnvMap{"TEMPORAL_CONFIG_FILE": noFile, "TEMPORAL_API_KEY": "k"}, apiKey: true},
		{name: "mTLS from paths in the environment", env: config.EnvMap{"TEMPORAL_CONFIG_FILE": noFile,
			"TEMPORAL_TLS_CLIENT_CERT_PATH": certs.ClientCertPath, "TEMPORAL_TLS_CLIENT_KEY_PATH": certs.ClientKeyPath,
			"TEMPORAL_TLS_SERVER_CA_CERT_PATH": certs.CAPath}, clientCert: true, ca: true},
		{name: "mTLS from data in the environment", env: config.EnvMap{"TEMPORAL_CONFIG_FILE": noFile,
			"TEMPORAL_TLS_CLIENT_CERT_DATA": string(certs.ClientCertPEM), "TEMPORAL_TLS_CLIENT_KEY_DATA": string(certs.ClientKeyPEM),
			"TEMPORAL_TLS_SERVER_CA_CERT_DATA": string(certs.CAPEM)}, clientCert: true, ca: true},
		{name: "mTLS from the older names", env: config.EnvMap{"TEMPORAL_CONFIG_FILE": noFile,
			"TEMPORAL_TLS_CERT": certs.ClientCertPath, "TEMPORAL_TLS_KEY": certs.ClientKeyPath, "TEMPORAL_TLS_CA": certs.CAPath},
			clientCert: true, ca: true},
		{name: "mTLS from paths in the profile file", env: config.EnvMap{"TEMPORAL_CONFIG_FILE": pathsFile}, clientCert: true, ca: true},
		{name: "broken certificate path", env: config.EnvMap{"TEMPORAL_CONFIG_FILE": noFile,
			"TEMPORAL_TLS_CLIENT_CERT_PATH": "/nowhere/client.pem", "TEMPORAL_TLS_CLIENT_KEY_PATH": certs.ClientKeyPath},
			errorContains: []string{"TEMPORAL_TLS_CLIENT_CERT_PATH", "/nowhere/client.pem"}},
		{name: "broken path under the older name", env: config.EnvMap{"TEMPORAL_CONFIG_FILE": noFile,
			"TEMPORAL_TLS_CA": "/nowhere/ca.pem"}, errorContains: []string{"TEMPORAL_TLS_CA (older name of TEMPORAL_TLS_SERVER_CA_CERT_PATH)"}},
		{name: "broken path in the profile file", env: config.EnvMap{"TEMPORAL_CONFIG_FILE": brokenFile},
			errorContains: []string{`tls.client_cert_path of profile "default" in ` + brokenFile}},
		{name: "certificate data that is not PEM", env: config.EnvMap{"TEMPORAL_CONFIG_FILE": noFile,
			"TEMPORAL_TLS_CLIENT_CERT_DATA": "not a certificate", "TEMPORAL_TLS_CLIENT_KEY_DATA": string(certs.ClientKeyPEM)},
			errorContains: []string{"TEMPORAL_TLS_CLIENT_CERT_DATA", "TEMPORAL_TLS_CLIENT_KEY_DATA"}},
		{name: "a CA file that holds no certificate", env: config.EnvMap{"TEMPORAL_CONFIG_FILE": noFile,
			"TEMPORAL_TLS_SERVER_CA_CERT_PATH": certs.ClientKeyPath}, errorContains: []string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH holds no PEM certificate"}},
		{name: "a certificate without its key", env: config.EnvMap{"TEMPORAL_CONFIG_FILE": noFile,
			"TEMPORAL_TLS_CLIENT_CERT_PATH": certs.ClientCertPath}, errorContains: []string{"TEMPORAL_TLS_CLIENT_CERT_PATH is set without the client key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc2, err := config.LoadTemporal(tc.env)
			require.NoError(t, err)
			opts, err := tc2.ClientOptions()
			if tc.errorContains != nil {
				require.Error(t, err)
				for _, s := range tc.errorContains {
					require.ErrorContains(t, err, s)
				}
				return
			}
			require.NoError(t, err)
			if tc.noTLS {
				require.Nil(t, opts.ConnectionOptions.TLS)
				require.Nil(t, opts.Credentials)
				return
			}
			require.NotNil(t, opts.ConnectionOptions.TLS, "TLS on")
			require.Equal(t, tc.apiKey, opts.Credentials != nil, "API key as the connection's credentials")
			require.Equal(t, tc.clientCert, len(opts.ConnectionOptions.TLS.Certificates) == 1, "client certificate")
			require.Equal(t, tc.ca, opts.ConnectionOptions.TLS.RootCAs != nil, "server CA")
			if tc.clientCert {
				leaf := opts.ConnectionOptions.TLS.Certificates[0]
				want, err := tls.X509KeyPair(certs.ClientCertPEM, certs.ClientKeyPEM)
				require.NoError(t, err)
				require.Equal(t, want.Certificate, leaf.Certificate)
			}
		})
	}
}
