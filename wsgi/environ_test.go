package wsgi

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/graft-dev/graft/internal/reqctx"
)

// environDoc is what apps:environ_dump answers.
type environDoc struct {
	Env             map[string]string `json:"env"`
	Types           map[string]string `json:"types"`
	Dict            bool              `json:"dict"`
	Version         []int             `json:"version"`
	Multithread     bool              `json:"multithread"`
	Multiprocess    bool              `json:"multiprocess"`
	RunOnce         bool              `json:"run_once"`
	InputTerminated *bool             `json:"input_terminated"`
	FileWrapper     bool              `json:"file_wrapper"`
	InputAPI        bool              `json:"input_api"`
	ErrorsAPI       bool              `json:"errors_api"`
	Body            string            `json:"body"`
}

// decodeEnviron decodes an environ_dump answer, turning native strings
// back into the bytes they stand for.
func decodeEnviron(t testing.TB, b []byte) environDoc {
	t.Helper()
	var d environDoc
	decodeJSON(t, b, &d)
	for k, v := range d.Env {
		d.Env[k] = latin1(t, v)
	}
	d.Body = latin1(t, d.Body)
	return d
}

// cgiKeys must be present in every environ (PEP 3333 E1, E3).
var cgiKeys = []string{"REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME",
	"SERVER_PORT", "SERVER_PROTOCOL", "wsgi.url_scheme"}

// TestEnvironPython checks the environ the app sees for requests sent byte
// for byte over TCP.
func TestEnvironPython(t *testing.T) {
	variants(t, "environ_dump", func(t *testing.T, app string) {
		ctxFor := map[string]func(context.Context) context.Context{
			"mount": func(ctx context.Context) context.Context { return WithMount(ctx, "/app/") },
			"nested": func(ctx context.Context) context.Context {
				return WithMount(WithMount(ctx, "/app"), "/v2")
			},
			"https": func(ctx context.Context) context.Context { return WithURLScheme(ctx, "https") },
			"extra": func(ctx context.Context) context.Context {
				ctx = WithEnviron(ctx, "graft.request_id", "rid-42")
				ctx = WithEnviron(ctx, "REMOTE_USER", "alice")
				ctx = WithEnviron(ctx, "AUTH_TYPE", "Bearer")
				ctx = WithEnviron(ctx, "graft.user_roles", "old")
				return WithEnviron(ctx, "graft.user_roles", "admin,dev")
			},
		}
		a := startApp(t, app, Config{}, ctxHandler(func(r *http.Request) context.Context {
			if f := ctxFor[r.Header.Get("X-Case")]; f != nil {
				return f(r.Context())
			}
			return r.Context()
		}))
		addr := a.srv.Listener.Addr().String()
		_, port, _ := net.SplitHostPort(addr)

		cases := []struct {
			name   string
			raw    string
			want   map[string]string
			absent []string
			body   string
		}{
			{
				name: "basic GET",
				raw:  "GET /p/q?a=1&b=%20 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: test/1\r\n\r\n",
				want: map[string]string{
					"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/p/q", "QUERY_STRING": "a=1&b=%20",
					"REQUEST_URI": "/p/q?a=1&b=%20", "RAW_URI": "/p/q?a=1&b=%20",
					"SERVER_NAME": "example.com", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
					"HTTP_HOST": "example.com:8080", "HTTP_USER_AGENT": "test/1", "REMOTE_ADDR": "127.0.0.1",
					"wsgi.url_scheme": "http",
				},
				absent: []string{"HTTPS", "CONTENT_LENGTH", "HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE",
					"REMOTE_USER", "AUTH_TYPE", "graft.request_id"},
			},
			{
				name: "percent-decoding once",
				raw:  "GET /caf%C3%A9/%e9%2Fx%2541+y?q=%2F HTTP/1.1\r\nHost: h\r\n\r\n",
				want: map[string]string{"PATH_INFO": "/caf\xc3\xa9/\xe9/x%41+y", "QUERY_STRING": "q=%2F",
					"RAW_URI": "/caf%C3%A9/%e9%2Fx%2541+y?q=%2F"},
			},
			{
				name: "raw non-ASCII bytes in request line",
				raw:  "GET /r\xc3\xa9s\xff?n=\xe9\xa0 HTTP/1.1\r\nHost: h\r\n\r\n",
				want: map[string]string{"PATH_INFO": "/r\xc3\xa9s\xff", "QUERY_STRING": "n=\xe9\xa0",
					"RAW_URI": "/r\xc3\xa9s\xff?n=\xe9\xa0"},
			},
			{
				name:   "NUL in path cannot inject keys",
				raw:    "GET /a%00REMOTE_USER%00admin%00graft.request_id%00x HTTP/1.1\r\nHost: h\r\n\r\n",
				want:   map[string]string{"PATH_INFO": "/a\x00REMOTE_USER\x00admin\x00graft.request_id\x00x", "SERVER_NAME": "h"},
				absent: []string{"REMOTE_USER", "graft.request_id", "admin"},
			},
			{
				name: "query string exactly as received",
				raw:  "GET /?x=%2F+y&&z=%zz&%00=1&a=b=c HTTP/1.1\r\nHost: h\r\n\r\n",
				want: map[string]string{"QUERY_STRING": "x=%2F+y&&z=%zz&%00=1&a=b=c", "PATH_INFO": "/"},
			},
			{
				name: "IPv6 host with port",
				raw:  "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
				want: map[string]string{"SERVER_NAME": "::1", "SERVER_PORT": "8080", "HTTP_HOST": "[::1]:8080"},
			},
			{
				name: "IPv6 host without port",
				raw:  "GET / HTTP/1.1\r\nHost: [2001:db8::5]\r\n\r\n",
				want: map[string]string{"SERVER_NAME": "2001:db8::5", "SERVER_PORT": "80"},
			},
			{
				name: "host without port gets the default",
				raw:  "GET / HTTP/1.1\r\nHost: example.org\r\n\r\n",
				want: map[string]string{"SERVER_NAME": "example.org", "SERVER_PORT": "80", "HTTP_HOST": "example.org"},
			},
			{
				name:   "HTTP/1.0 without Host uses the listener address",
				raw:    "GET /old HTTP/1.0\r\n\r\n",
				want:   map[string]string{"SERVER_NAME": "127.0.0.1", "SERVER_PORT": port, "SERVER_PROTOCOL": "HTTP/1.0"},
				absent: []string{"HTTP_HOST"},
			},
			{
				name: "absolute-form target",
				raw:  "GET http://example.com:81/abs%2Fx?q=1 HTTP/1.1\r\nHost: example.com:81\r\n\r\n",
				want: map[string]string{"PATH_INFO": "/abs/x", "QUERY_STRING": "q=1", "SERVER_NAME": "example.com",
					"SERVER_PORT": "81"},
			},
			{
				name: "POST body with content type",
				raw:  "POST /form HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain; charset=latin-1\r\nContent-Length: 5\r\n\r\nhello",
				want: map[string]string{"REQUEST_METHOD": "POST", "CONTENT_TYPE": "text/plain; charset=latin-1",
					"CONTENT_LENGTH": "5"},
				absent: []string{"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"},
				body:   "hello",
			},
			{
				name: "chunked POST gets its real length",
				raw: "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Type: a/b\r\n\r\n" +
					"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n",
				want:   map[string]string{"CONTENT_LENGTH": "7", "CONTENT_TYPE": "a/b"},
				absent: []string{"HTTP_TRANSFER_ENCODING", "HTTP_CONTENT_LENGTH"},
				body:   "abcdefg",
			},
			{
				// WSGI has no place for trailer fields: the body is whole,
				// the trailers never become HTTP_* keys (nor a declared
				// Trailer header), and chunk extensions are ignored.
				name: "chunked POST with trailers",
				raw: "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n" +
					"3;ext=1\r\nabc\r\n0\r\nX-Sum: 42\r\nX-Other: o\r\n\r\n",
				want:   map[string]string{"CONTENT_LENGTH": "3"},
				absent: []string{"HTTP_X_SUM", "HTTP_X_OTHER", "HTTP_TRAILER"},
				body:   "abc",
			},
			{
				name: "repeated headers joined, cookies with ;",
				raw: "GET / HTTP/1.1\r\nHost: h\r\nAccept: text/html\r\nAccept: */*\r\nX-Multi: 1\r\nX-Multi: 2\r\nX-Multi: 3\r\n" +
					"Cookie: a=1\r\nCookie: b=2\r\n\r\n",
				want: map[string]string{"HTTP_ACCEPT": "text/html,*/*", "HTTP_X_MULTI": "1,2,3", "HTTP_COOKIE": "a=1; b=2"},
			},
			{
				name: "latin-1 header bytes byte for byte",
				raw:  "GET / HTTP/1.1\r\nHost: h\r\nX-Latin: caf\xe9 \xff\x80 end\r\nX-Utf8: caf\xc3\xa9\r\n\r\n",
				want: map[string]string{"HTTP_X_LATIN": "caf\xe9 \xff\x80 end", "HTTP_X_UTF8": "caf\xc3\xa9"},
			},
			{
				name:   "underscore headers dropped",
				raw:    "GET / HTTP/1.1\r\nHost: h\r\nX-Auth_User: mallory\r\nX_Forwarded_For: 6.6.6.6\r\n\r\n",
				absent: []string{"HTTP_X_AUTH_USER", "HTTP_X_FORWARDED_FOR"},
			},
			{
				name: "underscore twin cannot shadow the dashed header",
				raw:  "GET / HTTP/1.1\r\nHost: h\r\nX-Auth_User: mallory\r\nX-Auth-User: alice\r\n\r\n",
				want: map[string]string{"HTTP_X_AUTH_USER": "alice"},
			},
			{
				name: "hop-by-hop and Proxy dropped",
				raw: "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n" +
					"Te: trailers\r\nProxy: http://evil:3128\r\nProxy-Connection: keep-alive\r\nTrailer: X-T\r\n" +
					"Upgrade: foo/2\r\nX-Keep: yes\r\n\r\n",
				want: map[string]string{"HTTP_X_KEEP": "yes"},
				absent: []string{"HTTP_CONNECTION", "HTTP_X_HOP", "HTTP_KEEP_ALIVE", "HTTP_TE", "HTTP_PROXY",
					"HTTP_PROXY_CONNECTION", "HTTP_TRAILER", "HTTP_UPGRADE"},
			},
			{
				name: "WithMount",
				raw:  "GET /app/x/y%2Fz?k HTTP/1.1\r\nHost: h\r\nX-Case: mount\r\n\r\n",
				want: map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": "/x/y/z", "QUERY_STRING": "k"},
			},
			{
				name: "WithMount: exactly the prefix",
				raw:  "GET /app HTTP/1.1\r\nHost: h\r\nX-Case: mount\r\n\r\n",
				want: map[string]string{"SCRIPT_NAME": "/app", "PATH_INFO": ""},
			},
			{
				name: "WithMount: outside the prefix",
				raw:  "GET /apple HTTP/1.1\r\nHost: h\r\nX-Case: mount\r\n\r\n",
				want: map[string]string{"SCRIPT_NAME": "", "PATH_INFO": "/apple"},
			},
			{
				name: "WithMount nested",
				raw:  "GET /app/v2/x HTTP/1.1\r\nHost: h\r\nX-Case: nested\r\n\r\n",
				want: map[string]string{"SCRIPT_NAME": "/app/v2", "PATH_INFO": "/x"},
			},
			{
				name: "WithURLScheme https",
				raw:  "GET / HTTP/1.1\r\nHost: secure.example\r\nX-Case: https\r\n\r\n",
				want: map[string]string{"wsgi.url_scheme": "https", "HTTPS": "on", "SERVER_NAME": "secure.example",
					"SERVER_PORT": "443"},
			},
			{
				name: "WithEnviron keys",
				raw:  "GET / HTTP/1.1\r\nHost: h\r\nX-Case: extra\r\nRemote-User: mallory\r\n\r\n",
				want: map[string]string{"graft.request_id": "rid-42", "REMOTE_USER": "alice", "AUTH_TYPE": "Bearer",
					"graft.user_roles": "admin,dev", "HTTP_REMOTE_USER": "mallory"},
			},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp, b := rawHTTP(t, addr, tc.raw)
				if resp.StatusCode != 200 {
					t.Fatalf("status %d: %s\nlog:\n%s", resp.StatusCode, b, a.logs)
				}
				d := decodeEnviron(t, b)
				for _, k := range cgiKeys {
					if _, ok := d.Env[k]; !ok {
						t.Errorf("required key %s missing", k)
					}
				}
				if d.Env["REQUEST_METHOD"] == "" || d.Env["SERVER_NAME"] == "" || d.Env["SERVER_PORT"] == "" {
					t.Errorf("REQUEST_METHOD/SERVER_NAME/SERVER_PORT must not be empty: %q", d.Env)
				}
				if p, err := strconv.Atoi(d.Env["REMOTE_PORT"]); err != nil || p <= 0 {
					t.Errorf("REMOTE_PORT = %q", d.Env["REMOTE_PORT"])
				}
				for k, v := range tc.want {
					if got, ok := d.Env[k]; !ok || got != v {
						t.Errorf("%s = %q (present %v), want %q", k, got, ok, v)
					}
				}
				for _, k := range tc.absent {
					if v, ok := d.Env[k]; ok {
						t.Errorf("%s = %q, want absent", k, v)
					}
				}
				if d.Body != tc.body {
					t.Errorf("body %q, want %q", d.Body, tc.body)
				}
				for k := range d.Env {
					if strings.HasPrefix(k, "HTTP_") && strings.Contains(k, "CONTENT_") && k != "HTTP_X_CONTENT" {
						if k == "HTTP_CONTENT_TYPE" || k == "HTTP_CONTENT_LENGTH" {
							t.Errorf("%s present", k)
						}
					}
				}
			})
		}
	})
}

// TestEnvironWSGIKeys checks the wsgi.* keys and that multithread and
// multiprocess tell the truth.
func TestEnvironWSGIKeys(t *testing.T) {
	cases := []struct {
		name              string
		workers, threads  int
		mthread, mprocess bool
	}{
		{"1 worker 1 thread", 1, 1, false, false},
		{"2 workers", 2, 1, false, true},
		{"4 threads", 1, 4, true, false},
		{"2 workers 2 threads", 2, 2, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			variants(t, "environ_dump", func(t *testing.T, app string) {
				a := startApp(t, app, Config{Workers: tc.workers, Threads: tc.threads}, nil)
				d := decodeEnviron(t, mustGet(t, a.srv.URL+"/x"))
				if !d.Dict {
					t.Error("environ is not a builtin dict")
				}
				if len(d.Version) != 2 || d.Version[0] != 1 || d.Version[1] != 0 {
					t.Errorf("wsgi.version = %v", d.Version)
				}
				if d.Multithread != tc.mthread || d.Multiprocess != tc.mprocess {
					t.Errorf("multithread=%v multiprocess=%v, want %v %v", d.Multithread, d.Multiprocess, tc.mthread, tc.mprocess)
				}
				if d.RunOnce {
					t.Error("wsgi.run_once is true")
				}
				if d.InputTerminated == nil || !*d.InputTerminated {
					t.Error("wsgi.input_terminated is not True")
				}
				if !d.FileWrapper || !d.InputAPI || !d.ErrorsAPI {
					t.Errorf("file_wrapper %v, input API %v, errors API %v", d.FileWrapper, d.InputAPI, d.ErrorsAPI)
				}
				for _, k := range []string{"wsgi.input", "wsgi.errors", "wsgi.version", "wsgi.multithread",
					"wsgi.multiprocess", "wsgi.run_once", "wsgi.file_wrapper"} {
					if _, ok := d.Types[k]; !ok {
						t.Errorf("%s missing", k)
					}
				}
				if d.Env["wsgi.url_scheme"] != "http" {
					t.Errorf("wsgi.url_scheme = %q", d.Env["wsgi.url_scheme"])
				}
				// Only wsgi.*, graft.* and other dotted keys may be non-str (E4).
				for k, typ := range d.Types {
					if !strings.Contains(k, ".") {
						t.Errorf("CGI key %s has type %s, want str", k, typ)
					}
				}
			})
		})
	}
}

// TestEnvironTLS serves over real TLS: url_scheme https and HTTPS=on.
func TestEnvironTLS(t *testing.T) {
	variants(t, "environ_dump", func(t *testing.T, app string) {
		a := startApp(t, app, Config{}, nil)
		srv := httptest.NewTLSServer(a.c)
		defer srv.Close()
		client := srv.Client()
		client.Transport.(*http.Transport).TLSClientConfig.MinVersion = tls.VersionTLS12
		resp, b, err := get(t, client, "GET", srv.URL+"/tls?x=1", nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("status %d err %v: %s", resp.StatusCode, err, b)
		}
		d := decodeEnviron(t, b)
		_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
		want := map[string]string{"wsgi.url_scheme": "https", "HTTPS": "on", "SERVER_NAME": "127.0.0.1",
			"SERVER_PORT": port, "PATH_INFO": "/tls", "QUERY_STRING": "x=1"}
		for k, v := range want {
			if d.Env[k] != v {
				t.Errorf("%s = %q, want %q", k, d.Env[k], v)
			}
		}
	})
}

// TestEnvironHeaderEdges: spaces and tabs at the edges of request header
// values are not in the environ, over HTTP/1.1 (net/http trims them as it
// reads) and HTTP/2 (where it does not: RFC 9113 8.2.1 makes such a field
// malformed), with those inside kept and repeated fields joined. Before,
// HTTP/2 gave the app HTTP_X_PAD " padded \t" where HTTP/1.1 gave "padded".
func TestEnvironHeaderEdges(t *testing.T) {
	a := startApp(t, "environ_dump", Config{}, nil)
	h2 := httptest.NewUnstartedServer(a.c)
	h2.EnableHTTP2 = true
	h2.StartTLS()
	t.Cleanup(h2.Close)
	for _, srv := range []struct {
		name, url, proto string
		c                *http.Client
	}{
		{"HTTP/1.1", a.srv.URL, "HTTP/1.1", a.srv.Client()},
		{"HTTP/2", h2.URL, "HTTP/2.0", h2.Client()},
	} {
		t.Run(srv.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.url+"/", nil)
			req.Header["X-Pad"] = []string{" padded \t"}
			req.Header["X-Inner"] = []string{"in \t ner"}
			req.Header["X-Twice"] = []string{" one", "two\t"}
			resp, err := srv.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.Proto != srv.proto || resp.StatusCode != 200 {
				t.Fatalf("%s %d: %s", resp.Proto, resp.StatusCode, b)
			}
			d := decodeEnviron(t, b)
			for k, v := range map[string]string{"HTTP_X_PAD": "padded", "HTTP_X_INNER": "in \t ner", "HTTP_X_TWICE": "one,two"} {
				if d.Env[k] != v {
					t.Errorf("%s = %q, want %q", k, d.Env[k], v)
				}
			}
		})
	}
}

// TestEnvironScriptName checks Config.ScriptName, alone and with WithMount.
func TestEnvironScriptName(t *testing.T) {
	variants(t, "environ_dump", func(t *testing.T, app string) {
		a := startApp(t, app, Config{ScriptName: "/legacy"}, ctxHandler(func(r *http.Request) context.Context {
			if r.Header.Get("X-Mount") != "" {
				return WithMount(r.Context(), r.Header.Get("X-Mount"))
			}
			return r.Context()
		}))
		cases := []struct{ path, mount, script, pathInfo string }{
			{"/legacy/a%2Fb", "", "/legacy", "/a/b"},
			{"/legacy", "", "/legacy", ""},
			{"/legacy/", "", "/legacy", "/"},
			{"/legacyx", "", "", "/legacyx"},
			{"/other", "", "", "/other"},
			{"/legacy/v2/x", "/v2", "/legacy/v2", "/x"},
			// Matched decoded, as the router routes: an escaped letter
			// is the letter, an escaped slash no boundary.
			{"/%6cegacy/x", "", "/legacy", "/x"},
			{"/%6C%65gacy", "", "/legacy", ""},
			{"/legacy%2Fx", "", "", "/legacy/x"},
			{"/legacy/%76%32/x", "/v2", "/legacy/v2", "/x"},
			{"/legacy/v2%2fx", "/v2", "", "/legacy/v2/x"},
		}
		for _, tc := range cases {
			t.Run(tc.path+tc.mount, func(t *testing.T) {
				raw := "GET " + tc.path + " HTTP/1.1\r\nHost: h\r\n"
				if tc.mount != "" {
					raw += "X-Mount: " + tc.mount + "\r\n"
				}
				_, b := rawHTTP(t, a.srv.Listener.Addr().String(), raw+"\r\n")
				d := decodeEnviron(t, b)
				if d.Env["SCRIPT_NAME"] != tc.script || d.Env["PATH_INFO"] != tc.pathInfo {
					t.Errorf("SCRIPT_NAME %q PATH_INFO %q, want %q %q", d.Env["SCRIPT_NAME"], d.Env["PATH_INFO"], tc.script, tc.pathInfo)
				}
			})
		}
	})
}

// TestContainerEnviron checks Container.Environ without Python.
func TestContainerEnviron(t *testing.T) {
	c, err := NewWithTransport(Config{App: "apps:hello", ScriptName: "/s"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := func(method, target, body string, hdr ...string) *http.Request {
		var r *http.Request
		if body != "" {
			r = httptest.NewRequest(method, target, strings.NewReader(body))
		} else {
			r = httptest.NewRequest(method, target, nil)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Add(hdr[i], hdr[i+1])
		}
		return r
	}
	withCtx := func(r *http.Request, f func(context.Context) context.Context) *http.Request {
		return r.WithContext(f(r.Context()))
	}
	chunked := req("POST", "/s/up", "abc")
	chunked.ContentLength = -1
	cases := []struct {
		name   string
		r      *http.Request
		want   map[string]string
		absent []string
	}{
		{"GET", req("GET", "/s/a%2Fb?q=%20", ""), map[string]string{
			"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/s", "PATH_INFO": "/a/b", "QUERY_STRING": "q=%20",
			"SERVER_NAME": "example.com", "SERVER_PORT": "80", "HTTP_HOST": "example.com", "SERVER_PROTOCOL": "HTTP/1.1",
			"REMOTE_ADDR": "192.0.2.1", "REMOTE_PORT": "1234", "wsgi.url_scheme": "http", "REQUEST_URI": "/s/a%2Fb?q=%20",
		}, []string{"CONTENT_LENGTH", "CONTENT_TYPE", "HTTPS"}},
		{"outside ScriptName", req("GET", "/x", ""), map[string]string{"SCRIPT_NAME": "", "PATH_INFO": "/x"}, nil},
		{"POST", req("POST", "/s/p", "hello", "Content-Type", "text/plain"), map[string]string{
			"CONTENT_LENGTH": "5", "CONTENT_TYPE": "text/plain"}, []string{"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"}},
		{"empty POST", req("POST", "/s/p", ""), map[string]string{"CONTENT_LENGTH": "0"}, nil},
		{"chunked body length unknown", chunked, nil, []string{"CONTENT_LENGTH"}},
		{"https via TLS", req("GET", "https://example.com/s/t", ""), map[string]string{
			"wsgi.url_scheme": "https", "HTTPS": "on", "SERVER_PORT": "443", "PATH_INFO": "/t"}, nil},
		{"https via WithURLScheme", withCtx(req("GET", "/s/t", ""), func(ctx context.Context) context.Context {
			return WithURLScheme(ctx, "https")
		}), map[string]string{"wsgi.url_scheme": "https", "HTTPS": "on", "SERVER_PORT": "443"}, nil},
		{"IPv6 Host", func() *http.Request { r := req("GET", "/", ""); r.Host = "[::1]:8080"; return r }(),
			map[string]string{"SERVER_NAME": "::1", "SERVER_PORT": "8080", "HTTP_HOST": "[::1]:8080"}, nil},
		{"no Host", func() *http.Request { r := req("GET", "/", ""); r.Host = ""; return r }(),
			map[string]string{"SERVER_NAME": "localhost", "SERVER_PORT": "80"}, []string{"HTTP_HOST"}},
		{"no Host, listener address", func() *http.Request {
			r := req("GET", "/", "")
			r.Host = ""
			return r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey,
				&net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 8443}))
		}(), map[string]string{"SERVER_NAME": "10.1.2.3", "SERVER_PORT": "8443"}, nil},
		{"headers", req("GET", "/", "", "Accept", "a", "Accept", "b", "Cookie", "x=1", "Cookie", "y=2",
			"X-Auth_User", "evil", "Connection", "X-Hop", "X-Hop", "1", "Proxy", "p", "Te", "trailers",
			"Keep-Alive", "5", "Upgrade", "u", "X-Custom-Thing", "v"),
			map[string]string{"HTTP_ACCEPT": "a,b", "HTTP_COOKIE": "x=1; y=2", "HTTP_X_CUSTOM_THING": "v"},
			[]string{"HTTP_X_AUTH_USER", "HTTP_X_HOP", "HTTP_PROXY", "HTTP_TE", "HTTP_KEEP_ALIVE", "HTTP_UPGRADE",
				"HTTP_CONNECTION"}},
		{"mount + extra", withCtx(req("GET", "/s/m/x", ""), func(ctx context.Context) context.Context {
			return WithEnviron(WithMount(ctx, "/m"), "graft.request_id", "r1")
		}), map[string]string{"SCRIPT_NAME": "/s/m", "PATH_INFO": "/x", "graft.request_id": "r1"}, nil},
		{"NUL in path", req("GET", "/s/a%00b", ""), map[string]string{"PATH_INFO": "/a\x00b"}, nil},
		{"malformed escapes stay literal", func() *http.Request {
			r := req("GET", "/", "")
			r.RequestURI = "/s/a%zz%4/%%41+"
			return r
		}(), map[string]string{"PATH_INFO": "/a%zz%4/%A+"}, nil},
		{"asterisk", func() *http.Request {
			r := req("OPTIONS", "/", "")
			r.RequestURI = "*"
			return r
		}(), map[string]string{"REQUEST_METHOD": "OPTIONS", "QUERY_STRING": ""}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := c.Environ(tc.r)
			for k, v := range tc.want {
				if got, ok := env[k]; !ok || got != v {
					t.Errorf("%s = %q (present %v), want %q", k, got, ok, v)
				}
			}
			for _, k := range tc.absent {
				if v, ok := env[k]; ok {
					t.Errorf("%s = %q, want absent", k, v)
				}
			}
		})
	}
}

// TestWithEnvironRejectsKeys: only REMOTE_USER, AUTH_TYPE and graft.* are allowed.
func TestWithEnvironRejectsKeys(t *testing.T) {
	for _, key := range []string{"PATH_INFO", "HTTP_X", "wsgi.input", "graft.", "graft.Upper", "graft.a-b", "remote_user", ""} {
		t.Run(key, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("WithEnviron(%q) did not panic", key)
				}
			}()
			WithEnviron(context.Background(), key, "v")
		})
	}
	for _, key := range []string{"REMOTE_USER", "AUTH_TYPE", "graft.request_id", "graft.a.b_c9"} {
		WithEnviron(context.Background(), key, "v") // must not panic
	}
}

// TestContextKeys: the context keys print like chi's.
func TestContextKeys(t *testing.T) {
	for key, want := range map[fmt.Stringer]string{
		reqctx.EnvironKey: "wsgi context value Environ",
		mountCtxKey:       "wsgi context value MountPrefix",
		schemeCtxKey:      "wsgi context value URLScheme",
		reqctx.TraceKey:   "wsgi context value Trace",
	} {
		if got := fmt.Sprint(key); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	ctx := WithMount(WithMount(context.Background(), "/outer/"), "/inner")
	if got := MountPrefix(ctx); got != "/outer/inner" {
		t.Errorf("MountPrefix: %q, want /outer/inner", got)
	}
}

// TestEnvironUnixPeer serves the container on a real Unix socket: a
// client socket without a name (as curl's, nginx's) gives the app
// REMOTE_ADDR "" and no REMOTE_PORT, as gunicorn does (five servers
// compared, docs/wsgi.md, What the app sees); one bound to a path gives
// that path, as gunicorn does. Before, REMOTE_ADDR was "@", net/http's
// RemoteAddr of an unnamed Unix peer on Linux.
func TestEnvironUnixPeer(t *testing.T) {
	a := startApp(t, "environ_dump", Config{}, nil)
	dir := t.TempDir()
	path := dir + "/srv.sock"
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: a.c}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	for _, tc := range []struct {
		name, local, want string
	}{
		{"unnamed", "", ""},
		{"named", dir + "/client.sock", dir + "/client.sock"},
		// A name is never host:port, whatever it holds: gunicorn gives it
		// whole (was REMOTE_ADDR dir+"/client", REMOTE_PORT "1.sock").
		{"named with a colon", dir + "/client:1.sock", dir + "/client:1.sock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				d := net.Dialer{}
				if tc.local != "" {
					d.LocalAddr = &net.UnixAddr{Name: tc.local, Net: "unix"}
				}
				return d.DialContext(ctx, "unix", path)
			}}
			defer tr.CloseIdleConnections()
			resp, b, err := get(t, &http.Client{Transport: tr}, "GET", "http://localhost/", nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("status %d err %v: %s", resp.StatusCode, err, b)
			}
			d := decodeEnviron(t, b)
			if got, ok := d.Env["REMOTE_ADDR"]; !ok || got != tc.want {
				t.Errorf("REMOTE_ADDR = %q (present %v), want %q", got, ok, tc.want)
			}
			if got, ok := d.Env["REMOTE_PORT"]; ok {
				t.Errorf("REMOTE_PORT = %q, want none", got)
			}
		})
	}
}
