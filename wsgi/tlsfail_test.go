package wsgi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/internal/testcert"
)

// TestServeTLSHandshakeFailures: real clients whose TLS handshake fails on
// Serve's TLS listener (they used to be closed without a word, where
// net/http's ServeTLS logs each): each is counted by reason in
// graft_tls_handshake_failures_total and logged once with its reason and
// client, the first that concerns the server's certificate or
// configuration at WARN (the next ones within a second at DEBUG, with the
// count of those left out on the next WARN line), a connection closed
// before its hello at DEBUG only; plain HTTP is counted and logged as the
// refusal it was already.
func TestServeTLSHandshakeFailures(t *testing.T) {
	certFile, keyFile, pool := testcert.Write(t, t.TempDir(), 1)
	ls, err := Listen(ListenConfig{Binds: []string{"127.0.0.1:0"}, CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	logs := &pythontest.Buffer{}
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ls, http.NotFoundHandler(), nil, ServeConfig{NoSignals: true, Logger: slogNew(logs), Registry: reg})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	addr := ls.Main[0].Addr().String()
	metrics := func() string {
		rec := httptest.NewRecorder()
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return rec.Body.String()
	}
	// dialTLS makes a handshake with the config and returns its error.
	dialTLS := func(cfg *tls.Config) error {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
		if err == nil {
			conn.Close()
			return errors.New("the handshake succeeded")
		}
		return err
	}
	// A client that speaks TLS: the listener is up.
	if conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool}); err != nil {
		t.Fatalf("a good client: %v", err)
	} else {
		conn.Close()
	}

	for _, tc := range []struct {
		name, reason string
		warn         bool // whether it may be logged at WARN
		fail         func() error
	}{
		{"a client offering only TLS 1.1", "protocol version", true, func() error {
			return dialTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11})
		}},
		{"a client that rejects the server's certificate", "bad certificate", true, func() error {
			return dialTLS(&tls.Config{}) // the system's roots: the test CA is not one
		}},
		{"a client without a cipher suite for the server's ECDSA key", "cipher", true, func() error {
			return dialTLS(&tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS12,
				CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}})
		}},
		{"a connection closed before its hello", "eof", false, func() error {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				return err
			}
			return conn.Close()
		}},
		{"plain HTTP to the TLS port", "http", false, func() error {
			resp, err := http.Get("http://" + addr + "/")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				return fmt.Errorf("plain HTTP: %s, want 400", resp.Status)
			}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.fail()
			t.Logf("client: %v", err)
			if err != nil && strings.Contains(err.Error(), "succeeded") {
				t.Fatal(err)
			}
			counted := fmt.Sprintf("graft_tls_handshake_failures_total{reason=%q} 1", tc.reason)
			waitFor(t, 5*time.Second, counted, func() bool { return strings.Contains(metrics(), counted) })
			line := regexp.MustCompile(`level=(\w+) msg="wsgi: TLS handshake failed" client.ip=127.0.0.1 graft.reason="?` +
				regexp.QuoteMeta(tc.reason) + `"? error=`)
			// The counter goes up just before the line is logged.
			if tc.reason == "http" {
				refusal := `error="plain HTTP on an HTTPS listener"`
				waitFor(t, 5*time.Second, "the refusal's line", func() bool { return strings.Contains(logs.String(), refusal) })
				if line.MatchString(logs.String()) {
					t.Errorf("plain HTTP logged as a handshake failure too:\n%s", logs)
				}
				return
			}
			waitFor(t, 5*time.Second, "the failure's line", func() bool { return line.MatchString(logs.String()) })
			m := line.FindAllStringSubmatch(logs.String(), -1)
			if len(m) != 1 {
				t.Fatalf("%d lines for it, want 1:\n%s", len(m), logs)
			}
			if level := m[0][1]; level != "DEBUG" && !(tc.warn && level == "WARN") {
				t.Errorf("logged at %s:\n%s", level, logs)
			}
		})
	}
	// The first failure that concerns the server is a WARN: operators
	// see it at the default level.
	first := regexp.MustCompile(`level=(\w+) msg="wsgi: TLS handshake failed"`).FindStringSubmatch(logs.String())
	if first == nil || first[1] != "WARN" {
		t.Errorf("the first handshake failure not at WARN:\n%s", logs)
	}
	if !strings.Contains(metrics(), "# HELP graft_tls_handshake_failures_total") {
		t.Errorf("no help for the counter:\n%s", metrics())
	}
}

// TestHandshakeReason: the reasons of errors as crypto/tls and the
// network return them.
func TestHandshakeReason(t *testing.T) {
	remote := func(a tls.AlertError) error { return &net.OpError{Op: "remote error", Err: a} }
	for _, tc := range []struct {
		err  error
		want string
	}{
		{context.Canceled, ""},
		{fmt.Errorf("%w: connection closed before the header", errProxyHeader), ""},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake", RecordHeader: [5]byte{'G', 'E', 'T', ' ', '/'}, Conn: &net.TCPConn{}}, "http"},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake", RecordHeader: [5]byte{'S', 'S', 'H', '-', '2'}, Conn: &net.TCPConn{}}, "other"},
		{context.DeadlineExceeded, "timeout"},
		{&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, "timeout"},
		{io.EOF, "eof"},
		{&net.OpError{Op: "read", Err: &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}}, "eof"},
		{remote(42), "bad certificate"},
		{remote(48), "bad certificate"},
		{remote(70), "protocol version"},
		{remote(71), "cipher"},
		{remote(40), "other"},
		{errors.New("tls: client offered only unsupported versions: [302 301]"), "protocol version"},
		{errors.New("tls: no cipher suite supported by both client and server; client offered: [c02f]"), "cipher"},
		{&tls.CertificateVerificationError{Err: errors.New("x509: unknown authority")}, "bad certificate"},
		{errors.New("tls: unsupported SSLv2 handshake received"), "other"},
	} {
		if got := handshakeReason(tc.err); got != tc.want {
			t.Errorf("handshakeReason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
