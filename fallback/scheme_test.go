package fallback

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// The scheme a real Flask app sees (request.scheme, url_for with
// _external=True) behind graft with a trusted proxy is the one it sees
// behind gunicorn 20 with the same proxy: gunicorn's secure_scheme_headers
// (X-Forwarded-Proto: https, X-Forwarded-Ssl: on, X-Forwarded-Protocol:
// ssl) make it https, and headers that say different schemes are answered
// 400 "Contradictory scheme headers" by both. Before, graft read
// X-Forwarded-Proto only: behind a proxy that writes X-Forwarded-Ssl the
// app built http:// URLs.
func TestSchemeHeadersLikeGunicorn(t *testing.T) {
	py := pythontest.Python(t, "flask", "gunicorn")
	logs := &pythontest.Buffer{}
	td, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	c, err := wsgi.New(wsgi.Config{App: "schemeapp:app", Python: py, Dir: td, Workers: 1, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown(context.Background()) })
	r := router.New()
	// the test's client, on 127.0.0.1, is the trusted proxy
	r.Use(middleware.Stack(middleware.Options{Logger: slog.New(slog.NewTextHandler(logs, nil)), Proxies: middleware.MustParseProxies("127.0.0.1")}))
	r.Fallback(&Handler{App: c})
	graft := httptest.NewServer(r)
	defer graft.Close()

	// gunicorn trusts 127.0.0.1 by default (forwarded_allow_ips), where
	// the reverse proxy connects from; it passes the headers on as sent.
	proxy, glogs := startGunicorn(t, "schemeapp:app")
	rewrite := proxy.Rewrite
	proxy.Rewrite = func(pr *httputil.ProxyRequest) {
		rewrite(pr)
		if v, ok := pr.In.Header["X-Forwarded-Proto"]; ok { // removed by Rewrite
			pr.Out.Header["X-Forwarded-Proto"] = v
		}
	}
	gunicorn := httptest.NewServer(proxy)
	defer gunicorn.Close()

	type seen struct {
		Status   int
		Scheme   string `json:"scheme"`
		External string `json:"external"` // with the front server's host as HOST
	}
	client := &http.Client{Timeout: 60 * time.Second} // the first request waits for the apps to start
	ask := func(t *testing.T, base string, header map[string]string) seen {
		req, err := http.NewRequest("GET", base+"/where/x", nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%v\nlogs:\n%s\n%s", err, logs.String(), glogs.String())
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got := seen{Status: resp.StatusCode}
		if resp.StatusCode != http.StatusOK {
			if !strings.Contains(string(body), "Contradictory scheme headers") {
				t.Errorf("%s: status %d: %s", base, resp.StatusCode, body)
			}
			return got
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		got.External = strings.Replace(got.External, strings.TrimPrefix(base, "http://"), "HOST", 1)
		return got
	}
	ok := func(scheme string) seen { return seen{200, scheme, scheme + "://HOST/where/x"} }
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   seen
	}{
		{"none", nil, ok("http")},
		{"x-forwarded-proto", map[string]string{"X-Forwarded-Proto": "https"}, ok("https")},
		{"x-forwarded-ssl", map[string]string{"X-Forwarded-Ssl": "on"}, ok("https")},
		{"x-forwarded-ssl off", map[string]string{"X-Forwarded-Ssl": "off"}, ok("http")},
		{"x-forwarded-protocol", map[string]string{"X-Forwarded-Protocol": "ssl"}, ok("https")},
		{"all three", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on", "X-Forwarded-Protocol": "ssl"}, ok("https")},
		{"proto http, ssl off", map[string]string{"X-Forwarded-Proto": "http", "X-Forwarded-Ssl": "off"}, ok("http")},
		{"proto http, ssl on", map[string]string{"X-Forwarded-Proto": "http", "X-Forwarded-Ssl": "on"}, seen{Status: 400}},
		{"proto https, ssl off", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "off"}, seen{Status: 400}},
		{"ssl on, protocol http", map[string]string{"X-Forwarded-Ssl": "on", "X-Forwarded-Protocol": "http"}, seen{Status: 400}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, want := ask(t, graft.URL, tc.header), ask(t, gunicorn.URL, tc.header)
			if want != tc.want {
				t.Errorf("gunicorn: %+v; the test expects %+v", want, tc.want)
			}
			if g != want {
				t.Errorf("graft: %+v; gunicorn: %+v", g, want)
			}
		})
	}
}
