package middleware

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/graft-dev/graft/wsgi"
)

type observed struct {
	remoteAddr, host, scheme, wsgiScheme string
	headers                              http.Header
}

func observe(got *observed) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*got = observed{r.RemoteAddr, r.Host, Scheme(r), wsgi.URLScheme(r.Context()), r.Header}
	})
}

func TestTrustProxies(t *testing.T) {
	x := MustParseProxies("10.0.0.0/8") // the default: X-Forwarded-For and -Proto
	xh := x.TrustHost()
	f := x.UseForwarded()
	fh := f.TrustHost()
	tests := []struct {
		name    string
		p       *Proxies
		peer    string
		tls     bool
		headers map[string]string // set as spelled, not canonicalised
		want    observed
	}{
		{"direct client", x, "203.0.113.7:5555", false, nil,
			observed{"203.0.113.7:5555", "example.com", "http", "", nil}},
		{"direct tls", x, "203.0.113.7:5555", true, nil,
			observed{"203.0.113.7:5555", "example.com", "https", "", nil}},
		{"spoofing client is ignored", xh, "203.0.113.7:5555", false, map[string]string{
			"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "admin.internal",
			"Forwarded": "for=127.0.0.1", "X-Forwarded-Prefix": "/evil",
		}, observed{"203.0.113.7:5555", "example.com", "http", "", nil}},
		{"spoofing client, forwarded mode", fh, "203.0.113.7:5555", false, map[string]string{
			"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "admin.internal",
			"Forwarded": "for=127.0.0.1;proto=https;host=admin.internal", "X-Forwarded-Prefix": "/evil",
		}, observed{"203.0.113.7:5555", "example.com", "http", "", nil}},
		// gunicorn 20 reads every one of these as a forwarding header.
		{"spoofing client, other spellings", x, "203.0.113.7:5555", false, map[string]string{
			"X_Forwarded_For": "127.0.0.1", "X_forwarded_proto": "https", "x_forwarded_host": "admin.internal",
			"FORWARDED": "for=127.0.0.1", "X_Forwarded_Prefix": "/evil", "x-forwarded-prefix": "/evil",
			"X-Forwarded_For": "127.0.0.1",
		}, observed{"203.0.113.7:5555", "example.com", "http", "", nil}},
		{"trusted proxy", xh, "10.0.0.1:80", false, map[string]string{
			"X-Forwarded-For": "198.51.100.9, 10.0.0.5", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "www.example.com",
			"X-Forwarded-Prefix": "/app",
		}, observed{"198.51.100.9:0", "www.example.com", "https", "https", http.Header{"X-Forwarded-Prefix": {"/app"}}}},
		// Behind nginx, which appends X-Forwarded-For and passes the
		// client's other headers on: the client's Forwarded and
		// X-Forwarded-Host choose nothing, and are removed.
		{"trusted proxy, client's forwarded and host", x, "10.0.0.1:80", false, map[string]string{
			"Forwarded": "for=198.51.100.66;host=evil.example;proto=https", "X-Forwarded-Host": "evil.example",
			"X-Forwarded-For": "203.0.113.9",
		}, observed{"203.0.113.9:0", "example.com", "http", "", nil}},
		// The client's underscore spellings, passed on by the proxy,
		// are removed; only the proxy's X-Forwarded-Prefix is kept.
		{"trusted proxy, client's other spellings", xh, "10.0.0.1:80", false, map[string]string{
			"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Prefix": "/app",
			"X_forwarded_for": "6.6.6.6", "X_forwarded_host": "evil.example", "X_forwarded_proto": "https",
			"X_forwarded_prefix": "/evil", "Forwarded": "for=6.6.6.6",
		}, observed{"203.0.113.9:0", "example.com", "http", "", http.Header{"X-Forwarded-Prefix": {"/app"}}}},
		// Django's USE_X_FORWARDED_PORT reads X-Forwarded-Port, and
		// gunicorn's secure_scheme_headers X-Forwarded-Ssl and
		// X-Forwarded-Protocol (a SECURE_PROXY_SSL_HEADER may name them):
		// a client's must not reach the app, a trusted proxy's may, and
		// graft reads its scheme as gunicorn does.
		{"spoofing client, port and ssl", x, "203.0.113.7:5555", false, map[string]string{
			"X-Forwarded-Port": "8443", "X-Forwarded-Ssl": "on", "X-Forwarded-Protocol": "ssl",
		}, observed{"203.0.113.7:5555", "example.com", "http", "", nil}},
		{"trusted proxy, port and ssl", x, "10.0.0.1:80", false, map[string]string{
			"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Port": "8443", "X-Forwarded-Ssl": "on",
			"X-Forwarded-Protocol": "ssl", "X_Forwarded_Port": "1",
		}, observed{"203.0.113.9:0", "example.com", "https", "https", http.Header{
			"X-Forwarded-Port": {"8443"}, "X-Forwarded-Ssl": {"on"}, "X-Forwarded-Protocol": {"ssl"}}}},
		{"trusted proxy, x-forwarded-ssl alone", x, "10.0.0.1:80", false, map[string]string{
			"X-Forwarded-Ssl": "on",
		}, observed{"10.0.0.1:80", "example.com", "https", "https", http.Header{"X-Forwarded-Ssl": {"on"}}}},
		{"trusted proxy over tls, x-forwarded-ssl off", x, "10.0.0.1:80", true, map[string]string{
			"X-Forwarded-Ssl": "off",
		}, observed{"10.0.0.1:80", "example.com", "http", "http", http.Header{"X-Forwarded-Ssl": {"off"}}}},
		{"trusted proxy, x-forwarded-protocol alone", x, "10.0.0.1:80", false, map[string]string{
			"X-Forwarded-Protocol": "ssl",
		}, observed{"10.0.0.1:80", "example.com", "https", "https", http.Header{"X-Forwarded-Protocol": {"ssl"}}}},
		{"trusted proxy, scheme headers agree", x, "10.0.0.1:80", false, map[string]string{
			"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on", "X-Forwarded-Protocol": "ssl",
		}, observed{"10.0.0.1:80", "example.com", "https", "https", http.Header{
			"X-Forwarded-Ssl": {"on"}, "X-Forwarded-Protocol": {"ssl"}}}},
		// A proxy that writes Forwarded passes a client's X-Forwarded-Ssl
		// on: it chooses nothing (the app still gets it, as before).
		{"trusted forwarded proxy, client's x-forwarded-ssl", f, "10.0.0.1:80", false, map[string]string{
			"Forwarded": "for=198.51.100.9", "X-Forwarded-Ssl": "on",
		}, observed{"198.51.100.9:0", "example.com", "http", "", http.Header{"X-Forwarded-Ssl": {"on"}}}},
		{"trusted proxy, spoofed left part", x, "10.0.0.1:80", false, map[string]string{
			"X-Forwarded-For": "127.0.0.1, 198.51.100.9",
		}, observed{"198.51.100.9:0", "example.com", "http", "", nil}},
		{"trusted forwarded proxy over tls says http", f, "10.0.0.1:80", true, map[string]string{
			"Forwarded": "for=198.51.100.9;proto=http",
		}, observed{"198.51.100.9:0", "example.com", "http", "http", nil}},
		{"trusted forwarded proxy, client's x-forwarded", fh, "10.0.0.1:80", false, map[string]string{
			"Forwarded": "for=198.51.100.9;host=www.example.com", "X-Forwarded-For": "6.6.6.6",
			"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example",
		}, observed{"198.51.100.9:0", "www.example.com", "http", "", nil}},
		{"trusted proxy, invalid values", xh, "10.0.0.1:80", false, map[string]string{
			"X-Forwarded-For": "bogus", "X-Forwarded-Proto": "gopher", "X-Forwarded-Host": "a b",
		}, observed{"10.0.0.1:80", "example.com", "http", "", nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got observed
			req := httptest.NewRequest("GET", "http://example.com/", nil)
			req.RemoteAddr = tc.peer
			if tc.tls {
				req.TLS = &tls.ConnectionState{}
			}
			for k, v := range tc.headers {
				req.Header[k] = []string{v}
			}
			TrustProxies(tc.p)(observe(&got)).ServeHTTP(httptest.NewRecorder(), req)
			if tc.want.headers == nil {
				tc.want.headers = http.Header{}
			}
			if got.remoteAddr != tc.want.remoteAddr || got.host != tc.want.host ||
				got.scheme != tc.want.scheme || got.wsgiScheme != tc.want.wsgiScheme {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			if len(got.headers) != len(tc.want.headers) {
				t.Errorf("headers passed on: got %v, want %v", got.headers, tc.want.headers)
			}
			for k := range tc.want.headers {
				if got.headers.Get(k) != tc.want.headers.Get(k) {
					t.Errorf("header %s passed on: got %v, want %v", k, got.headers, tc.want.headers)
				}
			}
		})
	}
}

// UseForwarded and TrustHost return configured copies and leave p alone;
// on nil they return a Proxies that trusts nobody.
func TestProxiesOptions(t *testing.T) {
	p := MustParseProxies("10.0.0.0/8")
	fh := p.UseForwarded().TrustHost()
	if p.forwarded || p.host {
		t.Errorf("p modified: %+v", p)
	}
	if !fh.forwarded || !fh.host || !fh.Contains(remoteAddr("10.1.2.3")) || fh.Contains(remoteAddr("11.0.0.1")) {
		t.Errorf("UseForwarded().TrustHost() = %+v", fh)
	}
	if h := p.TrustHost(); h.forwarded || !h.host {
		t.Errorf("TrustHost() = %+v", h)
	}
	var none *Proxies
	if n := none.UseForwarded().TrustHost(); n.Contains(remoteAddr("127.0.0.1")) || !n.forwarded || !n.host {
		t.Errorf("nil.UseForwarded().TrustHost() = %+v", n)
	}
}

func TestSchemeWithoutMiddleware(t *testing.T) {
	req := httptest.NewRequest("GET", "/", nil)
	if got := Scheme(req); got != "http" {
		t.Errorf("got %q, want http", got)
	}
	req.TLS = &tls.ConnectionState{}
	if got := Scheme(req); got != "https" {
		t.Errorf("got %q, want https", got)
	}
}

// Only the outermost TrustProxies acts, so that a trusted proxy's request
// id survives a second Stack inside a host Router.
func TestTrustProxiesOnce(t *testing.T) {
	p := MustParseProxies("10.0.0.0/8")
	var id, addr string
	inner := Stack(Options{Proxies: p})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, addr = RequestIDFromContext(r.Context()), r.RemoteAddr
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "10.0.0.1:1"
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	req.Header.Set("X-Request-ID", "edge-123")
	TrustProxies(p)(inner).ServeHTTP(httptest.NewRecorder(), req)
	if id != "edge-123" || addr != "203.0.113.7:0" {
		t.Errorf("got id %q addr %q, want edge-123 203.0.113.7:0", id, addr)
	}
}

// "unix" trusts peers on Unix sockets (they have no address), and only
// those: a TCP peer, or a peer whose address a PROXY protocol header gave
// on a Unix socket, is judged by its address.
func TestTrustUnixSockets(t *testing.T) {
	unixLocal := &net.UnixAddr{Name: "/run/app.sock", Net: "unix"}
	tcpLocal := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8000}
	for _, tc := range []struct {
		name    string
		proxies []string
		local   net.Addr
		remote  string
		want    string // r.RemoteAddr the handler sees
	}{
		{"unix trusted", []string{"unix"}, unixLocal, "@", "203.0.113.7:0"},
		{"unix with addresses", []string{"10.0.0.0/8", " unix "}, unixLocal, "@", "203.0.113.7:0"},
		{"unix not listed", []string{"127.0.0.1"}, unixLocal, "@", "@"},
		{"tcp peer", []string{"unix"}, tcpLocal, "127.0.0.1:5000", "127.0.0.1:5000"},
		{"PROXY protocol peer on a unix socket", []string{"unix"}, unixLocal, "198.51.100.1:4000", "198.51.100.1:4000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got, id string
			h := Stack(Options{Proxies: MustParseProxies(tc.proxies...), Logger: slog.New(slog.DiscardHandler)})(
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					got, id = r.RemoteAddr, RequestIDFromContext(r.Context())
				}))
			req := httptest.NewRequest("GET", "/", nil)
			req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, tc.local))
			req.RemoteAddr = tc.remote
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			req.Header.Set("X-Request-ID", "edge-123")
			h.ServeHTTP(httptest.NewRecorder(), req)
			if got != tc.want {
				t.Errorf("RemoteAddr %q, want %q", got, tc.want)
			}
			if trusted := tc.want == "203.0.113.7:0"; (id == "edge-123") != trusted {
				t.Errorf("request id %q; the proxy's taken: %v", id, !trusted)
			}
		})
	}
}

// A request without forwarding headers goes through TrustProxies as it
// is, not copied (the examples run it on every request with
// -access-log=false), and reads the same.
func TestTrustProxiesNothingToDo(t *testing.T) {
	for _, p := range []*Proxies{nil, MustParseProxies("127.0.0.1")} {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = "127.0.0.1:5000"
		req.Header.Set("X-Real-Ip", "203.0.113.7") // neither read nor removed
		var got *http.Request
		TrustProxies(p)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r })).ServeHTTP(httptest.NewRecorder(), req)
		if got != req || Scheme(got) != "http" || got.RemoteAddr != "127.0.0.1:5000" {
			t.Errorf("proxies %v: the handler got %p (want %p), scheme %s, client %s", p, got, req, Scheme(got), got.RemoteAddr)
		}
	}
}

// A trusted proxy's scheme headers that say different schemes get a 400,
// as from gunicorn, and the handler is not called; from an untrusted peer
// they are not read (only removed), and in Forwarded mode only Forwarded
// is read. Stack logs the 400 in both access log modes.
func TestContradictorySchemeRefused(t *testing.T) {
	x := MustParseProxies("10.0.0.0/8")
	bodies := DefaultLogOptions()
	bodies.LogRequestBody = func(*http.Request) bool { return true } // httplog's own logger
	contradicting := map[string]string{"X-Forwarded-Proto": "http", "X-Forwarded-Ssl": "on"}
	tests := []struct {
		name    string
		p       *Proxies
		peer    string
		headers map[string]string
		refused bool
		scheme  string // when served
	}{
		{"trusted proxy", x, "10.0.0.1:1", contradicting, true, ""},
		{"trusted proxy, protocol", x, "10.0.0.1:1", map[string]string{"X-Forwarded-Ssl": "on", "X-Forwarded-Protocol": "http"}, true, ""},
		{"trusted proxy, proto https and ssl off", x, "10.0.0.1:1", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "off"}, true, ""},
		{"untrusted peer", x, "203.0.113.7:1", contradicting, false, "http"},
		{"trusted forwarded proxy", x.UseForwarded(), "10.0.0.1:1", map[string]string{
			"Forwarded": "for=198.51.100.1;proto=https", "X-Forwarded-Proto": "http", "X-Forwarded-Ssl": "on"}, false, "https"},
		{"agreeing", x, "10.0.0.1:1", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on"}, false, "https"},
	}
	for _, tc := range tests {
		for _, mw := range []string{"TrustProxies", "Stack", "Stack with httplog"} {
			t.Run(tc.name+"/"+mw, func(t *testing.T) {
				var logs bytes.Buffer
				logger := slog.New(slog.NewJSONHandler(&logs, nil))
				var h func(http.Handler) http.Handler
				switch mw {
				case "TrustProxies":
					h = TrustProxies(tc.p)
				case "Stack":
					h = Stack(Options{Logger: logger, Proxies: tc.p})
				default:
					h = Stack(Options{Logger: logger, Proxies: tc.p, Log: bodies})
				}
				called, scheme := false, ""
				srv := h(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					called, scheme = true, Scheme(r)
				}))
				req := httptest.NewRequest("GET", "http://example.com/", nil)
				req.RemoteAddr = tc.peer
				for k, v := range tc.headers {
					req.Header.Set(k, v)
				}
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, req)
				if !tc.refused {
					if !called || scheme != tc.scheme || rec.Code != 200 {
						t.Fatalf("called %v, scheme %q, status %d: want served as %q", called, scheme, rec.Code, tc.scheme)
					}
					return
				}
				if called || rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "Contradictory scheme headers") {
					t.Fatalf("called %v, status %d, body %q: want 400 Contradictory scheme headers", called, rec.Code, rec.Body)
				}
				if mw != "TrustProxies" && !strings.Contains(logs.String(), `"http.response.status_code":400`) {
					t.Errorf("access log has no 400 line: %s", logs.String())
				}
			})
		}
	}
}

// The access line's scheme (url.scheme and url.full) is the request's, as
// Scheme and wsgi.url_scheme give it: a trusted proxy's, not the
// connection's.
func TestAccessLogSchemeFromProxy(t *testing.T) {
	x := MustParseProxies("10.0.0.0/8")
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    string
	}{
		{"x-forwarded-proto", map[string]string{"X-Forwarded-Proto": "https"}, "https"},
		{"x-forwarded-ssl", map[string]string{"X-Forwarded-Ssl": "on"}, "https"},
		{"none", nil, "http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := Stack(Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Proxies: x})(http.NotFoundHandler())
			req := httptest.NewRequest("GET", "/a", nil)
			req.Host, req.RemoteAddr = "example.com", "10.0.0.1:1"
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			for _, want := range []string{`"url.scheme":"` + tc.want + `"`, `"url.full":"` + tc.want + `://example.com/a"`} {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("access line without %s: %s", want, logs.String())
				}
			}
		})
	}
}
