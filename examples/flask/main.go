// Command flask is graft's Flask migration example: a Flask "shop"
// (pyapp/shop) mounted under a prefix, with two of its read-only JSON routes
// re-implemented natively in Go.
//
//	flask [-bind 127.0.0.1:8000] [-python /usr/bin/python3] [-chdir DIR]
//	      [-workers N] [-threads N] [-mount /shop] [-go=true]
//	      [server flags] [-stages FILE] [-admin-bind ADDR]
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
// The server flags are those of wsgiserve (see flask -h): repeatable
// -bind (HOST:PORT or unix:/path), -certfile/-keyfile (HTTPS with HTTP/2),
// -timeout, -start-timeout, -preload (default on), -prefetch N, -max-requests N,
// -max-requests-jitter N, -max-rss MIB, -max-lifetime D, -slow-request D,
// -reload (development), -graceful-timeout D (default 30s), the
// -limit-request-* flags, -access-log=false, -access-log-verbose, and
// -metrics-bind ADDR, which serves /metrics (with per-route request
// metrics), /status, /healthz and /readyz on a separate listener.
// Durations take plain seconds (30) or Go's form (30s). SIGINT and SIGTERM shut down gracefully;
// SIGHUP reloads the Flask workers without failing a request.
//
// -stages FILE and -admin-bind ADDR migrate the Go routes in stages, with
// the admin API and the migration console on ADDR. stages.json puts GET
// /shop/api/search, a Go port with a real difference (see migrate.go), in
// shadow and GET /shop/api/products/{id} in a 50% canary by a uid cookie
// (not Flask's session cookie, whose value changes with the session; a
// request without one is bucketed by its address); SIGHUP also reloads
// the stages file.
//
// The app needs an interpreter with Flask: Debian's python3-flask installs
// into /usr/bin/python3, the default -python when it exists. The app is
// embedded in the binary (wsgi.Config.AppFS): the binary alone is the
// deploy, and the workers import the app from a private read-only copy,
// removed at exit; -chdir names a directory holding the shop package
// instead. Go serves the shop's static/ folder (fallback.Static).
//
// -static /PREFIX/=DIR (repeatable) serves more static files from Go;
// -sendfile-root DIR (repeatable) lets Flask's send_file (with
// use_x_sendfile) hand files under DIR to Go.
package main

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/examples/internal/cli"
	"github.com/graft-dev/graft/examples/internal/files"
	"github.com/graft-dev/graft/examples/internal/inventory"
	"github.com/graft-dev/graft/examples/internal/migration"
	"github.com/graft-dev/graft/fallback"
	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// pyapp is the Flask app, carried by the binary: the workers import it from
// the container's private copy (wsgi.Config.AppFS), and Go serves its
// static/ folder. The patterns name files, so that __init__.py is included
// and __pycache__ is not.
//
//go:embed pyapp/shop/*.py pyapp/shop/*.json pyapp/shop/templates/*.html pyapp/shop/static/*
var pyapp embed.FS

// appSpec is the WSGI app: the shop package's app factory.
const appSpec = "shop:create_app()"

const synopsis = "usage: flask [flags]\n\nServes the Flask shop of pyapp/shop under -mount, with two JSON routes in Go."

func main() { cli.Main("flask", run) }

// options are the command-line flags.
type options struct {
	mount    string
	goRoutes bool
	routes   bool
	cli.Flags
	migrate migration.Flags
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := cli.NewFlagSet("flask")
	o.Register(fs, cli.Defaults{Workers: 2, ChdirUsage: "`DIR` holding the shop package (default: a copy of the one embedded in the binary)"})
	fs.StringVar(&o.mount, "mount", "/shop", "prefix the Flask app is served under (\"\" for the root)")
	fs.BoolVar(&o.goRoutes, "go", true, "serve the migrated routes in Go (false: roll them back to Flask)")
	fs.BoolVar(&o.routes, "routes", false, "print the migration inventory (the Python app's routes joined with Go's) and exit")
	o.migrate.Register(fs)
	pos, err := cli.Parse(fs, synopsis, args)
	if err != nil {
		return o, err
	}
	if len(pos) > 0 {
		return o, cli.Usagef("no arguments expected, got %q", pos)
	}
	if err := o.Check(); err != nil {
		return o, err
	}
	return o, cli.CheckMount(o.mount)
}

// newSecret returns a random key for Flask's session cookie, shared by all
// the workers of one run.
func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// startApp starts the Flask workers for the shop package in dir, or in
// the binary's own copy when dir is "" (wsgi.Config.AppFS), with the
// server flags of o.
func startApp(o options, dir string, log *slog.Logger) (*wsgi.Container, error) {
	cfg := o.Config(appSpec, dir, log)
	cfg.Env = []string{"SHOP_SECRET_KEY=" + newSecret()}
	if dir == "" {
		cfg.AppFS = embeddedApp()
	}
	app, err := wsgi.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w\n\nThe shop needs Flask: on Debian, apt-get install python3-flask and run with -python /usr/bin/python3 (now -python %s).", err, o.Python)
	}
	return app, nil
}

func run(args []string) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	log := o.Logger(os.Stderr)

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
	dir := o.Chdir // "": the app embedded in the binary
	var cat *catalog
	if dir == "" {
		cat, err = loadCatalogFS(embeddedApp(), "shop/products.json")
	} else {
		cat, err = loadCatalog(filepath.Join(dir, "shop", "products.json"))
	}
	if err != nil {
		return err
	}
	app, err := startApp(o, dir, log)
	if err != nil {
		return err
	}
	reg := cli.Registry(ls)
	h := newHandler(app, cat, o, log, reg)
	if o.routes {
		defer app.Shutdown(context.Background())
		return inventory.Print(os.Stdout, app, o.mount, h)
	}
	o.migrate.PythonRoutes = inventory.Routes(app, o.mount) // GET /inventory and the console's inventory page
	mg, err := migration.Start(h, o.migrate, log, reg)
	if err != nil {
		app.Shutdown(context.Background())
		return err
	}
	defer mg.Stop(context.Background()) // when Serve is not reached, or failed
	log.Info("flask: serving", slog.String("graft.mount", o.mount+"/"), slog.Bool("graft.go_routes", o.goRoutes))
	return wsgi.Serve(context.Background(), ls, h, app, mg.ServeConfig(o.ServeConfig(reg, log)))
}

// embeddedApp is the app's tree: the shop package at its root.
func embeddedApp() fs.FS {
	sub, err := fs.Sub(pyapp, "pyapp")
	if err != nil {
		panic(err) // "pyapp" is a valid name
	}
	return sub
}

// shopStatic serves the shop's static folder: the embedded one, or the
// one under -chdir (nil if it has none: Flask serves its own).
func shopStatic(chdir string) *fallback.Static {
	if chdir != "" {
		s, err := fallback.NewStaticDir(filepath.Join(chdir, "shop", "static"))
		if err != nil {
			return nil
		}
		return s
	}
	sub, err := fs.Sub(pyapp, "pyapp/shop/static")
	if err != nil {
		panic(err) // a valid name
	}
	return fallback.NewStatic(sub)
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
	return loadCatalogFS(os.DirFS(filepath.Dir(path)), filepath.Base(path))
}

// loadCatalogFS reads products.json from fsys.
func loadCatalogFS(fsys fs.FS, path string) (*catalog, error) {
	b, err := fs.ReadFile(fsys, path)
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
	r := o.NewRouter(log, reg)
	flask := &fallback.Handler{App: app, Prefix: o.mount, Sendfile: o.Files.Sendfile(log)}

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
			if o.migrate.Stages != "" {
				migratingRoutes(s, r, cat, o)
			}
		}
		registerSession(s, app, o.mount) // session.go: Go routes that share Flask's session
		// Flask's static folder, from the binary (or -chdir): Python sees
		// only the requests for files it does not have, and answers them
		// with its own 404 page, as before the move (docs/migration.md).
		if static := shopStatic(o.Chdir); static != nil {
			o.Files.Configure(static, o.mount+"/static/", log)
			static.NotFound = flask
			s.Handle("/static/*", static).Name("static")
		}
		s.Fallback(flask)
	}
	if err := o.Files.Mount(r, files.AppAt(flask, o.mount), log); err != nil {
		panic(err) // the directories were checked by parseFlags
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
