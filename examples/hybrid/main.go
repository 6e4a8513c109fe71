// Command hybrid is graft's main example: one Go server that answers some
// routes natively in Go and passes everything else to a Python WSGI app.
//
//	hybrid [-bind 127.0.0.1:8000] [-python PATH] [-chdir DIR]
//	       [-workers N] [-threads N] [-mount PREFIX] [server flags]
//	       [-stages FILE] [-admin-bind ADDR] [-routes]
//	       [module:callable] [flags]
//	hybrid -no-fallback [-bind 127.0.0.1:8000] [server flags]
//
// With no module:callable it serves a small standard-library WSGI app that
// ships inside the binary, so it runs on any machine with python3. Go
// serves GET /api/health, GET /api/users/{id}, GET /api/hello/{name} and
// GET /api/routes (the migration inventory: the Python app's routes joined
// with Go's, as JSON; -routes prints it as a table and exits); every other request, including
// other methods on those paths, reaches Python. -mount serves the Python
// app under a prefix only (it then sees SCRIPT_NAME=PREFIX). Request ids
// and access logs are on; logs go to stderr. The server flags are those of
// wsgiserve (-timeout, -certfile, -keyfile, repeatable -bind, -preload,
// -max-requests, -max-rss, -reload, -metrics-bind, ...; see hybrid -h);
// SIGHUP reloads the Python workers. -static /PREFIX/=DIR and
// -sendfile-root DIR (both repeatable) serve static files and the app's
// X-Sendfile downloads from Go, as in wsgiserve.
// -stages and -admin-bind migrate the Go routes in stages (stages.json
// is an example; the admin API and the migration console are served on
// -admin-bind).
//
// -no-fallback serves the same Go routes through the same middleware with
// no fallback at all: no Python is started, a path Go does not serve gets
// the router's 404 and another method on a Go path a 405 with Allow. It
// is the baseline that shows what the idle fallback costs the Go routes
// (bench/suite measures both); it takes no module:callable and refuses the
// flags that configure Python (-python, -workers, -mount, -stages, ...).
package main

import (
	"context"
	"embed"
	"encoding/json"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/examples/internal/cli"
	"github.com/graft-dev/graft/examples/internal/inventory"
	"github.com/graft-dev/graft/examples/internal/migration"
	"github.com/graft-dev/graft/fallback"
	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// pyapp is the bundled WSGI app, written to a temporary directory at start.
//
//go:embed pyapp/legacy.py
var pyapp embed.FS

const synopsis = "usage: hybrid [flags] [module:callable] [flags]\n\nServes Go routes under /api and a Python WSGI app (the bundled one by default) for the rest."

func main() { cli.Main("hybrid", run) }

// options are the command-line flags.
type options struct {
	mount, app string
	routes     bool
	noFallback bool
	cli.Flags
	migrate migration.Flags
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := cli.NewFlagSet("hybrid")
	o.Register(fs, cli.Defaults{Workers: 2, ChdirUsage: "`DIR` of the Python app, first on sys.path"})
	fs.StringVar(&o.mount, "mount", "", "serve the Python app under this prefix only (default: it gets every path Go does not serve)")
	fs.BoolVar(&o.routes, "routes", false, "print the migration inventory (the Python app's routes joined with Go's) and exit")
	fs.BoolVar(&o.noFallback, "no-fallback", false, "serve the Go routes alone, with no fallback and no Python started: other paths get 404, other methods on the Go paths 405 (the baseline of the fallback's cost); no module:callable, none of the Python flags")
	o.migrate.Register(fs)
	pos, err := cli.Parse(fs, synopsis, args)
	if err != nil {
		return o, err
	}
	switch len(pos) {
	case 0:
	case 1:
		if err := cli.CheckApp(pos[0]); err != nil {
			return o, err
		}
		o.app = pos[0]
	default:
		return o, cli.Usagef("at most one module:callable argument, got %d", len(pos))
	}
	if o.noFallback {
		if err := checkNoFallback(fs, o.app); err != nil {
			return o, err
		}
	}
	if err := o.Check(); err != nil {
		return o, err
	}
	return o, cli.CheckMount(o.mount)
}

// pythonFlags configure the Python app, its workers or what only exists
// with them (the inventory, the migration stages, the workers' status on
// -metrics-bind): -no-fallback refuses them rather than ignore them.
var pythonFlags = []string{
	"python", "chdir", "workers", "threads", "prefetch", "sched-batch", "child-subreaper", "timeout", "start-timeout", "preload",
	"max-requests", "max-requests-jitter", "max-rss", "max-lifetime", "slow-request", "response-spill", "max-body-size", "max-response-head-size", "reload",
	"sendfile-root", "mount", "routes", "stages", "admin-bind", "metrics-bind",
}

// checkNoFallback refuses, under -no-fallback, a module:callable and the
// pythonFlags set on the command line.
func checkNoFallback(fs *flag.FlagSet, app string) error {
	if app != "" {
		return cli.Usagef("-no-fallback serves no Python app: drop the module:callable argument %q", app)
	}
	var set []string
	fs.Visit(func(f *flag.Flag) {
		if slices.Contains(pythonFlags, f.Name) {
			set = append(set, "-"+f.Name)
		}
	})
	if len(set) > 0 {
		return cli.Usagef("-no-fallback starts no Python; drop %s", strings.Join(set, ", "))
	}
	return nil
}

func run(args []string) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	// Logs are batched (one write per 200 ms or 64 KiB, not per request);
	// Close writes the rest once the server and the workers have stopped.
	lw := middleware.NewLogWriter(os.Stderr, 0)
	defer lw.Close()
	log := o.Logger(lw)

	ls := &wsgi.Listeners{} // -routes serves nothing
	if !o.routes {
		if ls, err = o.Listen(); err != nil {
			return err
		}
		defer ls.Close()
		// A busy -admin-bind or a broken -stages file fails here too,
		// before Python starts.
		if err := o.migrate.Bind(); err != nil {
			return err
		}
		defer o.migrate.Close()
	}
	reg := cli.Registry(ls)
	if o.noFallback {
		h, err := o.Files.Front(newHandler(&o.Flags, nil, "", log, reg), log)
		if err != nil {
			return err
		}
		log.Info("hybrid: serving the Go routes only, with no fallback (-no-fallback)")
		return wsgi.Serve(context.Background(), ls, h, nil, o.ServeConfig(reg, log))
	}
	dir := o.Chdir
	if o.app == "" {
		// The bundled app: write it where the workers can import it.
		tmp, cleanup, err := cli.Unpack(pyapp, "pyapp", "graft-hybrid-")
		if err != nil {
			return err
		}
		defer cleanup()
		o.app, dir = "legacy:app", tmp
	}
	app, err := wsgi.New(o.Config(o.app, dir, log))
	if err != nil {
		return err
	}
	routes := newHandler(&o.Flags, o.Files.WithSendfile(app, log), o.mount, log, reg)
	if o.routes {
		defer app.Shutdown(context.Background())
		return inventory.Print(os.Stdout, app, o.mount, routes)
	}
	o.migrate.PythonRoutes = inventory.Routes(app, o.mount) // GET /inventory and the console's inventory page
	mg, err := migration.Start(routes, o.migrate, log, reg)
	if err != nil {
		app.Shutdown(context.Background())
		return err
	}
	defer mg.Stop(context.Background()) // when Serve is not reached, or failed
	h, err := o.Files.Front(routes, log)
	if err != nil {
		app.Shutdown(context.Background())
		return err
	}
	log.Info("hybrid: serving", slog.String("graft.app", o.app), slog.String("graft.mount", o.mount+"/"))
	return wsgi.Serve(context.Background(), ls, h, app, mg.ServeConfig(o.ServeConfig(reg, log)))
}

// newHandler builds the router: Go routes first, the Python app as the
// fallback (or mounted under mount). With app nil (-no-fallback) there is
// no fallback: the router's 404, and 405 with Allow. With reg, request
// metrics go there.
func newHandler(f *cli.Flags, app http.Handler, mount string, log *slog.Logger, reg *prometheus.Registry) http.Handler {
	r := f.NewRouter(log, reg)

	// A health check answers the same bytes every time: written as they
	// are, not encoded per request.
	health := []byte(`{"status":"ok"}` + "\n")
	r.Get("/api/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(health)
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

	switch {
	case app == nil:
	case mount == "":
		r.Fallback(&fallback.Handler{App: app})
	default:
		r.Mount(mount, &fallback.Handler{App: app, Prefix: mount})
	}
	return r
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
