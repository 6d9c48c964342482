package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TLSFiles is a private certificate authority with a server certificate for 127.0.0.1 and the
// server name "temporal.test", and a client certificate: as PEM bytes and as files of the test.
type TLSFiles struct {
	CAPEM, ServerCertPEM, ServerKeyPEM, ClientCertPEM, ClientKeyPEM []byte
	CAPath, ClientCertPath, ClientKeyPath                           string
	// ClientName is the common name of the client certificate.
	ClientName string
}

// NewTLSFiles makes a TLSFiles for the test, written under a folder of its own.
func NewTLSFiles(t testing.TB) TLSFiles {
	t.Helper()
	caKey, caCert, caPEM := newCert(t, "signoff test CA", nil, nil, func(c *x509.Certificate) {
		c.IsCA, c.BasicConstraintsValid = true, true
		c.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	})
	_, _, serverPEM, serverKeyPEM := newLeaf(t, "temporal.test", caKey, caCert, func(c *x509.Certificate) {
		c.DNSNames, c.IPAddresses = []string{"temporal.test"}, []net.IP{net.ParseIP("127.0.0.1")}
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	})
	_, _, clientPEM, clientKeyPEM := newLeaf(t, "signoff-worker", caKey, caCert, func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	})
	dir := t.TempDir()
	f := TLSFiles{CAPEM: caPEM, ServerCertPEM: serverPEM, ServerKeyPEM: serverKeyPEM, ClientCertPEM: clientPEM,
		ClientKeyPEM: clientKeyPEM, ClientName: "signoff-worker",
		CAPath: filepath.Join(dir, "ca.pem"), ClientCertPath: filepath.Join(dir, "client.pem"), ClientKeyPath: filepath.Join(dir, "client.key")}
	for path, b := range map[string][]byte{f.CAPath: caPEM, f.ClientCertPath: clientPEM, f.ClientKeyPath: clientKeyPEM} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatalf("testenv: %v", err)
		}
	}
	return f
}

// ServerConfig is the TLS configuration of a server that presents the server certificate and
// requires a client certificate signed by the authority.
func (f TLSFiles) ServerConfig(t testing.TB) *tls.Config {
	t.Helper()
	cert, err := tls.X509KeyPair(f.ServerCertPEM, f.ServerKeyPEM)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(f.CAPEM)
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
		MinVersion: tls.VersionTLS12}
}

func newCert(t testing.TB, cn string, parentKey *ecdsa.PrivateKey, parent *x509.Certificate, edit func(*x509.Certificate)) (*ecdsa.PrivateKey, *x509.Certificate, []byte) {
	t.Helper()
	key, certPEM, cert := sign(t, cn, parentKey, parent, edit)
	return key, cert, certPEM
}

func newLeaf(t testing.TB, cn string, parentKey *ecdsa.PrivateKey, parent *x509.Certificate, edit func(*x509.Certificate)) (*ecdsa.PrivateKey, *x509.Certificate, []byte, []byte) {
	t.Helper()
	key, certPEM, cert := sign(t, cn, parentKey, parent, edit)
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return key, cert, certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

// sign makes a key and a certificate for cn, signed by parent (self-signed when parent is nil).
func sign(t testing.TB, cn string, parentKey *ecdsa.PrivateKey, parent *x509.Certificate, edit func(*x509.Certificate)) (*ecdsa.PrivateKey, []byte, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	edit(tmpl)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), cert
}
