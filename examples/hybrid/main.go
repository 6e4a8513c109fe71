// Command hybrid is graft's main example: one Go server that answers some
// routes natively in Go and passes everything else to a Python WSGI app.
//
//	hybrid [-bind 127.0.0.1:8000] [-python python3] [-chdir DIR]
//	       [-workers N] [-threads N] [-mount PREFIX] [module:callable]
//
// With no module:callable it serves a small standard-library WSGI app that
// ships inside the binary, so it runs on any machine with python3. Go
// serves GET /api/health, GET /api/users/{id}, GET /api/hello/{name} and
// GET /api/routes (the route inventory); every other request, including
// other methods on those paths, reaches Python. -mount serves the Python
// app under a prefix only (it then sees SCRIPT_NAME=PREFIX). Request ids
// and access logs are on; logs go to stderr.
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/graft-dev/graft/fallback"
	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

//go:embed pyapp/legacy.py
var legacyApp []byte

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "hybrid:", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	bind, python, chdir, mount, app string
	workers, threads                int
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("hybrid", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: hybrid [flags] [module:callable]\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.bind, "bind", "127.0.0.1:8000", "address to listen on")
	fs.StringVar(&o.python, "python", "python3", "Python interpreter that runs the workers")
	fs.StringVar(&o.chdir, "chdir", "", "directory of the Python app, prepended to sys.path")
	fs.IntVar(&o.workers, "workers", 2, "number of Python worker processes")
	fs.IntVar(&o.threads, "threads", 1, "threads per worker process")
	fs.StringVar(&o.mount, "mount", "", "serve the Python app under this prefix only (default: it gets every path Go does not serve)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch fs.NArg() {
	case 0:
	case 1:
		o.app = fs.Arg(0)
	default:
		fs.Usage()
		return o, errors.New("at most one module:callable argument")
	}
	if o.workers < 1 || o.threads < 1 {
		return o, errors.New("-workers and -threads must be at least 1")
	}
	if o.mount != "" && (!strings.HasPrefix(o.mount, "/") || strings.HasSuffix(o.mount, "/")) {
		return o, fmt.Errorf("-mount %q must start with / and not end with /", o.mount)
	}
	return o, nil
}

func run(args []string) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	if o.app == "" {
		// The bundled app: write it where the workers can import it.
		dir, err := os.MkdirTemp("", "graft-hybrid-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if err := os.WriteFile(filepath.Join(dir, "legacy.py"), legacyApp, 0o644); err != nil {
			return err
		}
		o.app, o.chdir = "legacy:app", dir
	}
	app, err := wsgi.New(wsgi.Config{
		App: o.app, Python: o.python, Dir: o.chdir,
		Workers: o.workers, Threads: o.threads, Logger: log,
	})
	if err != nil {
		return err
	}
	h := newHandler(app, o.mount, log)

	ln, err := net.Listen("tcp", o.bind)
	if err != nil {
		app.Shutdown(context.Background())
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Info("hybrid: listening", slog.String("url", "http://"+ln.Addr().String()+"/"), slog.String("app", o.app))
	return serve(srv, ln, app, log)
}

// newHandler builds the router: Go routes first, the Python app as the
// fallback (or mounted under mount).
func newHandler(app http.Handler, mount string, log *slog.Logger) http.Handler {
	r := router.New()
	r.Use(middleware.Stack(middleware.Options{Logger: log}))

	r.Get("/api/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]string{"status": "ok"})
	}).Name("health")
	r.Get("/api/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]string{
			"id": router.Param(r, "id"), "served_by": "go",
			"request_id": middleware.RequestIDFromContext(r.Context()),
		})
	}).Name("user")
	r.Get("/api/hello/{name}", func(w http.ResponseWriter, req *http.Request) {
		self, _ := r.URL("hello", "name", router.Param(req, "name"))
		writeJSON(w, map[string]string{"hello": router.Param(req, "name"), "self": self})
	}).Name("hello")
	r.Get("/api/routes", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, r.Inventory())
	}).Name("routes")

	if mount == "" {
		r.Fallback(&fallback.Handler{App: app})
	} else {
		r.Mount(mount, &fallback.Handler{App: app, Prefix: mount})
	}
	return r
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// serve runs srv until SIGINT or SIGTERM, then shuts down gracefully:
// first the listener and in-flight requests, then the Python workers.
func serve(srv *http.Server, ln net.Listener, app *wsgi.Container, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		app.Shutdown(context.Background())
		return err
	case <-ctx.Done():
	}
	log.Info("hybrid: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if cerr := app.Shutdown(sctx); err == nil {
		err = cerr
	}
	return err
}
