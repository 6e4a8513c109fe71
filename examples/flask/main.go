// Command flask is graft's Flask migration example: a Flask "shop"
// (pyapp/shop) mounted under a prefix, with two of its read-only JSON routes
// re-implemented natively in Go.
//
//	flask [-bind 127.0.0.1:8000] [-python /usr/bin/python3] [-chdir DIR]
//	      [-workers N] [-threads N] [-mount /shop] [-go=true]
//	      [production flags]
//
// The Flask app is served under -mount (default /shop): it sees
// SCRIPT_NAME=/shop, so its url_for links carry the prefix with no change
// to the app. Go serves GET /shop/api/products and GET
// /shop/api/products/{id} itself, from the same products.json and with the
// same JSON, byte for byte; every other request under the prefix, including
// POST /shop/api/products/{id}, still reaches Flask. -go=false rolls the two
// routes back to Python. GET / is a Go page linking to both sides.
//
// Every response carries an X-Request-ID; Flask sees the same id as
// environ["graft.request_id"] and prints it at the bottom of its pages.
// Access logs go to stderr.
//
// The production flags are those of wsgiserve: -preload (default on),
// -max-requests N, -max-requests-jitter N, -max-rss MIB, -max-lifetime
// DURATION, -slow-request DURATION, -reload (development),
// -graceful-timeout DURATION (default 30s) and -metrics-bind ADDR, which
// serves /metrics (with per-route request metrics), /status, /healthz and
// /readyz on a separate listener. SIGINT and SIGTERM shut down gracefully;
// SIGHUP reloads the Flask workers without failing a request.
//
// The app needs an interpreter with Flask: Debian's python3-flask installs
// into /usr/bin/python3, the default -python when it exists. The app is
// embedded in the binary and written to a temporary directory at start,
// unless -chdir names a directory holding the shop package.
package main

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/examples/internal/inventory"
	"github.com/graft-dev/graft/examples/internal/ops"
	"github.com/graft-dev/graft/fallback"
	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// pyapp is the Flask app, written to a temporary directory at start. The
// patterns name files, so that __init__.py is included and __pycache__ is
// not.
//
//go:embed pyapp/shop/*.py pyapp/shop/*.json pyapp/shop/templates/*.html
var pyapp embed.FS

// appSpec is the WSGI app: the shop package's app factory.
const appSpec = "shop:create_app()"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "flask:", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	bind, python, chdir, mount string
	workers, threads           int
	goRoutes, routes           bool
	ops                        ops.Flags
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("flask", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: flask [flags]\n\nServes the Flask shop of pyapp/shop under -mount, with two JSON routes in Go.\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.bind, "bind", "127.0.0.1:8000", "address to listen on")
	fs.StringVar(&o.python, "python", ops.DefaultPython(), "Python interpreter with Flask (/usr/bin/python3 when it exists, else python3 on PATH)")
	fs.StringVar(&o.chdir, "chdir", "", "directory holding the shop package (default: a copy of the one embedded in the binary)")
	fs.IntVar(&o.workers, "workers", 2, "number of Python worker processes")
	fs.IntVar(&o.threads, "threads", 1, "threads per worker process")
	fs.StringVar(&o.mount, "mount", "/shop", "prefix the Flask app is served under (\"\" for the root)")
	fs.BoolVar(&o.goRoutes, "go", true, "serve the migrated routes in Go (false: roll them back to Flask)")
	fs.BoolVar(&o.routes, "routes", false, "print the migration inventory (the Python app's routes joined with Go's) and exit")
	o.ops.Register(fs)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if err := o.ops.Validate(); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return o, errors.New("no arguments expected")
	}
	if err := ops.CheckPool(o.workers, o.threads, o.mount); err != nil {
		return o, err
	}
	return o, nil
}

// newSecret returns a random key for Flask's session cookie, shared by all
// the workers of one run.
func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// startApp starts the Flask workers for the shop package in dir, with the
// production flags of o.ops.
func startApp(o options, dir string, log *slog.Logger) (*wsgi.Container, error) {
	cfg := wsgi.Config{
		App: appSpec, Python: o.python, Dir: dir,
		Workers: o.workers, Threads: o.threads, Logger: log,
		Env: []string{"SHOP_SECRET_KEY=" + newSecret()},
	}
	o.ops.Apply(&cfg)
	app, err := wsgi.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w\n\nThe shop needs Flask: on Debian, apt-get install python3-flask and run with -python /usr/bin/python3 (now -python %s).", err, o.python)
	}
	return app, nil
}

func run(args []string) error {
	o, err := parseFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	dir := o.chdir
	if dir == "" {
		tmp, cleanup, err := ops.Unpack(pyapp, "pyapp", "graft-flask-")
		if err != nil {
			return err
		}
		defer cleanup()
		dir = tmp
	}
	cat, err := loadCatalog(filepath.Join(dir, "shop", "products.json"))
	if err != nil {
		return err
	}
	app, err := startApp(o, dir, log)
	if err != nil {
		return err
	}
	reg := o.ops.Registry()
	h := newHandler(app, cat, o, log, reg)
	if o.routes {
		defer app.Shutdown(context.Background())
		return inventory.Print(os.Stdout, app, o.mount, h)
	}

	ln, err := net.Listen("tcp", o.bind)
	if err != nil {
		app.Shutdown(context.Background())
		return err
	}
	log.Info("flask: listening", slog.String("url.full", "http://"+ln.Addr().String()+"/"),
		slog.String("graft.mount", o.mount+"/"), slog.Bool("graft.go_routes", o.goRoutes))
	return o.ops.Serve(h, ln, app, reg, log)
}

// product is one entry of products.json, the data Go and Python share.
type product struct {
	ID         int    `json:"id"`
	Name       string `json:"name"`
	PriceCents int    `json:"price_cents"`
	Stock      int    `json:"stock"`
}

// catalog is products.json, in file order.
type catalog struct {
	list []product
	byID map[int]product
}

func loadCatalog(path string) (*catalog, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c := &catalog{byID: make(map[int]product)}
	if err := json.Unmarshal(b, &c.list); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, p := range c.list {
		c.byID[p.ID] = p
	}
	return c, nil
}

// newHandler builds the router: the migrated Go routes and the Flask app
// under o.mount, and a Go landing page at / when the app has a prefix.
// With reg, request metrics go there.
func newHandler(app http.Handler, cat *catalog, o options, log *slog.Logger, reg *prometheus.Registry) http.Handler {
	r := ops.NewRouter(log, reg)

	shop := func(s *router.Router) {
		if o.goRoutes {
			// The two read-only routes moved to Go. Their names are the
			// Flask endpoints', so r.URL and url_for agree.
			s.Get("/api/products", func(w http.ResponseWriter, req *http.Request) {
				items := make([]map[string]any, 0, len(cat.list))
				for _, p := range cat.list {
					items = append(items, productJSON(r, o.mount, p))
				}
				writeJSON(w, http.StatusOK, map[string]any{"count": len(items), "products": items})
			}).Name("api_products")
			s.Get("/api/products/{id:[0-9]+}", func(w http.ResponseWriter, req *http.Request) {
				id, err := strconv.Atoi(router.Param(req, "id"))
				p, ok := cat.byID[id]
				if err != nil || !ok {
					writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such product"})
					return
				}
				writeJSON(w, http.StatusOK, productJSON(r, o.mount, p))
			}).Name("api_product")
		}
		s.Fallback(&fallback.Handler{App: app, Prefix: o.mount})
	}
	if o.mount == "" {
		shop(r)
		return r
	}
	r.Route(o.mount, shop)
	r.Get("/", func(w http.ResponseWriter, req *http.Request) {
		landing.Execute(w, map[string]any{
			"Mount": o.mount, "Go": o.goRoutes,
			"RequestID": middleware.RequestIDFromContext(req.Context()),
		})
	}).Name("home")
	return r
}

// productJSON is the Go twin of productJSON in pyapp/shop/__init__.py: the
// same keys and values, so that clients cannot tell who answered. The HTML
// page stays in Flask; Go knows its URL from the mount.
func productJSON(r *router.Router, mount string, p product) map[string]any {
	self, _ := r.URL("api_product", "id", strconv.Itoa(p.ID))
	return map[string]any{
		"id":          p.ID,
		"name":        p.Name,
		"price_cents": p.PriceCents,
		"in_stock":    p.Stock > 0,
		"url":         mount + "/products/" + strconv.Itoa(p.ID),
		"api_url":     self,
	}
}

// writeJSON writes v as Flask's jsonify does outside debug mode: compact,
// keys sorted (maps are), a final newline.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Served-By", "go")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

var landing = template.Must(template.New("landing").Parse(`<!doctype html>
<title>graft Flask example</title>
<h1>graft Flask example</h1>
<p>This page is Go. The Flask shop is mounted at <a href="{{.Mount}}/">{{.Mount}}/</a>.</p>
<ul>
<li><a href="{{.Mount}}/api/products">{{.Mount}}/api/products</a> and
<a href="{{.Mount}}/api/products/1">{{.Mount}}/api/products/1</a>:
{{if .Go}}served by Go{{else}}rolled back to Flask (-go=false){{end}}, same JSON (see the X-Served-By header)</li>
<li><a href="{{.Mount}}/">{{.Mount}}/</a>, <a href="{{.Mount}}/products/1">{{.Mount}}/products/1</a>,
<a href="{{.Mount}}/cart">{{.Mount}}/cart</a>: Flask pages, session cart and form</li>
</ul>
<p>Request id <code>{{.RequestID}}</code>.</p>
`))
