// Package opstest holds the test helpers of graft's example servers: the
// embedded app unpacked for a test, the examples' default flags, a test
// server over a container's workers, a generated TLS certificate, the
// single-binary run, the busy-port check, page checks and the migration's
// stages file, admin API and route status. The interpreter comes from
// internal/pythontest.
package opstest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/examples/internal/cli"
	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/wsgi"
)

// Unpack writes the files of fsys under root into a temporary directory,
// as the commands do at start, removed when the test ends.
func Unpack(t testing.TB, fsys fs.FS, root string) string {
	t.Helper()
	dir, cleanup, err := cli.Unpack(fsys, root, "graft-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	return dir
}

// Flags are the examples' server flags with their defaults, 2 workers
// and the test interpreter.
func Flags(t testing.TB) cli.Flags {
	t.Helper()
	var f cli.Flags
	f.Register(cli.NewFlagSet("test"), cli.Defaults{Workers: 2})
	f.Python = pythontest.Python(t)
	return f
}

// Logger discards what it is given.
func Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Serve serves h on a test server; when the test ends, the server closes,
// then app's workers stop.
func Serve(t testing.TB, app *wsgi.Container, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		app.Shutdown(context.Background())
	})
	return srv
}

// RequestCounts gathers graft_http_requests_total from reg, by
// "target route status".
func RequestCounts(t testing.TB, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "graft_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			got[l["target"]+" "+l["route"]+" "+l["status"]] += m.GetCounter().GetValue()
		}
	}
	return got
}

// WriteCert writes a self-signed certificate for 127.0.0.1 and localhost
// and its key into dir, and returns their paths and a pool trusting it.
func WriteCert(t testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "graft test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}

// WaitFor polls cond for up to 20 seconds and fails the test if it never
// holds.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
