package wsgi_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/graft-dev/graft/fallback"
	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// The README's hybrid server, run: bind first, start the workers, route
// one path to Go and everything else to the Python app, and serve. A Go
// route takes over only the methods it registers: POST /api/users/7
// still reaches Python.
func Example_hybrid() {
	python := os.Getenv("GRAFT_PYTHON")
	if python == "" {
		python = "/usr/bin/python3" // Debian's interpreter
	}
	logger := slog.New(slog.DiscardHandler)

	ls, err := wsgi.Listen(wsgi.ListenConfig{Binds: []string{"127.0.0.1:0"}})
	if err != nil {
		log.Fatal(err) // the port is in use: no Python started
	}
	defer ls.Close()
	app, err := wsgi.New(wsgi.Config{App: "apps:hello", Dir: "testdata", Python: python, Workers: 1, Logger: logger})
	if err != nil {
		log.Fatal(err) // the app did not import: the Python traceback is in err
	}

	r := router.New()
	r.Use(middleware.Stack(middleware.Options{Logger: logger})) // request ids, access log, recovery
	r.Get("/api/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Go: user %s\n", router.Param(r, "id"))
	}).Name("user") // this route is Go now
	r.Fallback(&fallback.Handler{App: app}) // everything else is still Python

	// Serve until ctx is done (a real main leaves the signals to Serve:
	// SIGTERM drains, SIGHUP reloads the workers).
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- wsgi.Serve(ctx, ls, r, app, wsgi.ServeConfig{NoSignals: true}) }()

	base := "http://" + ls.Main[0].Addr().String()
	for _, req := range []struct{ method, path string }{
		{"GET", "/api/users/7"}, {"POST", "/api/users/7"}, {"GET", "/blog/1"},
	} {
		hr, err := http.NewRequest(req.method, base+req.path, strings.NewReader(""))
		if err != nil {
			log.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s %s: %d %s", req.method, req.path, resp.StatusCode, body)
	}
	stop()
	if err := <-served; err != nil {
		log.Fatal(err)
	}
	// Output:
	// GET /api/users/7: 200 Go: user 7
	// POST /api/users/7: 200 Hello, world!
	// GET /blog/1: 200 Hello, world!
}
