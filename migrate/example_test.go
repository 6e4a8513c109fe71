package migrate_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/migrate"
	"github.com/graft-dev/graft/router"
)

// A Go route is deployed dark, then flipped to Go through the admin API;
// the kill switch sends it back to Python on the next request.
func ExampleNew() {
	r := router.New()
	r.Get("/api/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "go\n")
	})
	// In a real app the fallback is the wsgi.Container running Python.
	r.Fallback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "python\n")
	}))
	m, err := migrate.New(r, migrate.Options{
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registerer: prometheus.NewRegistry(),
		Routes:     []migrate.RouteConfig{{Route: "GET /api/users/{id}", Stage: migrate.StagePython}},
	})
	if err != nil {
		panic(err)
	}
	admin := m.Handler(migrate.AdminOptions{}) // serve it behind your own auth

	get := func() string {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest("GET", "/api/users/1", nil))
		return strings.TrimSpace(rec.Body.String())
	}
	post := func(path, body string) int {
		// The admin handler answers IP addresses and localhost (and
		// AdminOptions.Hosts): here, the listener's address.
		req := httptest.NewRequest("POST", "http://127.0.0.1:9091"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		admin.ServeHTTP(rec, req)
		return rec.Code
	}
	fmt.Println(get())
	fmt.Println(post("/routes", `{"route": "GET /api/users/{id}", "stage": "go"}`), get())
	fmt.Println(post("/force-python", `{"all": true, "on": true}`), get())
	// Output:
	// python
	// 200 go
	// 200 python
}

// Compare reports differences per JSON pointer; key order, whitespace and
// Python's 1.0 against Go's 1 do not count.
func ExampleCompare() {
	resp := func(body string) *migrate.Response {
		return &migrate.Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body)}
	}
	python := resp(`{"name": "Ada", "score": 1.0, "tags": ["a", "b"]}`)
	gov := resp(`{"tags":["a","c"],"score":1,"name":"Ada"}`)
	for _, d := range migrate.Compare(python, gov, migrate.CompareOptions{}) {
		fmt.Printf("%s: %s -> %s\n", d.Pointer, d.Python, d.Go)
	}
	// Output:
	// /tags/1: "b" -> "c"
}
