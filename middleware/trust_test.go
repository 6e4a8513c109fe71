package middleware

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
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
	p := MustParseProxies("10.0.0.0/8")
	tests := []struct {
		name    string
		peer    string
		tls     bool
		headers map[string]string
		want    observed
	}{
		{"direct client", "203.0.113.7:5555", false, nil,
			observed{"203.0.113.7:5555", "example.com", "http", "", nil}},
		{"direct tls", "203.0.113.7:5555", true, nil,
			observed{"203.0.113.7:5555", "example.com", "https", "", nil}},
		{"spoofing client is ignored", "203.0.113.7:5555", false, map[string]string{
			"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "admin.internal",
			"Forwarded": "for=127.0.0.1", "X-Forwarded-Prefix": "/evil",
		}, observed{"203.0.113.7:5555", "example.com", "http", "", nil}},
		{"trusted proxy", "10.0.0.1:80", false, map[string]string{
			"X-Forwarded-For": "198.51.100.9, 10.0.0.5", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "www.example.com",
			"X-Forwarded-Prefix": "/app",
		}, observed{"198.51.100.9:0", "www.example.com", "https", "https", http.Header{"X-Forwarded-Prefix": {"/app"}}}},
		{"trusted proxy, spoofed left part", "10.0.0.1:80", false, map[string]string{
			"X-Forwarded-For": "127.0.0.1, 198.51.100.9",
		}, observed{"198.51.100.9:0", "example.com", "http", "", nil}},
		{"trusted proxy over tls says http", "10.0.0.1:80", true, map[string]string{
			"Forwarded": "for=198.51.100.9;proto=http",
		}, observed{"198.51.100.9:0", "example.com", "http", "http", nil}},
		{"trusted proxy, invalid values", "10.0.0.1:80", false, map[string]string{
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
				req.Header.Set(k, v)
			}
			TrustProxies(p)(observe(&got)).ServeHTTP(httptest.NewRecorder(), req)
			if tc.want.headers == nil {
				tc.want.headers = http.Header{}
			}
			if got.remoteAddr != tc.want.remoteAddr || got.host != tc.want.host ||
				got.scheme != tc.want.scheme || got.wsgiScheme != tc.want.wsgiScheme {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			if len(got.headers) != len(tc.want.headers) || got.headers.Get("X-Forwarded-Prefix") != tc.want.headers.Get("X-Forwarded-Prefix") {
				t.Errorf("headers passed on: got %v, want %v", got.headers, tc.want.headers)
			}
		})
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
