package fallback

import (
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/router"
)

// requireGunicorn fails the test unless gunicorn and Flask are importable
// by testPython.
func requireGunicorn(t testing.TB) {
	t.Helper()
	pythontest.Python(t, "gunicorn", "flask")
}

// startGunicorn runs a real gunicorn serving app (module:callable in
// testdata/) on a listener handed over as fd 3, and returns a reverse
// proxy to it and gunicorn's log. args are more gunicorn options. gunicorn
// stops when the test ends.
func startGunicorn(t *testing.T, app string, args ...string) (*httputil.ReverseProxy, *pythontest.Buffer) {
	t.Helper()
	requireGunicorn(t)
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	addr, logs := pythontest.Gunicorn(t, dir, app, args...)
	target := &url.URL{Scheme: "http", Host: addr}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // the app builds absolute URLs for the client's host
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			t.Errorf("proxy to gunicorn: %v\ngunicorn log:\n%s", err, logs.String())
			w.WriteHeader(http.StatusBadGateway)
		},
	}, logs
}

// observed is what testdata/prefixapp.py reports.
type observed struct {
	ScriptName      string `json:"script_name"`
	PathInfo        string `json:"path_info"`
	RawURI          string `json:"raw_uri"`
	Rest            string `json:"rest"`
	URLFor          string `json:"url_for"`
	ForwardedPrefix string `json:"forwarded_prefix"`
	PathInfoHeader  string `json:"path_info_header"`
}

type gunicornCase struct {
	name, method, target string
	header               map[string]string // sent as is, not canonicalised
	want                 observed
	redirect             string // if set, the app must answer 308 to the front server's URL + redirect

}

// spoof is what a client may send to choose the prefix the app sees.
// gunicorn 20 reads X_Forwarded_Prefix as HTTP_X_FORWARDED_PREFIX, after
// the Handler's own X-Forwarded-Prefix, and ProxyFix takes the last value.
var spoof = map[string]string{
	"SCRIPT_NAME": "/evil", "script_name": "/evil", "PATH_INFO": "/admin",
	"X-Forwarded-Prefix": "/evil", "X_Forwarded_Prefix": "/evil", "x-forwarded_prefix": "/evil",
}

// runGunicornCases sends each case through a front server serving h to
// gunicorn and compares what the Flask app saw.
func runGunicornCases(t *testing.T, h http.Handler, logs *pythontest.Buffer, cases []gunicornCase) {
	front := httptest.NewServer(h)
	defer front.Close()
	client := &http.Client{
		Timeout:       60 * time.Second, // the first request waits for gunicorn to boot
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, front.URL+tc.target, strings.NewReader("body"))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header[k] = []string{v}
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%v\ngunicorn log:\n%s", err, logs.String())
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tc.redirect != "" {
				if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusPermanentRedirect || loc != front.URL+tc.redirect {
					t.Fatalf("got %d to %q, want 308 to %q", resp.StatusCode, loc, front.URL+tc.redirect)
				}
				return
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s\ngunicorn log:\n%s", resp.StatusCode, body, logs.String())
			}
			var got observed
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// ScriptNameHeader in front of a real gunicorn: gunicorn splits
// SCRIPT_NAME off the path itself, so the path reaches it whole, and the
// app sees the mount as SCRIPT_NAME, the rest decoded once as PATH_INFO,
// the client's URI as RAW_URI, and url_for builds URLs under the mount.
// Before the fix the path was stripped and gunicorn answered 500.
func TestGunicornScriptNameHeader(t *testing.T) {
	proxy, logs := startGunicorn(t, "prefixapp:app")
	r := router.New()
	r.Get("/go", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "go") })
	r.Mount("/legacy", &Handler{App: proxy, Prefix: "/legacy", StripPrefix: true, ScriptNameHeader: true})
	r.Fallback(&Handler{App: proxy, StripPrefix: true, ScriptNameHeader: true})

	under := func(pathInfo, rawURI, rest string) observed {
		return observed{ScriptName: "/legacy", PathInfo: pathInfo, RawURI: rawURI, Rest: rest, URLFor: "/legacy/a%20b/c"}
	}
	runGunicornCases(t, r, logs, []gunicornCase{
		{"mounted", "GET", "/legacy/a/b?x=1", nil, under("/a/b", "/legacy/a/b?x=1", "a/b"), ""},
		{"post", "POST", "/legacy/a", nil, under("/a", "/legacy/a", "a"), ""},
		// PATH_INFO "": Flask redirects to the mount root with a slash.
		{name: "mount root", method: "GET", target: "/legacy", redirect: "/legacy/"},
		{"mount root with slash", "GET", "/legacy/", nil, under("/", "/legacy/", ""), ""},
		{"escaped slash decoded once", "GET", "/legacy/x%2Fy", nil, under("/x/y", "/legacy/x%2Fy", "x/y"), ""},
		{"utf-8", "GET", "/legacy/caf%C3%A9", nil, under("/caf\u00c3\u00a9", "/legacy/caf%C3%A9", "café"), ""},
		{"prefix repeated in the path", "GET", "/legacy/x/legacy/y", nil,
			under("/x/legacy/y", "/legacy/x/legacy/y", "x/legacy/y"), ""},
		{"spoofed headers under the mount", "GET", "/legacy/a", spoof, under("/a", "/legacy/a", "a"), ""},
		{"root fallback", "GET", "/blog/1", nil,
			observed{PathInfo: "/blog/1", RawURI: "/blog/1", Rest: "blog/1", URLFor: "/a%20b/c"}, ""},
		{"spoofed headers at the root", "GET", "/blog/1", spoof,
			observed{PathInfo: "/blog/1", RawURI: "/blog/1", Rest: "blog/1", URLFor: "/a%20b/c"}, ""},
	})
}

// StripPrefix alone, for apps that read X-Forwarded-Prefix with werkzeug's
// ProxyFix(x_prefix=1): the path reaches gunicorn stripped.
func TestGunicornStripPrefix(t *testing.T) {
	proxy, logs := startGunicorn(t, "prefixapp:proxyfix")
	r := router.New()
	r.Get("/go", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "go") })
	r.Mount("/legacy", &Handler{App: proxy, Prefix: "/legacy", StripPrefix: true})
	r.Fallback(&Handler{App: proxy, StripPrefix: true})

	under := func(pathInfo, rawURI, rest string) observed {
		return observed{ScriptName: "/legacy", PathInfo: pathInfo, RawURI: rawURI, Rest: rest,
			URLFor: "/legacy/a%20b/c", ForwardedPrefix: "/legacy"}
	}
	runGunicornCases(t, r, logs, []gunicornCase{
		{"mounted", "GET", "/legacy/a/b?x=1", nil, under("/a/b", "/a/b?x=1", "a/b"), ""},
		{"mount root", "GET", "/legacy", nil, under("/", "/", ""), ""},
		{"escaped slash decoded once", "GET", "/legacy/x%2Fy", nil, under("/x/y", "/x%2Fy", "x/y"), ""},
		{"spoofed headers under the mount", "GET", "/legacy/a", spoof, under("/a", "/a", "a"), ""},
		{"spoofed headers at the root", "GET", "/blog/1", spoof,
			observed{PathInfo: "/blog/1", RawURI: "/blog/1", Rest: "blog/1", URLFor: "/a%20b/c"}, ""},
	})
}

// A client's forwarding headers, in any spelling, reach neither a real
// gunicorn 20 nor the app behind it (ProxyFix with x_for, x_proto, x_host
// and x_prefix): middleware.TrustProxies removes X_Forwarded_For,
// X_Forwarded_Host and X_Forwarded_Proto as it removes X-Forwarded-For,
// and the Handler removes X_Forwarded_Prefix. The proxy sets the hyphenated
// headers from what graft resolved (SetXForwarded). Before the fix, the
// client's values reached the app (gunicorn joins both spellings into one
// key, the client's last) and ProxyFix believed them.
func TestGunicornForwardingSpellings(t *testing.T) {
	proxy, logs := startGunicorn(t, "forwardapp:app")
	rewrite := proxy.Rewrite
	proxy.Rewrite = func(pr *httputil.ProxyRequest) {
		rewrite(pr)
		pr.SetXForwarded()
	}
	r := router.New()
	r.Mount("/legacy", &Handler{App: proxy, Prefix: "/legacy", StripPrefix: true})
	r.Fallback(&Handler{App: proxy, StripPrefix: true})
	untrusted := middleware.TrustProxies(nil)(r)
	trusted := middleware.TrustProxies(middleware.MustParseProxies("127.0.0.1").TrustHost())(r)

	// what a client sends to choose its address, host, scheme and prefix
	spoofed := map[string]string{
		"X_Forwarded_For": "6.6.6.6", "X_Forwarded_Host": "evil.example", "X_Forwarded_Proto": "https",
		"X_Forwarded_Prefix": "/evil", "x-forwarded_for": "6.6.6.6", "X-FORWARDED_HOST": "evil.example",
	}
	// what a trusted proxy in front of graft adds to them
	proxied := maps.Clone(spoofed)
	proxied["X-Forwarded-For"] = "203.0.113.9"
	proxied["X-Forwarded-Host"] = "www.example.com"

	type seen struct {
		RemoteAddr string `json:"remote_addr"`
		Host       string `json:"host"`
		Scheme     string `json:"scheme"`
		ScriptName string `json:"script_name"`
	}
	tests := []struct {
		name   string
		h      http.Handler
		target string
		header map[string]string
		want   seen // Host "front" is the front server's address
	}{
		{"untrusted client, root", untrusted, "/a", spoofed, seen{"127.0.0.1", "front", "http", ""}},
		{"untrusted client, mounted", untrusted, "/legacy/a", spoofed, seen{"127.0.0.1", "front", "http", "/legacy"}},
		{"trusted proxy passing the client's", trusted, "/legacy/a", proxied, seen{"203.0.113.9", "www.example.com", "http", "/legacy"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			front := httptest.NewServer(tc.h)
			defer front.Close()
			if tc.want.Host == "front" {
				tc.want.Host = strings.TrimPrefix(front.URL, "http://")
			}
			req, err := http.NewRequest("GET", front.URL+tc.target, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header[k] = []string{v}
			}
			client := &http.Client{Timeout: 60 * time.Second} // the first request waits for gunicorn to boot
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%v\ngunicorn log:\n%s", err, logs.String())
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s\ngunicorn log:\n%s", resp.StatusCode, body, logs.String())
			}
			var got seen
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestGunicornSendfile puts Sendfile in front of a reverse proxy to a real
// gunicorn running testdata/flaskdl.py. httputil.ReverseProxy aborts the
// response (panics with http.ErrAbortHandler) when a write of the body
// fails, as the first write of a body Go discards does: before the fix, an
// app that sent a body along with X-Sendfile left the client with a cut
// connection instead of the file.
func TestGunicornSendfile(t *testing.T) {
	d := newDownloads(t)
	t.Setenv("GRAFT_DL_DIR", d.dir)
	t.Setenv("GRAFT_DL_LOG", filepath.Join(t.TempDir(), "streamed"))
	proxy, logs := startGunicorn(t, "flaskdl:app")
	srv := httptest.NewServer(&Handler{App: proxy, Sendfile: &Sendfile{Roots: []string{d.dir},
		Logger: slog.New(slog.NewTextHandler(logs, nil))}})
	t.Cleanup(srv.Close)
	runDL(t, srv, logs, []dlCase{
		{name: "empty body", target: "/files/a.txt?token=ok", code: 200, body: d.content,
			want: map[string]string{"Content-Length": "1000", "Content-Disposition": "attachment; filename=a.txt"}},
		{name: "body discarded", target: "/streamed/a.txt", code: 200, body: d.content,
			want: map[string]string{"Content-Length": "1000", "Content-Type": "text/plain; charset=utf-8"}},
		{name: "body discarded, range", target: "/streamed/a.txt", header: map[string]string{"Range": "bytes=10-19"},
			code: 206, body: "0123456789"},
		{name: "body discarded, head", method: "HEAD", target: "/streamed/a.txt", code: 200, body: "-",
			want: map[string]string{"Content-Length": "1000"}},
		{name: "error status passes", target: "/denied", code: 403, body: "no"},
		{name: "outside the roots", target: "/path?p=" + d.secret, code: 500},
	})
	// gunicorn's connection was closed mid-body; the next request is served.
	resp, err := srv.Client().Get(srv.URL + "/ping")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("ping after a discarded body: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestGunicornSendfileKeepAlive: under gunicorn's gthread worker, which
// keeps the connection open after Werkzeug's send_file declared the file's
// Content-Length and sent nothing, the proxy waited for those bytes until
// gunicorn's keep-alive timeout (an hour here; 2 seconds by default) before
// Go sent the file. Sendfile.ModifyResponse drops the body unread. The
// client's timeout only turns that wait into a failure; the proxy's error
// log must stay empty (without ModifyResponse it reads "read error during
// body copy" under the sync worker).
func TestGunicornSendfileKeepAlive(t *testing.T) {
	d := newDownloads(t)
	t.Setenv("GRAFT_DL_DIR", d.dir)
	t.Setenv("GRAFT_DL_LOG", filepath.Join(t.TempDir(), "streamed"))
	for _, worker := range [][]string{{"--worker-class", "sync"}, {"--worker-class", "gthread", "--threads", "2"}} {
		t.Run(worker[1], func(t *testing.T) {
			proxy, logs := startGunicorn(t, "flaskdl:app", append(worker, "--keep-alive", "3600")...)
			sf := &Sendfile{Roots: []string{d.dir}, Logger: slog.New(slog.NewTextHandler(logs, nil))}
			proxy.ModifyResponse = sf.ModifyResponse
			proxyLog := &pythontest.Buffer{}
			proxy.ErrorLog = log.New(proxyLog, "", 0)
			srv := httptest.NewServer(&Handler{App: proxy, Sendfile: sf})
			t.Cleanup(srv.Close)
			srv.Client().Timeout = 30 * time.Second
			runDL(t, srv, logs, []dlCase{
				{name: "download", target: "/files/a.txt?token=ok", code: 200, body: d.content,
					want: map[string]string{"Content-Length": "1000", "Content-Disposition": "attachment; filename=a.txt"}},
				{name: "again", target: "/files/a.txt?token=ok", code: 200, body: d.content},
				{name: "body discarded", target: "/streamed/a.txt", code: 200, body: d.content},
				{name: "range", target: "/files/a.txt?token=ok", header: map[string]string{"Range": "bytes=10-19"},
					code: 206, body: "0123456789"},
				{name: "error status keeps its body", target: "/denied", code: 403, body: "no"},
				{name: "no file", target: "/ping", code: 200, body: "pong"},
			})
			if s := proxyLog.String(); s != "" {
				t.Errorf("the proxy logged:\n%s", s)
			}
		})
	}
}
