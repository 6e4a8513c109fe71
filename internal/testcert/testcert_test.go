package testcert

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
)

// The files load as a key pair whose certificate the pool trusts for
// 127.0.0.1 and localhost, with the serial asked for.
func TestWrite(t *testing.T) {
	certFile, keyFile, pool := Write(t, t.TempDir(), 7)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if cert.SerialNumber.Int64() != 7 {
		t.Errorf("serial %v, want 7", cert.SerialNumber)
	}
	for _, name := range []string{"127.0.0.1", "localhost"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: name}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
}
