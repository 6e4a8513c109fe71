package fallback

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"testing"

	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// seen is what a fake WSGI app observed about a request.
type seen struct {
	method, path, rawPath, requestURI, mount, body string
}

// fakeApp records what the container would be given.
func fakeApp(got *seen) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*got = seen{r.Method, r.URL.Path, r.URL.RawPath, r.RequestURI, wsgi.MountPrefix(r.Context()), string(b)}
		io.WriteString(w, "python")
	}
}

// The SCRIPT_NAME/PATH_INFO split, as far as it is visible without Python:
// the container gets the mount prefix through the context and the request
// unchanged (Tornado §1e 47, 48).
func TestMountPrefix(t *testing.T) {
	var got seen
	app := fakeApp(&got)
	r := router.New()
	r.Get("/users", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "go") })
	r.Mount("/legacy", &Handler{App: app, Prefix: "/legacy/"})
	r.Route("/api", func(r *router.Router) {
		r.Get("/items/{id}", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "go") })
		r.Mount("/old", &Handler{App: app, Prefix: "/api/old"})
	})
	r.Fallback(&Handler{App: app})

	tests := []struct {
		name, method, target string
		want                 seen
	}{
		{"root fallback keeps the full path", "GET", "/app/x/%C3%A9?q=1",
			seen{"GET", "/app/x/é", "", "/app/x/%C3%A9?q=1", "", ""}},
		{"method mismatch", "POST", "/users",
			seen{"POST", "/users", "", "/users", "", "body"}},
		{"unknown method", "PROPFIND", "/users",
			seen{"PROPFIND", "/users", "", "/users", "", "body"}},
		{"mounted", "GET", "/legacy/a/b",
			seen{"GET", "/legacy/a/b", "", "/legacy/a/b", "/legacy", ""}},
		{"mount root", "GET", "/legacy",
			seen{"GET", "/legacy", "", "/legacy", "/legacy", ""}},
		{"escaped slash decoded once", "GET", "/legacy/x%2Fy",
			seen{"GET", "/legacy/x/y", "/legacy/x%2Fy", "/legacy/x%2Fy", "/legacy", ""}},
		{"invalid utf-8 passes", "GET", "/legacy/g/%FF",
			seen{"GET", "/legacy/g/\xff", "", "/legacy/g/%FF", "/legacy", ""}},
		{"mount in subrouter", "DELETE", "/api/old/z",
			seen{"DELETE", "/api/old/z", "", "/api/old/z", "/api/old", ""}},
		{"subrouter miss goes to root fallback", "GET", "/api/nope",
			seen{"GET", "/api/nope", "", "/api/nope", "", ""}},
		{"subrouter mismatch goes to root fallback", "PUT", "/api/items/1",
			seen{"PUT", "/api/items/1", "", "/api/items/1", "", "body"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got = seen{}
			var body io.Reader
			if tc.want.body != "" {
				body = bytes.NewBufferString(tc.want.body)
			}
			d := &router.Dispatch{}
			req := httptest.NewRequest(tc.method, tc.target, body)
			req = req.WithContext(router.WithDispatch(req.Context(), d))
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Body.String() != "python" {
				t.Fatalf("got body %q, want %q", w.Body.String(), "python")
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			if !d.Fallback {
				t.Errorf("Dispatch.Fallback not set")
			}
		})
	}
}

// StripPrefix and ScriptNameHeader serve a reverse proxy to an existing
// WSGI server; gunicorn_test.go checks what a real gunicorn makes of them.
func TestStripPrefixProxy(t *testing.T) {
	type upstream struct{ uri, prefix, script, pathInfo string }
	var got upstream
	var leaked []string // headers that reached the backend with a spoofed value
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = upstream{r.RequestURI, r.Header.Get("X-Forwarded-Prefix"), r.Header.Get("Script_name"), r.Header.Get("Path_info")}
		for k, v := range r.Header {
			if slices.Contains(v, "/evil") || slices.Contains(v, "/admin") {
				leaked = append(leaked, k)
			}
		}
	}))
	defer backend.Close()
	u, _ := url.Parse(backend.URL)
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u) }}
	strip := &Handler{App: proxy, Prefix: "/legacy", StripPrefix: true}
	script := &Handler{App: proxy, Prefix: "/legacy", StripPrefix: true, ScriptNameHeader: true}
	scriptOnly := &Handler{App: proxy, Prefix: "/legacy", ScriptNameHeader: true}

	tests := []struct {
		name   string
		h      *Handler
		target string
		mount  string // enclosing wsgi mount
		spoof  bool
		want   upstream
	}{
		{"strip", strip, "/legacy/a/b?x=1", "", false, upstream{"/a/b?x=1", "/legacy", "", ""}},
		{"strip root", strip, "/legacy", "", false, upstream{"/", "/legacy", "", ""}},
		{"strip keeps an escaped slash encoded", strip, "/legacy/x%2Fy", "", false, upstream{"/x%2Fy", "/legacy", "", ""}},
		{"strip not at a segment boundary", strip, "/legacyx", "", true, upstream{"/legacyx", "", "", ""}},
		{"strip outside the prefix", strip, "/other", "", true, upstream{"/other", "", "", ""}},
		{"strip spoofed headers replaced", strip, "/legacy/a", "", true, upstream{"/a", "/legacy", "", ""}},
		{"strip under an enclosing mount", strip, "/outer/legacy/a", "/outer", false, upstream{"/a", "/outer/legacy", "", ""}},
		{"script name keeps the path", script, "/legacy/a/b?x=1", "", false, upstream{"/legacy/a/b?x=1", "", "/legacy", ""}},
		{"script name root", script, "/legacy", "", false, upstream{"/legacy", "", "/legacy", ""}},
		{"script name escaped slash", script, "/legacy/x%2Fy", "", false, upstream{"/legacy/x%2Fy", "", "/legacy", ""}},
		{"script name not at a segment boundary", script, "/legacyx", "", true, upstream{"/legacyx", "", "", ""}},
		{"script name outside the prefix", script, "/other", "", true, upstream{"/other", "", "", ""}},
		{"script name spoofed headers replaced", script, "/legacy/a", "", true, upstream{"/legacy/a", "", "/legacy", ""}},
		{"script name under an enclosing mount", script, "/outer/legacy/a", "/outer", false, upstream{"/outer/legacy/a", "", "/outer/legacy", ""}},
		{"script name without StripPrefix", scriptOnly, "/legacy/a", "", true, upstream{"/legacy/a", "", "/legacy", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, leaked = upstream{}, nil
			req := httptest.NewRequest("GET", tc.target, nil)
			if tc.mount != "" {
				req = req.WithContext(wsgi.WithMount(req.Context(), tc.mount))
			}
			if tc.spoof {
				req.Header.Set("X-Forwarded-Prefix", "/evil")
				req.Header["SCRIPT_NAME"] = []string{"/evil"}
				req.Header.Set("Script_name", "/evil")
				req.Header["script_name"] = []string{"/evil"}
				req.Header.Set("Path_info", "/admin")
				req.Header["PATH_INFO"] = []string{"/admin"}
				// gunicorn 20 reads these as the same headers.
				req.Header["X_Forwarded_Prefix"] = []string{"/evil"}
				req.Header["x-forwarded_prefix"] = []string{"/evil"}
				req.Header["Script-Name"] = []string{"/evil"}
				req.Header["Path-Info"] = []string{"/admin"}
			}
			w := httptest.NewRecorder()
			tc.h.ServeHTTP(w, req)
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			if len(leaked) > 0 {
				t.Errorf("spoofed headers reached the backend: %v", leaked)
			}
			if tc.spoof && req.Header.Get("X-Forwarded-Prefix") != "/evil" {
				t.Errorf("the caller's request was modified")
			}
		})
	}
}

func TestMisconfigured(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	for _, tc := range []struct {
		name string
		h    *Handler
		err  error
	}{
		{"nil app", &Handler{Logger: logger}, ErrNoApp},
		{"relative prefix", &Handler{App: http.NotFoundHandler(), Prefix: "legacy", Logger: logger}, ErrBadPrefix},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			tc.h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
			if w.Code != http.StatusBadGateway {
				t.Errorf("got %d, want 502", w.Code)
			}
			var got error
			tc.h.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) { got = err }
			tc.h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
			if !errors.Is(got, tc.err) {
				t.Errorf("ErrorHandler got %v, want %v", got, tc.err)
			}
		})
	}
	if !bytes.Contains(logs.Bytes(), []byte("fallback: misconfigured")) {
		t.Errorf("nothing logged: %q", logs.String())
	}
}

func TestInventoryTarget(t *testing.T) {
	r := router.New()
	r.Mount("/legacy", &Handler{App: http.NotFoundHandler(), Prefix: "/legacy"})
	inv := r.Inventory()
	if len(inv) != 1 || inv[0].Target != router.TargetFallback || inv[0].Pattern != "/legacy/*" {
		t.Errorf("got %+v", inv)
	}
}

// TestMisconfiguredHead: a HEAD answered by a custom ErrorHandler that
// writes a status alone carries GET's Content-Length: 0, as the default
// answer's does (net/http sets it on the GET only).
func TestMisconfiguredHead(t *testing.T) {
	h := &Handler{ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}}
	ts := httptest.NewServer(h)
	defer ts.Close()
	for _, method := range []string{"GET", "HEAD"} {
		req, _ := http.NewRequest(method, ts.URL+"/", nil)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Content-Length") != "0" {
			t.Errorf("%s: %d, Content-Length %q; want 503 and 0", method, resp.StatusCode, resp.Header.Get("Content-Length"))
		}
	}
}
