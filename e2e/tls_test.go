package e2e

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
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate/internal/harness"
)

// testCA is a certificate authority made for one test, and a server
// certificate it signed for 127.0.0.1.
type testCA struct {
	pool            *x509.CertPool
	certPEM, keyPEM []byte // the server's
}

func newTestCA(t *testing.T) testCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "alertgate test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "alertgate"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return testCA{
		pool:    pool,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
}

// writeWebConfig writes the server's certificate and key and a web.yml
// naming them relative to itself, as an operator would.
func (ca testCA) writeWebConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range map[string][]byte{"alertgate.crt": ca.certPEM, "alertgate.key": ca.keyPEM,
		"web.yml": []byte("tls_server_config:\n  cert_file: alertgate.crt\n  key_file: alertgate.key\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "web.yml")
}

// With --web.config.file the gateway serves HTTPS with the configured
// certificate, through the code path of alertgate serve; plain HTTP on
// the same port gets no answer it could use.
func TestTLSWebConfig(t *testing.T) {
	ca := newTestCA(t)
	g := harness.Start(t, harness.Options{WebConfigFile: ca.writeWebConfig(t)})
	if !strings.HasPrefix(g.URL(), "https://") {
		t.Fatalf("URL=%s, want https", g.URL())
	}
	trusting := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool}}}

	for _, path := range []string{"/healthz", "/v1/incidents"} {
		resp, err := trusting.Get(g.URL() + path)
		if err != nil {
			t.Fatalf("HTTPS GET %s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.TLS == nil {
			t.Fatalf("HTTPS GET %s: status %d, TLS %v", path, resp.StatusCode, resp.TLS != nil)
		}
	}
	// A webhook over TLS is accepted as over HTTP.
	req, _ := http.NewRequest(http.MethodPost, g.URL()+"/v1/ingest/alertmanager", strings.NewReader(string(harness.AMWebhook(harness.AMAlert{Fingerprint: "tls1", Status: "firing", StartsAt: t0}))))
	req.Header.Set("Content-Type", "application/json")
	resp, err := trusting.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook over TLS: %d", resp.StatusCode)
	}

	// The certificate served is the configured one: a client without the
	// test CA refuses it.
	if _, err := (&http.Client{Timeout: 10 * time.Second}).Get(g.URL() + "/healthz"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("GET without the CA: %v, want a certificate error", err)
	}

	// Plain HTTP to the TLS port: no 2xx (Go's TLS server answers 400).
	resp, err = (&http.Client{Timeout: 10 * time.Second}).Get("http://" + g.Addr() + "/healthz")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			t.Fatalf("plain HTTP to the TLS port: %d, want no 2xx", resp.StatusCode)
		}
	}
}
