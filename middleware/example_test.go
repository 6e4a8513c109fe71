package middleware_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"

	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// Forwarding headers count only when the socket peer is a trusted proxy.
// These proxies set X-Forwarded-Host, so the host is read too (TrustHost).
func ExampleTrustProxies() {
	show := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(r.RemoteAddr, middleware.Scheme(r), r.Host)
	})
	h := middleware.TrustProxies(middleware.MustParseProxies("10.0.0.0/8").TrustHost())(show)

	for _, peer := range []string{"10.0.0.1:4000", "203.0.113.9:4000"} {
		req := httptest.NewRequest("GET", "http://internal:8080/", nil)
		req.RemoteAddr = peer
		req.Header.Set("X-Forwarded-For", "198.51.100.7, 10.0.0.3")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-Host", "www.example.com")
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	// Output:
	// 198.51.100.7:0 https www.example.com
	// 203.0.113.9:4000 http internal:8080
}

// Go authentication middleware hands the user to the Python app as
// REMOTE_USER.
func ExampleWithRemoteUser() {
	authenticate := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// ... check the session or token, then:
			ctx := middleware.WithRemoteUser(r.Context(), "alice", "Bearer")
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
	python := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env := wsgi.ExtraEnviron(r.Context()) // what the container adds to the environ
		fmt.Println(env["REMOTE_USER"], env["AUTH_TYPE"])
	})

	r := router.New()
	r.Use(authenticate)
	r.Fallback(python)
	req := httptest.NewRequest("GET", "/profile", nil)
	req.Header.Set("Remote-User", "mallory") // becomes HTTP_REMOTE_USER at most
	r.ServeHTTP(httptest.NewRecorder(), req)
	// Output:
	// alice Bearer
}

// A handler adds attributes to its request's access line.
func ExampleSetAttrs() {
	keep := []string{"level", "http.response.status_code", "http.route", "graft.order"}
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if !slices.Contains(keep, a.Key) { // leave out what changes from run to run
				return slog.Attr{}
			}
			return a
		},
	}))
	r := router.New()
	r.Use(middleware.Stack(middleware.Options{Logger: logger}))
	r.Post("/orders", func(w http.ResponseWriter, r *http.Request) {
		middleware.SetAttrs(r.Context(), slog.Int("graft.order", 42))
		w.WriteHeader(http.StatusCreated)
	})
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/orders", nil))
	// Output:
	// level=INFO http.response.status_code=201 graft.order=42 http.route=/orders
}
