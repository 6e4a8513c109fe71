// Command hybrid is graft's main example: one Go server that answers some
// routes natively in Go and passes everything else to a Python WSGI app.
//
//	hybrid [-bind 127.0.0.1:8000] [-python python3] [-chdir DIR]
//	       [-workers N] [-threads N] [-mount PREFIX] [-routes] [production flags]
//	       [module:callable]
//
// With no module:callable it serves a small standard-library WSGI app that
// ships inside the binary, so it runs on any machine with python3. Go
// serves GET /api/health, GET /api/users/{id}, GET /api/hello/{name} and
// GET /api/routes (the migration inventory: the Python app's routes joined
// with Go's, as JSON; -routes prints it as a table and exits); every other request, including
// other methods on those paths, reaches Python. -mount serves the Python
// app under a prefix only (it then sees SCRIPT_NAME=PREFIX). Request ids
// and access logs are on; logs go to stderr. The production flags are
// those of wsgiserve (-preload, -max-requests, -max-rss, -reload,
// -metrics-bind, ...); SIGHUP reloads the Python workers.
package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/examples/internal/inventory"
	"github.com/graft-dev/graft/examples/internal/ops"
	"github.com/graft-dev/graft/fallback"
	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// pyapp is the bundled WSGI app, written to a temporary directory at start.
//
//go:embed pyapp/legacy.py
var pyapp embed.FS

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
	routes                          bool
	ops                             ops.Flags
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
	fs.BoolVar(&o.routes, "routes", false, "print the migration inventory (the Python app's routes joined with Go's) and exit")
	o.ops.Register(fs)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if err := o.ops.Validate(); err != nil {
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
	if err := ops.CheckPool(o.workers, o.threads, o.mount); err != nil {
		return o, err
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
		dir, cleanup, err := ops.Unpack(pyapp, "pyapp", "graft-hybrid-")
		if err != nil {
			return err
		}
		defer cleanup()
		o.app, o.chdir = "legacy:app", dir
	}
	cfg := wsgi.Config{
		App: o.app, Python: o.python, Dir: o.chdir,
		Workers: o.workers, Threads: o.threads, Logger: log,
	}
	o.ops.Apply(&cfg)
	app, err := wsgi.New(cfg)
	if err != nil {
		return err
	}
	reg := o.ops.Registry()
	h := newHandler(app, o.mount, log, reg)
	if o.routes {
		defer app.Shutdown(context.Background())
		return inventory.Print(os.Stdout, app, o.mount, h)
	}

	ln, err := net.Listen("tcp", o.bind)
	if err != nil {
		app.Shutdown(context.Background())
		return err
	}
	log.Info("hybrid: listening", slog.String("url.full", "http://"+ln.Addr().String()+"/"), slog.String("graft.app", o.app))
	return o.ops.Serve(h, ln, app, reg, log)
}

// newHandler builds the router: Go routes first, the Python app as the
// fallback (or mounted under mount). With reg, request metrics go there.
func newHandler(app http.Handler, mount string, log *slog.Logger, reg *prometheus.Registry) http.Handler {
	r := ops.NewRouter(log, reg)

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
	r.Get("/api/routes", apiRoutes(app, mount, r)).Name("routes")

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
