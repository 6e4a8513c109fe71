package fallback_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"

	"github.com/graft-dev/graft/fallback"
	"github.com/graft-dev/graft/router"
)

// Teams not ready to run Python in-process keep gunicorn and put a reverse
// proxy behind the fallback. Here the old app is mounted at /legacy.
func ExampleHandler_reverseProxy() {
	gunicorn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "python saw %s, prefix %s", r.URL.Path, r.Header.Get("X-Forwarded-Prefix"))
	}))
	defer gunicorn.Close()
	target, _ := url.Parse(gunicorn.URL)
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host // redirects and absolute URLs name the client's host
	}}

	r := router.New()
	r.Get("/users", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "go") })
	r.Mount("/legacy", &fallback.Handler{App: proxy, Prefix: "/legacy", StripPrefix: true})

	for _, p := range []string{"/users", "/legacy/blog/1"} {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", p, nil))
		fmt.Println(p, "->", w.Body.String())
	}
	// Output:
	// /users -> go
	// /legacy/blog/1 -> python saw /blog/1, prefix /legacy
}

// In front of gunicorn, ScriptNameHeader sends the path whole with a
// SCRIPT_NAME header: gunicorn cuts the prefix off itself, and the app sees
// SCRIPT_NAME=/legacy, PATH_INFO=/blog/1, as it would in-process.
func ExampleHandler_gunicorn() {
	gunicorn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "gunicorn got %s, SCRIPT_NAME %s", r.URL.Path, r.Header.Get("Script_name"))
	}))
	defer gunicorn.Close()
	target, _ := url.Parse(gunicorn.URL)
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host
	}}

	r := router.New()
	r.Mount("/legacy", &fallback.Handler{App: proxy, Prefix: "/legacy", ScriptNameHeader: true})

	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "/legacy/blog/1", nil))
	fmt.Println(w.Body.String())
	// Output:
	// gunicorn got /legacy/blog/1, SCRIPT_NAME /legacy
}
