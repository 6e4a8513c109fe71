package wsgi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/internal/testcert"
)

// TestServeH2TLSHeaderTimeout: over HTTP/2 on TLS (negotiated by ALPN),
// a client that sends no complete request headers within
// ReadHeaderTimeout has its connection closed, as over h2c and as
// net/http closes an HTTP/1.x connection whose head is not in by then:
// the TLS handshake and nothing more, the preface and SETTINGS only, a
// HEADERS frame without END_HEADERS, a header block trickled one
// CONTINUATION at a time. The refusals are counted and logged with 408.
// A client that negotiated h2 and speaks HTTP/1.1 is closed at once and
// reported with 400. Before, net/http's HTTP/2 server held each of these
// connections until IdleTimeout (2 minutes by default; a minute here), or
// 10 s without a preface: the guard saw only the encrypted bytes. Well-behaved clients are not cut, and handlers
// still see the request as HTTP/2.0 over TLS (r.TLS set).
func TestServeH2TLSHeaderTimeout(t *testing.T) {
	const rht = 500 * time.Millisecond
	certFile, keyFile, pool := testcert.Write(t, t.TempDir(), 1)
	ls, err := Listen(ListenConfig{Binds: []string{"127.0.0.1:0"}, CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	logs := &pythontest.Buffer{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %v", r.Proto, r.TLS != nil)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ls, h, nil, ServeConfig{NoSignals: true, ReadHeaderTimeout: rht,
			IdleTimeout: time.Minute, Logger: slogNew(logs)})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	}()
	addr := ls.Main[0].Addr().String()
	dial := func(t *testing.T) *h2Client {
		dialed := time.Now()
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatal(err)
		}
		if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
			t.Fatalf("negotiated %q, not h2", p)
		}
		return newH2Client(t, c, dialed)
	}
	stalls := append([]h2Stall{{"no preface", func(*h2Client, <-chan struct{}) {}}}, h2Stalls(rht)...)
	runH2Stalls(t, rht, stalls, dial)
	waitFor(t, 5*time.Second, "the refusals logged", func() bool {
		return strings.Count(logs.String(), "http.response.status_code=408") == len(stalls)
	})
	for _, want := range []string{
		`http.response.status_code=408 client.ip=127.0.0.1 error="no complete HTTP/2 request headers within the header timeout"`,
		`http.response.status_code=408 client.ip=127.0.0.1 error="HTTP/2 header block not complete within the header timeout"`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no %q in the log", want)
		}
	}

	t.Run("HTTP/1.1 after ALPN h2", func(t *testing.T) {
		h := dial(t)
		io.WriteString(h.c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		waitFor(t, 30*time.Second, "the connection to end", func() bool {
			closed, _, _, _ := h.state(0)
			return closed > 0
		})
		if closed, err, _, _ := h.state(0); closed >= rht || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("the connection was held %v (ReadHeaderTimeout %v): %v", closed, rht, err)
		}
		waitFor(t, 5*time.Second, "the refusal logged", func() bool {
			return strings.Contains(logs.String(),
				`http.response.status_code=400 client.ip=127.0.0.1 error="no HTTP/2 connection preface after ALPN h2"`)
		})
	})

	// Well-behaved clients: idle time between requests longer than
	// ReadHeaderTimeout, with pings, on the same connection; Go's client,
	// whose handler sees HTTP/2.0 over TLS.
	t.Run("idle between requests", func(t *testing.T) { h2IdleBetweenRequests(t, rht, dial) })
	t.Run("Go client", func(t *testing.T) {
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool},
			ForceAttemptHTTP2: true}, Timeout: 10 * time.Second}
		defer client.CloseIdleConnections()
		for i := range 2 {
			if i > 0 {
				time.Sleep(2 * rht)
			}
			getH2TLS(t, client, "https://"+addr+"/")
		}
	})
}

// TestServeH2TLSShutdown: a shutdown drains an HTTP/2 connection over TLS
// as before its hand-off through the guard: the client gets a GOAWAY,
// the request in flight is answered, and Serve waits for it.
func TestServeH2TLSShutdown(t *testing.T) {
	certFile, keyFile, pool := testcert.Write(t, t.TempDir(), 1)
	ls, err := Listen(ListenConfig{Binds: []string{"127.0.0.1:0"}, CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	logs := &pythontest.Buffer{}
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		fmt.Fprintf(w, "%s %v", r.Proto, r.TLS != nil)
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ls, h, nil, ServeConfig{NoSignals: true, GracefulTimeout: 20 * time.Second, Logger: slogNew(logs)})
	}()
	dialed := time.Now()
	c, err := tls.Dial("tcp", ls.Main[0].Addr().String(), &tls.Config{RootCAs: pool, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	hc := newH2Client(t, c, dialed)
	io.WriteString(c, h2ClientPreface)
	hc.write(0x4, 0, 0, nil)
	hc.write(0x1, 0x5, 1, h2GET)
	<-started
	cancel()
	waitFor(t, 10*time.Second, "a GOAWAY", func() bool {
		hc.mu.Lock()
		defer hc.mu.Unlock()
		return hc.goaway
	})
	select {
	case err := <-done:
		t.Fatalf("Serve returned with a request in flight: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	waitFor(t, 10*time.Second, "the response", func() bool { _, _, head, _ := hc.state(1); return head })
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the last response")
	}
}

// getH2TLS GETs url with client and checks that the handler (one writing
// r.Proto and whether r.TLS is set) saw HTTP/2 over TLS.
func getH2TLS(t *testing.T, client *http.Client, url string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "HTTP/2.0 true" {
		t.Errorf("the handler saw %q", b)
	}
}
