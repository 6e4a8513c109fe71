package wsgi

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/internal/testcert"
)

// tlsReportEnv is a server certificate for the GuardTLS reporting tests,
// with clients that fail the handshake or send one request.
type tlsReportEnv struct {
	srvCfg *tls.Config
	pool   *x509.CertPool
}

func newTLSReportEnv(t *testing.T) tlsReportEnv {
	t.Helper()
	certFile, keyFile, pool := testcert.Write(t, t.TempDir(), 1)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return tlsReportEnv{srvCfg: &tls.Config{Certificates: []tls.Certificate{cert}}, pool: pool}
}

// serve serves a 404 for every request on ln (a GuardTLS or
// GuardTLSReport listener) and returns its address.
func (e tlsReportEnv) serve(t *testing.T, ln net.Listener) string {
	t.Helper()
	srv := &http.Server{Handler: http.NotFoundHandler()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// badCert is a client that refuses the server's certificate (the
// system's roots: the test CA is not one).
func (e tlsReportEnv) badCert(addr string) error {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{})
	if err == nil {
		conn.Close()
		return fmt.Errorf("the handshake succeeded")
	}
	return nil
}

// get sends one request over TLS (raw, so that the guard may refuse
// it) and returns the status.
func (e tlsReportEnv) get(addr, req string) (int, error) {
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: e.pool, NextProtos: []string{"http/1.1"}})
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	io.WriteString(conn, req)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// plainHTTP sends a plain HTTP request to a TLS listener and returns the
// status.
func plainHTTP(addr string) (int, error) {
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestGuardTLSReport: GuardTLSReport on a server of one's own reports
// what Serve reports on its TLS listeners, on the logger and registry
// given (GuardTLS alone on slog.Default() and the default registry,
// TestGuardTLSAloneReports): a failed handshake counted by reason and logged, plain HTTP
// and a request the guard refuses counted and logged as refusals; with a
// nil logger and registry it serves as GuardTLS does.
func TestGuardTLSReport(t *testing.T) {
	e := newTLSReportEnv(t)
	serve := func(t *testing.T, log *slogLogger, reg *prometheus.Registry) string {
		return e.serve(t, GuardTLSReport(tcpListen(t), e.srvCfg, RequestLimits{}, log, reg))
	}
	badCert, get := e.badCert, e.get

	t.Run("logger and registry", func(t *testing.T) {
		logs := &pythontest.Buffer{}
		reg := prometheus.NewRegistry()
		addr := serve(t, slogNew(logs), reg)
		metrics := func() string {
			rec := httptest.NewRecorder()
			promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			return rec.Body.String()
		}
		wait := func(what string) {
			t.Helper()
			waitFor(t, 5*time.Second, what, func() bool { return strings.Contains(metrics(), what) })
		}

		if err := badCert(addr); err != nil {
			t.Fatal(err)
		}
		wait(`graft_tls_handshake_failures_total{reason="bad certificate"} 1`)
		line := regexp.MustCompile(`level=WARN msg="wsgi: TLS handshake failed" client.ip=127.0.0.1 graft.reason="bad certificate" error=`)
		waitFor(t, 5*time.Second, "the WARN line", func() bool { return line.MatchString(logs.String()) })

		if code, err := plainHTTP(addr); err != nil || code != http.StatusBadRequest {
			t.Errorf("plain HTTP: %d, %v; want 400", code, err)
		}
		wait(`graft_tls_handshake_failures_total{reason="http"} 1`)
		wait(`graft_http_refused_total{status="400"} 1`)
		// Counted, then logged (refusals.report): wait for the line too.
		if missing, log := logWait(logs, 5*time.Second, `error="plain HTTP on an HTTPS listener"`); missing != "" {
			t.Errorf("plain HTTP not logged as a refusal:\n%s", log)
		}

		code, err := get(addr, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
		if err != nil || code != http.StatusBadRequest {
			t.Fatalf("smuggling attempt over TLS: %d, %v; want 400", code, err)
		}
		wait(`graft_http_refused_total{status="400"} 2`)
		if missing, log := logWait(logs, 5*time.Second, `msg="wsgi: request refused at the HTTP boundary" http.response.status_code=400`); missing != "" {
			t.Errorf("the guard's refusal not logged:\n%s", log)
		}

		if code, err := get(addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil || code != http.StatusNotFound {
			t.Errorf("a good request: %d, %v; want the handler's 404", code, err)
		}
	})

	t.Run("nil logger and registry", func(t *testing.T) {
		addr := serve(t, nil, nil)
		if err := badCert(addr); err != nil {
			t.Fatal(err)
		}
		if code, err := get(addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil || code != http.StatusNotFound {
			t.Errorf("a good request after a failed handshake: %d, %v; want the handler's 404", code, err)
		}
	})
}

// TestGuardTLSAloneReports: GuardTLS used alone, on a server of one's
// own, reports as Guard alone does (TestGuardAloneReports) what Serve
// reports on its TLS listeners: failed handshakes counted in
// graft_tls_handshake_failures_total and refusals (plain HTTP included)
// in graft_http_refused_total, in prometheus.DefaultRegisterer, and
// logged on slog.Default(). A Guard in the same process shares the
// refusal counter (one registration, not a failed second one).
func TestGuardTLSAloneReports(t *testing.T) {
	e := newTLSReportEnv(t)
	logs := &pythontest.Buffer{}
	prev := slog.Default()
	slog.SetDefault(slogNew(logs))
	t.Cleanup(func() { slog.SetDefault(prev) })
	g := prometheus.DefaultGatherer
	failures := func() float64 {
		return counterValue(t, g, "graft_tls_handshake_failures_total", "reason", "bad certificate")
	}
	failedBefore, refusedBefore := failures(), refusedCount(t, g, "400")

	addr := e.serve(t, GuardTLS(tcpListen(t), e.srvCfg, RequestLimits{}))
	plainAddr := guardServe(t, Guard(tcpListen(t), RequestLimits{}))

	if err := e.badCert(addr); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the failed handshake counted", func() bool { return failures() == failedBefore+1 })
	line := regexp.MustCompile(`level=WARN msg="wsgi: TLS handshake failed" client.ip=127.0.0.1 graft.reason="bad certificate" error=`)
	waitFor(t, 5*time.Second, "the WARN line on slog.Default()", func() bool { return line.MatchString(logs.String()) })

	if code, err := plainHTTP(addr); err != nil || code != http.StatusBadRequest {
		t.Errorf("plain HTTP: %d, %v; want 400", code, err)
	}
	waitFor(t, 5*time.Second, "plain HTTP counted as a refusal", func() bool { return refusedCount(t, g, "400") == refusedBefore+1 })
	if missing, log := logWait(logs, 5*time.Second, `msg="wsgi: request refused at the HTTP boundary" http.response.status_code=400 client.ip=127.0.0.1 error="plain HTTP on an HTTPS listener"`); missing != "" {
		t.Errorf("plain HTTP not logged as a refusal on slog.Default():\n%s", log)
	}

	if code, err := e.get(addr, smuggle); err != nil || code != http.StatusBadRequest {
		t.Fatalf("smuggling attempt over TLS: %d, %v; want 400", code, err)
	}
	if resp, _ := rawHTTP(t, plainAddr, smuggle); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("smuggling attempt to Guard: %s, want 400", resp.Status)
	}
	waitFor(t, 5*time.Second, "both guards' refusals counted in one counter", func() bool { return refusedCount(t, g, "400") == refusedBefore+3 })
	if missing, log := logWait(logs, 5*time.Second, `error="both Content-Length and Transfer-Encoding"`); missing != "" {
		t.Errorf("the guard's refusal over TLS not logged on slog.Default():\n%s", log)
	}

	if code, err := e.get(addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil || code != http.StatusNotFound {
		t.Errorf("a good request: %d, %v; want the handler's 404", code, err)
	}
}
