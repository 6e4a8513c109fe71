package router_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/graft-dev/graft/router"
)

func get(h http.Handler, method, host, path string) {
	req := httptest.NewRequest(method, path, nil)
	if host != "" {
		req.Host = host
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	fmt.Printf("%s %s%s -> %d %s\n", method, host, path, w.Code, w.Body.String())
}

// A Router serves the routes already ported to Go and sends everything else,
// including other methods on the same paths, to the Python app.
func ExampleRouter_Fallback() {
	python := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "python")
	})

	r := router.New()
	r.Get("/users", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "go") })
	r.Get("/orders", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "go") }).Allow()
	r.Fallback(python)

	get(r, "GET", "", "/users")
	get(r, "POST", "", "/users")
	get(r, "GET", "", "/blog/1")
	get(r, "POST", "", "/orders")
	// Output:
	// GET /users -> 200 go
	// POST /users -> 200 python
	// GET /blog/1 -> 200 python
	// POST /orders -> 405
}

// Named routes are reversed into paths, with the parameters
// percent-encoded.
func ExampleRouter_URL() {
	r := router.New()
	r.Route("/users/{id}", func(r *router.Router) {
		r.Get("/", http.NotFound).Name("user")
		r.Get("/files/*", http.NotFound).Name("user-file")
	})

	u, _ := r.URL("user", "id", "42")
	fmt.Println(u)
	u, _ = r.URL("user-file", "id", "a b", "*", "docs/1 + 1.txt")
	fmt.Println(u)
	_, err := r.URL("user")
	fmt.Println(err)
	// Output:
	// /users/42/
	// /users/a%20b/files/docs/1%20%2B%201.txt
	// router: missing route parameter "id" for route "user" (/users/{id}/)
}

// Hosts sends each host to its own Router, with a default for the others.
func ExampleHosts() {
	say := func(s string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, s) }
	}
	h := router.NewHosts()
	h.Host("api.example.com").Get("/", say("api"))
	h.Host("*.example.com").Get("/", say("tenant"))
	def := router.New()
	def.Get("/", say("www"))
	h.Default(def)

	get(h, "GET", "API.example.com:8443", "/")
	get(h, "GET", "acme.example.com", "/")
	get(h, "GET", "example.org", "/")
	// Output:
	// GET API.example.com:8443/ -> 200 api
	// GET acme.example.com/ -> 200 tenant
	// GET example.org/ -> 200 www
}
