package middleware

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/testcert"
	"github.com/graft-dev/graft/wsgi"
)

// TestTrustBalancerHeaders serves through wsgi.Serve with the PROXY
// protocol on, as HAProxy in HTTP mode with send-proxy does: the balancer
// ends TLS, writes X-Forwarded-For and X-Forwarded-Proto, and sends the
// PROXY header naming the client. The forwarding headers are the
// balancer's, so they are read when the balancer (the socket's peer) is
// trusted, as gunicorn reads them (it checks forwarded_allow_ips against
// the socket's peer, not the PROXY header's client); and when the hop the
// PROXY header names is trusted (a CDN in front of a TCP balancer). An
// http.Server of one's own, set up with wsgi.GuardServer and serving a
// listener wrapped with wsgi.ProxyProtocol by hand, judges alike ("by
// hand"; until 2026-12-03 it judged by the header's client only).
func TestTrustBalancerHeaders(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "http.sock")
	for _, tc := range []struct {
		name          string
		bind          string
		proxyProtocol []string
		trust         []string
		source        string // the address the PROXY header names
		xff           string
		wantRemote    string
		wantScheme    string
		wantID        bool // the balancer's X-Request-ID is kept
		tls           bool // graft ends TLS (the header comes before the handshake)
	}{
		{"HTTP balancer trusted", "127.0.0.1:0", []string{"127.0.0.1"}, []string{"127.0.0.1"},
			"203.0.113.9", "203.0.113.9", "203.0.113.9:0", "https", true, false},
		{"HTTP balancer trusted, client's own X-Forwarded-For", "127.0.0.1:0", []string{"127.0.0.1"}, []string{"127.0.0.1"},
			"203.0.113.9", "192.0.2.66, 203.0.113.9", "203.0.113.9:0", "https", true, false},
		{"balancer not trusted: the headers are the client's", "127.0.0.1:0", []string{"127.0.0.1"}, []string{"10.0.0.0/8"},
			"203.0.113.9", "192.0.2.66", "203.0.113.9:5000", "http", false, false},
		{"CDN before a TCP balancer: the PROXY header's hop trusted", "127.0.0.1:0", []string{"127.0.0.1"}, []string{"198.51.100.0/24"},
			"198.51.100.7", "203.0.113.9", "203.0.113.9:0", "https", true, false},
		{"HTTP balancer on a Unix socket, unix trusted", "unix:" + sock, nil, []string{"unix"},
			"203.0.113.9", "203.0.113.9", "203.0.113.9:0", "https", true, false},
		{"HTTP balancer on a Unix socket, unix not trusted", "unix:" + sock, nil, []string{"127.0.0.1"},
			"203.0.113.9", "192.0.2.66", "203.0.113.9:5000", "http", false, false},
		{"over TLS, balancer trusted", "127.0.0.1:0", []string{"127.0.0.1"}, []string{"127.0.0.1"},
			"203.0.113.9", "203.0.113.9", "203.0.113.9:0", "https", true, true},
	} {
		for _, byHand := range []bool{false, true} {
			name := tc.name
			if byHand {
				name = "by hand: " + name
			}
			t.Run(name, func(t *testing.T) {
				pp := tc.proxyProtocol
				if strings.HasPrefix(tc.bind, "unix:") {
					pp = []string{"127.0.0.1"} // a Unix socket takes the header from every peer
				}
				lc := wsgi.ListenConfig{Binds: []string{tc.bind}, ProxyProtocol: pp, NoSocketActivation: true}
				var pool *x509.CertPool
				if tc.tls {
					lc.CertFile, lc.KeyFile, pool = testcert.Write(t, t.TempDir(), 1)
				}
				ls, err := wsgi.Listen(lc)
				if err != nil {
					t.Fatal(err)
				}
				got := make(chan observed, 1)
				var id string
				h := Stack(Options{Proxies: MustParseProxies(tc.trust...), Logger: slog.New(slog.DiscardHandler)})(
					http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						id = RequestIDFromContext(r.Context())
						got <- observed{r.RemoteAddr, r.Host, Scheme(r), wsgi.URLScheme(r.Context()), r.Header}
					}))
				if byHand {
					// An http.Server of one's own, set up with GuardServer,
					// serving the PROXY protocol listener wrapped by hand.
					var ln net.Listener = wsgi.ProxyProtocol(ls.Main[0], ls.ProxyFrom, nil)
					if ls.TLS != nil {
						ln = wsgi.GuardTLS(ln, ls.TLS, wsgi.RequestLimits{})
					}
					srv := &http.Server{Handler: h}
					wsgi.GuardServer(srv)
					go srv.Serve(ln)
					defer srv.Close()
				} else {
					ctx, cancel := context.WithCancel(context.Background())
					done := make(chan error, 1)
					go func() {
						done <- wsgi.Serve(ctx, ls, h, nil, wsgi.ServeConfig{NoSignals: true, Logger: slog.New(slog.DiscardHandler)})
					}()
					defer func() { cancel(); <-done }()
				}
				addr := ls.Main[0].Addr()
				conn, err := net.DialTimeout(addr.Network(), addr.String(), 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprintf(conn, "PROXY TCP4 %s 10.1.1.1 5000 443\r\n", tc.source)
				if tc.tls {
					tc := tls.Client(conn, &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
					if err := tc.Handshake(); err != nil {
						t.Fatal(err)
					}
					conn = tc
				}
				fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: app.example\r\nX-Forwarded-For: %s\r\nX-Forwarded-Proto: https\r\nX-Request-ID: lb-123\r\n\r\n", tc.xff)
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				o := <-got
				wantWSGI := ""
				if tc.wantID {
					wantWSGI = tc.wantScheme // set by TrustProxies from a trusted hop only
				}
				if o.remoteAddr != tc.wantRemote || o.scheme != tc.wantScheme || o.wsgiScheme != wantWSGI {
					t.Errorf("RemoteAddr %q, scheme %q, wsgi.url_scheme %q; want %q and %q", o.remoteAddr, o.scheme, o.wsgiScheme, tc.wantRemote, tc.wantScheme)
				}
				if (id == "lb-123") != tc.wantID {
					t.Errorf("request id %q; the balancer's kept: %v", id, tc.wantID)
				}
				for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Proto"} {
					if v := o.headers.Get(k); v != "" {
						t.Errorf("%s reached the handler: %q", k, v)
					}
				}
			})
		}
	}
}
