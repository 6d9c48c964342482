package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sort"
	"strings"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
)

// Defaults of the Temporal connection when neither a profile nor the environment names one.
const (
	DefaultTemporalAddress   = "127.0.0.1:7233"
	DefaultTemporalNamespace = "default"
)

// TemporalAliases maps Signoff's older variable names to the standard names of Temporal's own tools
// (the SDK's contrib/envconfig). An older name is read only when its standard name is unset, and a
// process that reads one logs a warning. TEMPORAL_TLS_SERVER_NAME was always the standard name.
var TemporalAliases = map[string]string{
	"TEMPORAL_TLS_CERT": "TEMPORAL_TLS_CLIENT_CERT_PATH",
	"TEMPORAL_TLS_KEY":  "TEMPORAL_TLS_CLIENT_KEY_PATH",
	"TEMPORAL_TLS_CA":   "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
}

// Temporal is the Temporal connection configured the way the `temporal` CLI and every Temporal SDK
// configure it: a profile of the TOML file (TEMPORAL_CONFIG_FILE, default
// ~/.config/temporalio/temporal.toml; TEMPORAL_PROFILE, default "default"), then the TEMPORAL_*
// environment variables on top, then Signoff's defaults for what neither sets.
type Temporal struct {
	// Profile is the merged profile; Address and Namespace are never empty.
	Profile envconfig.ClientConfigProfile
	// ProfileName is the profile read from the file.
	ProfileName string
	// ConfigFile is the TOML file looked at; it may not exist.
	ConfigFile string
	// AliasesUsed are the older variable names that supplied a value (see TemporalAliases).
	AliasesUsed []string
	env         envconfig.EnvLookup
}

// EnvMap is an environment made of a map, for tests and for processes that must not see the
// developer's shell (the test harness).
type EnvMap map[string]string

// Environ lists the variables as os.Environ does.
func (m EnvMap) Environ() []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// LookupEnv answers a variable as os.LookupEnv does.
func (m EnvMap) LookupEnv(k string) (string, bool) { v, ok := m[k]; return v, ok }

// aliasEnv answers the standard names from the older ones when only the older one is set.
type aliasEnv struct {
	envconfig.EnvLookup
	used map[string]bool
}

func (a aliasEnv) LookupEnv(k string) (string, bool) {
	if v, ok := a.EnvLookup.LookupEnv(k); ok {
		return v, true
	}
	for old, std := range TemporalAliases {
		if std == k {
			if v, ok := a.EnvLookup.LookupEnv(old); ok {
				a.used[old] = true
				return v, true
			}
		}
	}
	return "", false
}

// LoadTemporal reads the Temporal connection from env (envconfig.EnvLookupOS for the process's
// environment) and the profile file it names. A profile named by TEMPORAL_PROFILE that the file
// lacks, or a file that is not valid TOML, is an error.
func LoadTemporal(env envconfig.EnvLookup) (Temporal, error) {
	ae := aliasEnv{EnvLookup: env, used: map[string]bool{}}
	t := Temporal{env: env, ConfigFile: envconfig.DefaultConfigFilePath(), ProfileName: envconfig.DefaultConfigFileProfile}
	if f, _ := env.LookupEnv("TEMPORAL_CONFIG_FILE"); f != "" {
		t.ConfigFile = f
	}
	if p, _ := env.LookupEnv("TEMPORAL_PROFILE"); p != "" {
		t.ProfileName = p
	}
	prof, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{EnvLookup: ae})
	if err != nil {
		return Temporal{}, fmt.Errorf("config: Temporal profile %q of %s (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE): %w",
			t.ProfileName, t.ConfigFile, err)
	}
	if prof.Address == "" {
		prof.Address = DefaultTemporalAddress
	}
	if prof.Namespace == "" {
		prof.Namespace = DefaultTemporalNamespace
	}
	t.Profile = prof
	for old := range ae.used {
		t.AliasesUsed = append(t.AliasesUsed, old)
	}
	sort.Strings(t.AliasesUsed)
	return t, nil
}

// Source names where a setting came from, for error messages: the variable that set it (std is its
// standard name; an older alias is named as such), or toml's key in the profile file.
func (t Temporal) Source(std, toml string) string {
	if _, ok := t.env.LookupEnv(std); ok {
		return std
	}
	for old, s := range TemporalAliases {
		if s == std {
			if _, ok := t.env.LookupEnv(old); ok {
				return old + " (older name of " + std + ")"
			}
		}
	}
	return fmt.Sprintf("%s of profile %q in %s", toml, t.ProfileName, t.ConfigFile)
}

// ClientOptions are the Temporal client options of the profile: address, namespace, API key as the
// connection's credentials, TLS from certificate paths or data, gRPC headers. A certificate that
// cannot be read or parsed is an error naming the variable (or profile key) that set it. Signoff's
// own settings (compression, logger, metrics, interceptors) are the caller's to add.
func (t Temporal) ClientOptions() (client.Options, error) {
	if err := t.checkTLS(); err != nil {
		return client.Options{}, err
	}
	opts, err := t.Profile.ToClientOptions(envconfig.ToClientOptionsRequest{})
	if err != nil {
		return client.Options{}, fmt.Errorf("config: Temporal TLS settings (%s): %w", strings.Join(t.tlsSources(), ", "), err)
	}
	return opts, nil
}

// tlsField is one certificate setting of the profile: its value, standard variable and TOML key.
type tlsField struct {
	path    string
	data    []byte
	pathStd string
	dataStd string
	toml    string
}

func (t Temporal) tlsFields() []tlsField {
	c := t.Profile.TLS
	if c == nil {
		return nil
	}
	return []tlsField{
		{c.ClientCertPath, c.ClientCertData, "TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_CERT_DATA", "client_cert"},
		{c.ClientKeyPath, c.ClientKeyData, "TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_CLIENT_KEY_DATA", "client_key"},
		{c.ServerCACertPath, c.ServerCACertData, "TEMPORAL_TLS_SERVER_CA_CERT_PATH", "TEMPORAL_TLS_SERVER_CA_CERT_DATA", "server_ca_cert"},
	}
}

// tlsSources names every certificate setting that is set.
func (t Temporal) tlsSources() []string {
	var out []string
	for _, f := range t.tlsFields() {
		if f.path != "" {
			out = append(out, t.Source(f.pathStd, "tls."+f.toml+"_path"))
		}
		if len(f.data) > 0 {
			out = append(out, t.Source(f.dataStd, "tls."+f.toml+"_data"))
		}
	}
	return out
}

// checkTLS reads and parses every certificate the profile names, so a wrong path or a damaged file
// stops the process at start-up with the name of the setting to fix.
func (t Temporal) checkTLS() error {
	c := t.Profile.TLS
	if c == nil || c.Disabled {
		return nil
	}
	pems := make([][]byte, 3)
	for i, f := range t.tlsFields() {
		switch {
		case f.path != "" && len(f.data) > 0:
			return fmt.Errorf("config: %s and %s both set; set one", t.Source(f.pathStd, "tls."+f.toml+"_path"), t.Source(f.dataStd, "tls."+f.toml+"_data"))
		case f.path != "":
			b, err := os.ReadFile(f.path)
			if err != nil {
				return fmt.Errorf("config: %s: cannot read the certificate file: %w", t.Source(f.pathStd, "tls."+f.toml+"_path"), err)
			}
			pems[i] = b
		default:
			pems[i] = f.data
		}
	}
	fields := t.tlsFields()
	name := func(i int) string {
		if fields[i].path != "" {
			return t.Source(fields[i].pathStd, "tls."+fields[i].toml+"_path")
		}
		return t.Source(fields[i].dataStd, "tls."+fields[i].toml+"_data")
	}
	if (len(pems[0]) > 0) != (len(pems[1]) > 0) {
		if len(pems[0]) > 0 {
			return fmt.Errorf("config: %s is set without the client key (TEMPORAL_TLS_CLIENT_KEY_PATH or _DATA)", name(0))
		}
		return fmt.Errorf("config: %s is set without the client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH or _DATA)", name(1))
	}
	if len(pems[0]) > 0 {
		if _, err := tls.X509KeyPair(pems[0], pems[1]); err != nil {
			return fmt.Errorf("config: %s and %s are not a PEM certificate and its key: %w", name(0), name(1), err)
		}
	}
	if len(pems[2]) > 0 && !x509.NewCertPool().AppendCertsFromPEM(pems[2]) {
		return fmt.Errorf("config: %s holds no PEM certificate", name(2))
	}
	return nil
}
