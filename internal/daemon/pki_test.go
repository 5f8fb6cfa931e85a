package daemon

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
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testPKI is a throw-away certificate authority with a server certificate
// for 127.0.0.1, ::1 and localhost and a client certificate, written as
// PEM files (keys mode 0600).
type testPKI struct {
	CAFile, CertFile, KeyFile string
	ca                        *x509.Certificate
	caKey                     *ecdsa.PrivateKey
	pool                      *x509.CertPool
	client                    tls.Certificate
}

func newTestPKI(t *testing.T, name string) *testPKI {
	t.Helper()
	dir := t.TempDir()
	p := &testPKI{}
	var caDER []byte
	p.ca, p.caKey, caDER = issue(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: name + " CA"},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil, nil)
	p.pool = x509.NewCertPool()
	p.pool.AddCert(p.ca)
	p.CAFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER, 0o644)

	_, key, der := issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "aispool test server"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:    []string{"localhost"},
	}, p.ca, p.caKey)
	p.CertFile = writePEM(t, dir, "cert.pem", "CERTIFICATE", der, 0o644)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p.KeyFile = writePEM(t, dir, "key.pem", "PRIVATE KEY", keyDER, 0o600)

	_, ckey, cder := issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: name + " client"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, p.ca, p.caKey)
	p.client = tls.Certificate{Certificate: [][]byte{cder}, PrivateKey: ckey}
	return p
}

// issue creates a certificate from tmpl signed by parent (self-signed if
// nil) and returns it, its key and its DER form.
func issue(t *testing.T, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key, der
}

func writePEM(t *testing.T, dir, name, typ string, der []byte, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// httpsClient returns a client that trusts p's CA and presents clientCert
// (if not nil) whatever CAs the server asks for.
func (p *testPKI) httpsClient(clientCert *tls.Certificate) *http.Client {
	cfg := &tls.Config{RootCAs: p.pool, MinVersion: tls.VersionTLS12}
	if clientCert != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return clientCert, nil }
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}
