package wsgi

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/internal/pythontest"
)

// TestGuardServerH2TLS: an http.Server of the user's own, set up with
// GuardServer and serving a GuardTLSReport listener, closes an HTTP/2
// connection over TLS that sends no complete request headers within the
// server's ReadHeaderTimeout (the handshake and nothing more, the preface
// and SETTINGS only, a header block left open or trickled), as Serve
// does, and reports each with 408 on the listener's logger and registry.
// Before, GuardTLS handed an h2 connection to net/http unguarded, which
// held it until IdleTimeout (5 s here, 2 minutes by default; 10 s without
// a preface). Well-behaved clients are not cut and handlers still see
// HTTP/2.0 over TLS; a tls.NewListener served by the same server keeps
// net/http's own hand-off, and two guarded listeners on one server are
// race-free.
func TestGuardServerH2TLS(t *testing.T) {
	const rht = 500 * time.Millisecond
	env := newTLSReportEnv(t)
	logs := &pythontest.Buffer{}
	reg := prometheus.NewRegistry()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %v", r.Proto, r.TLS != nil)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: rht, IdleTimeout: 5 * time.Second}
	GuardServer(srv)
	listen := func(t *testing.T) net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	ln := listen(t)
	go srv.Serve(GuardTLSReport(ln, env.srvCfg, RequestLimits{}, slogNew(logs), reg))
	// A second guarded listener and a plain TLS one on the same server.
	ln2, lnPlain := listen(t), listen(t)
	go srv.Serve(GuardTLSReport(ln2, env.srvCfg, RequestLimits{}, slogNew(logs), reg))
	go srv.Serve(tls.NewListener(lnPlain, &tls.Config{Certificates: env.srvCfg.Certificates, NextProtos: []string{"h2", "http/1.1"}}))
	defer func() {
		srv.Close()
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	}()
	dialTo := func(addr string) func(t *testing.T) *h2Client {
		return func(t *testing.T) *h2Client {
			dialed := time.Now()
			c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: env.pool, NextProtos: []string{"h2"}})
			if err != nil {
				t.Fatal(err)
			}
			if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
				t.Fatalf("negotiated %q, not h2", p)
			}
			return newH2Client(t, c, dialed)
		}
	}
	dial := dialTo(ln.Addr().String())
	stalls := append([]h2Stall{{"no preface", func(*h2Client, <-chan struct{}) {}}}, h2Stalls(rht)...)
	runH2Stalls(t, rht, stalls, dial)
	waitFor(t, 5*time.Second, "the refusals counted", func() bool {
		return counterValue(t, reg, "graft_http_refused_total", "status", "408") == float64(len(stalls))
	})
	for _, want := range []string{
		`http.response.status_code=408 client.ip=127.0.0.1 error="no complete HTTP/2 request headers within the header timeout"`,
		`http.response.status_code=408 client.ip=127.0.0.1 error="HTTP/2 header block not complete within the header timeout"`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no %q in the log", want)
		}
	}

	t.Run("second listener", func(t *testing.T) { runH2Stalls(t, rht, stalls[1:2], dialTo(ln2.Addr().String())) })
	t.Run("idle between requests", func(t *testing.T) { h2IdleBetweenRequests(t, rht, dial) })
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: env.pool},
		ForceAttemptHTTP2: true}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	for _, l := range []net.Listener{ln, ln2, lnPlain} {
		t.Run("Go client "+l.Addr().String(), func(t *testing.T) {
			getH2TLS(t, client, "https://"+l.Addr().String()+"/")
		})
	}
}

// TestGuardServerH2C: under GuardServer, a Guard listener's h2c
// connections get the server's ReadHeaderTimeout, as under Serve, rather
// than Guard's 10 s, and are reported on the listener's logger and
// registry; well-behaved clients are still served.
func TestGuardServerH2C(t *testing.T) {
	const rht = 500 * time.Millisecond
	logs := &pythontest.Buffer{}
	reg := prometheus.NewRegistry()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
		ReadHeaderTimeout: rht, IdleTimeout: time.Minute, Protocols: new(http.Protocols)}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	GuardServer(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(GuardReport(ln, RequestLimits{}, slogNew(logs), reg))
	defer srv.Close()
	dial := func(t *testing.T) *h2Client { return dialH2C(t, ln.Addr().String()) }
	stalls := h2Stalls(rht)[:2]
	runH2Stalls(t, rht, stalls, dial)
	waitFor(t, 5*time.Second, "the refusals counted", func() bool {
		return counterValue(t, reg, "graft_http_refused_total", "status", "408") == float64(len(stalls))
	})
	t.Run("idle between requests", func(t *testing.T) { h2IdleBetweenRequests(t, rht, dial) })
}

// TestGuardServerServeTLSRace: a server set up with GuardServer that
// serves a GuardTLS listener with Serve and then another with ServeTLS is
// race-free (run under -race) and serves HTTP/2 on both, whether
// srv.TLSConfig names h2 or not. Before, GuardServer replaced
// srv.TLSNextProto["h2"] at the first connection, which ServeTLS, started
// after it, read unordered (the race detector's DATA RACE); and when
// srv.TLSConfig named no h2, Serve set up no HTTP/2 (net/http's rule for
// Serve) though the GuardTLS listener offered it, and ServeTLS then set up
// none either: every h2 client got EOF. Now GuardServer sets HTTP/2 up at
// once, as ServeTLS does.
func TestGuardServerServeTLSRace(t *testing.T) {
	env := newTLSReportEnv(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %v", r.Proto, r.TLS != nil)
	})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: env.pool},
		ForceAttemptHTTP2: true}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	listen := func(t *testing.T) net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	for _, protos := range [][]string{nil, {"h2", "http/1.1"}} {
		t.Run(fmt.Sprint(protos), func(t *testing.T) {
			srv := &http.Server{Handler: h, TLSConfig: &tls.Config{Certificates: env.srvCfg.Certificates, NextProtos: protos}}
			GuardServer(srv)
			defer srv.Close()
			lnGuard, lnTLS := listen(t), listen(t)
			go srv.Serve(GuardTLS(lnGuard, env.srvCfg, RequestLimits{}))
			getH2TLS(t, client, "https://"+lnGuard.Addr().String()+"/")
			go srv.ServeTLS(lnTLS, "", "")
			getH2TLS(t, client, "https://"+lnTLS.Addr().String()+"/")
			getH2TLS(t, client, "https://"+lnGuard.Addr().String()+"/")
		})
		// Both listeners served at once, with their first connections.
		for i := range 5 {
			t.Run(fmt.Sprint(protos, " at once ", i), func(t *testing.T) {
				srv := &http.Server{Handler: h, TLSConfig: &tls.Config{Certificates: env.srvCfg.Certificates, NextProtos: protos}}
				GuardServer(srv)
				defer srv.Close()
				lnGuard, lnTLS := listen(t), listen(t)
				go srv.Serve(GuardTLS(lnGuard, env.srvCfg, RequestLimits{}))
				go srv.ServeTLS(lnTLS, "", "")
				got := make(chan string, 2)
				for _, ln := range []net.Listener{lnGuard, lnTLS} {
					go func() {
						resp, err := client.Get("https://" + ln.Addr().String() + "/")
						if err != nil {
							got <- err.Error()
							return
						}
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						got <- string(b)
					}()
				}
				for range 2 {
					if s := <-got; s != "HTTP/2.0 true" {
						t.Errorf("a request got %q", s)
					}
				}
				client.CloseIdleConnections()
				srv.Close()
			})
		}
	}
}

// TestGuardServerSetsUpHTTP2: GuardServer sets srv's HTTP/2 up at once
// (srv.TLSNextProto's "h2", and "h2" in srv.TLSConfig.NextProtos), as
// ServeTLS would, without serving (srv's BaseContext, which Serve calls,
// is not); and none when srv.Protocols leaves HTTP/2 out.
func TestGuardServerSetsUpHTTP2(t *testing.T) {
	for _, tc := range []struct {
		name   string
		http2  bool
		wantH2 bool
	}{
		{"HTTP/2 on", true, true},
		{"HTTP/1 only", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			served := false
			srv := &http.Server{BaseContext: func(net.Listener) context.Context { served = true; return context.Background() }}
			srv.Protocols = new(http.Protocols)
			srv.Protocols.SetHTTP1(true)
			srv.Protocols.SetHTTP2(tc.http2)
			GuardServer(srv)
			if served {
				t.Error("GuardServer served srv")
			}
			_, h2 := srv.TLSNextProto["h2"]
			hasProto := srv.TLSConfig != nil && slices.Contains(srv.TLSConfig.NextProtos, "h2")
			if h2 != tc.wantH2 || hasProto != tc.wantH2 {
				t.Errorf("TLSNextProto h2 %v, TLSConfig.NextProtos h2 %v; want %v", h2, hasProto, tc.wantH2)
			}
		})
	}
}
