// Command django is graft's Django migration example: a Django project
// (pyapp: the legacysite project and its notes app, with the admin) served
// under a prefix, with authentication and one API route moved to Go.
//
//	django [-bind 127.0.0.1:8000] [-python /usr/bin/python3] [-chdir DIR]
//	       [-workers N] [-threads N] [-mount /legacy] [-go=true]
//	       [-state DIR] [-admin-user admin] [-admin-password PW]
//	       [-token TOKEN=USER]... [server flags]
//	       [-stages FILE] [-admin-bind ADDR]
//
// Django is served under -mount (default /legacy) with no FORCE_SCRIPT_NAME:
// graft passes the prefix as SCRIPT_NAME, so reverse(), redirects and the
// relative STATIC_URL all carry it. Go serves:
//
//   - /legacy/static/...: the admin's static files, straight from the
//     django/contrib/admin/static directory of the interpreter;
//   - the API area /legacy/api/...: Go checks "Authorization: Bearer TOKEN"
//     (401 without a valid token) and passes the user to Django as
//     REMOTE_USER, which Django's RemoteUserMiddleware logs in. A client's
//     own Remote-User header never reaches REMOTE_USER;
//   - GET /legacy/api/whoami/ natively, with the JSON of the Django view it
//     replaces (-go=false rolls it back to Django);
//   - GET /legacy/me/: the user logged in to Django (through the admin's
//     login form), asked from Django with graft's identity hook
//     (wsgi.Config.IdentityHook "graft:django"); 401 when anonymous.
//
// Everything else under the prefix, including the admin at /legacy/admin/
// (its login form, CSRF and session cookies), is Django. Every response
// carries an X-Request-ID; Django sees the same id as
// request.META["graft.request_id"].
//
// At start, Go runs "python -m django graft_setup" once, before the
// workers: it migrates the sqlite3 database (-state DIR/db.sqlite3; a
// temporary directory removed at exit when -state is empty), makes sure
// the superuser -admin-user exists with password -admin-password, and adds
// demo notes. With no -admin-password or -token, random ones are generated
// and logged.
//
// The server flags are those of wsgiserve (see django -h): repeatable
// -bind (HOST:PORT or unix:/path), -certfile/-keyfile (HTTPS with HTTP/2),
// -timeout, -start-timeout, -preload (default on), -prefetch N, -max-requests N,
// -max-requests-jitter N, -max-rss MIB, -max-lifetime D, -slow-request D,
// -reload (development), -graceful-timeout D (default 30s), the
// -limit-request-* flags, -access-log=false, -access-log-verbose, and
// -metrics-bind ADDR, which serves /metrics (with per-route request
// metrics), /status, /healthz and /readyz on a separate listener.
// Durations take plain seconds (30) or Go's form (30s). SIGINT and SIGTERM shut down gracefully;
// SIGHUP reloads the Django workers without failing a request.
//
// -stages FILE and -admin-bind ADDR migrate the Go routes in stages, with
// the admin API and the migration console on ADDR. stages.json puts GET
// /legacy/api/meta/, a Go port with a real difference (see migrate.go),
// in shadow and GET /legacy/api/whoami/ in a 50% canary by the
// authenticated user (REMOTE_USER); SIGHUP also reloads the stages file.
//
// The project needs an interpreter with Django: Debian's python3-django
// installs into /usr/bin/python3, the default -python when it exists. The
// project is embedded in the binary (wsgi.Config.AppFS): the binary alone
// is the deploy, and the workers import the project from a private
// read-only copy, removed at exit; -chdir names a directory holding the
// project instead.
//
// -static /PREFIX/=DIR (repeatable) serves more static files from Go, such
// as a STATIC_ROOT after collectstatic; -sendfile-root DIR (repeatable)
// lets Django views answer "X-Sendfile: /path" for files under DIR, which
// Go then sends.
package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

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

// pyapp is the Django project, written to a temporary directory at start.
// The patterns name files, so that __init__.py files are included and
// __pycache__ is not.
//
//go:embed pyapp/legacysite/*.py pyapp/notes/*.py pyapp/notes/migrations/*.py
//go:embed pyapp/notes/management/*.py pyapp/notes/management/commands/*.py
//go:embed pyapp/notes/templates/notes/*.html
var pyapp embed.FS

const (
	appSpec  = "legacysite.wsgi:application"
	settings = "legacysite.settings"
)

const synopsis = "usage: django [flags]\n\nServes the Django project of pyapp under -mount, with its API authenticated by Go."

func main() { cli.Main("django", run) }

// options are the command-line flags.
type options struct {
	mount, state             string
	adminUser, adminPassword string
	goRoutes                 bool
	routes                   bool
	tokens                   tokenFlag // token -> user
	cli.Flags
	migrate migration.Flags
}

// tokenFlag collects -token TOKEN=USER.
type tokenFlag map[string]string

func (f tokenFlag) String() string { return "" }

func (f tokenFlag) Set(s string) error {
	tok, user, ok := strings.Cut(s, "=")
	if !ok || tok == "" || user == "" {
		return errors.New("want TOKEN=USER")
	}
	f[tok] = user
	return nil
}

func parseFlags(args []string) (options, error) {
	o := options{tokens: tokenFlag{}}
	fs := cli.NewFlagSet("django")
	o.Register(fs, cli.Defaults{Workers: 2, ChdirUsage: "`DIR` holding the legacysite project (default: a copy of the one embedded in the binary)"})
	fs.StringVar(&o.mount, "mount", "/legacy", "prefix Django is served under (\"\" for the root)")
	fs.BoolVar(&o.goRoutes, "go", true, "serve GET <mount>/api/whoami/ in Go (false: roll it back to Django)")
	fs.StringVar(&o.state, "state", "", "directory for the sqlite3 database and the secret key (default: a temporary one, removed at exit)")
	fs.StringVar(&o.adminUser, "admin-user", "admin", "username of the demo superuser")
	fs.StringVar(&o.adminPassword, "admin-password", "", "password of the demo superuser (default: random, logged at start)")
	fs.Var(o.tokens, "token", "API token as TOKEN=USER, repeatable (default: a random token for alice, logged at start)")
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
	if err := cli.CheckMount(o.mount); err != nil {
		return o, err
	}
	if o.adminUser == "" {
		return o, cli.Usagef("-admin-user is empty")
	}
	return o, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// project is a prepared Django project: its directory, the environment of
// its processes and the admin's static directory.
type project struct {
	dir       string
	env       []string
	staticDir string
}

// hint is added to the errors of an interpreter that cannot run Django.
func hint(python string) string {
	return fmt.Sprintf("\n\nThe project needs Django: on Debian, apt-get install python3-django and run with -python /usr/bin/python3 (now -python %s).", python)
}

// prepare runs graft_setup (migrate, superuser, demo notes) once with the
// workers' interpreter and environment, and finds the admin's static files.
// With dir "" (the project embedded in the binary), graft_setup is left to
// startApp, which runs it in the container's copy of the project.
func prepare(ctx context.Context, o options, dir, state string) (*project, error) {
	keyFile := filepath.Join(state, "secret_key")
	key, err := os.ReadFile(keyFile)
	if errors.Is(err, os.ErrNotExist) {
		key = []byte(randomHex(32))
		err = os.WriteFile(keyFile, key, 0o600)
	}
	if err != nil {
		return nil, err
	}
	p := &project{dir: dir, env: []string{
		"DJANGO_SETTINGS_MODULE=" + settings,
		"GRAFT_DJANGO_DB=" + filepath.Join(state, "db.sqlite3"),
		"GRAFT_DJANGO_SECRET_KEY=" + strings.TrimSpace(string(key)),
	}}

	out, err := python(ctx, o.Python, os.TempDir(), "-c", "import django, os; print(os.path.dirname(django.__file__))")
	if err != nil {
		return nil, fmt.Errorf("%s cannot import django: %v\n%s%s", o.Python, err, out, hint(o.Python))
	}
	p.staticDir = filepath.Join(strings.TrimSpace(out), "contrib", "admin", "static")
	if _, err := os.Stat(filepath.Join(p.staticDir, "admin", "css", "base.css")); err != nil {
		return nil, fmt.Errorf("the admin's static files: %w", err)
	}

	if dir == "" {
		return p, nil // embedded: setup runs in the container's copy (startApp)
	}
	if err := p.setup(ctx, o, dir); err != nil {
		return nil, err
	}
	return p, nil
}

// setup runs graft_setup in dir: migrate, superuser, demo notes.
func (p *project) setup(ctx context.Context, o options, dir string) error {
	env := append(append(os.Environ(), p.env...),
		"GRAFT_ADMIN_USER="+o.adminUser, "GRAFT_ADMIN_PASSWORD="+o.adminPassword)
	cmd := exec.CommandContext(ctx, o.Python, "-m", "django", "graft_setup")
	cmd.Dir, cmd.Env = dir, env
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("python -m django graft_setup: %v\n%s", err, b)
	}
	return nil
}

// python runs the interpreter in dir and returns its output.
func python(ctx context.Context, py, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, py, args...)
	cmd.Dir = dir
	b, err := cmd.CombinedOutput()
	return string(b), err
}

// startApp starts the Django workers, with the server flags of o.
// With p.dir "", the workers run the project embedded in the binary
// (wsgi.Config.AppFS) and graft_setup runs in their copy first.
func startApp(o options, p *project, log *slog.Logger) (*wsgi.Container, error) {
	cfg := o.Config(appSpec, p.dir, log)
	cfg.Env = p.env
	if p.dir == "" {
		sub, err := fs.Sub(pyapp, "pyapp")
		if err != nil {
			return nil, err
		}
		cfg.AppFS = sub
	}
	identityConfig(&cfg)
	app, err := wsgi.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w%s", err, hint(o.Python))
	}
	if p.dir == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := p.setup(ctx, o, app.AppDir()); err != nil {
			app.Shutdown(context.Background())
			return nil, err
		}
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
	dir := o.Chdir // "": the embedded project (see startApp)
	state := o.state
	if state == "" {
		tmp, err := os.MkdirTemp("", "graft-django-state-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		state = tmp
	} else if err := os.MkdirAll(state, 0o700); err != nil {
		return err
	}
	generated := o.adminPassword == ""
	if generated {
		o.adminPassword = randomHex(8)
	}
	if len(o.tokens) == 0 {
		o.tokens[randomHex(16)] = "alice"
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	p, err := prepare(ctx, o, dir, state)
	cancel()
	if err != nil {
		return err
	}
	app, err := startApp(o, p, log)
	if err != nil {
		return err
	}
	reg := cli.Registry(ls)
	h := newHandler(app, o, p.staticDir, log, reg)
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
	base := listenerBase(ls)
	log.Info("django: serving", slog.String("url.full", base+o.mount+"/"),
		slog.String("graft.state", state), slog.Bool("graft.go_routes", o.goRoutes))
	admin := []any{slog.String("url.full", base+o.mount+"/admin/"), slog.String("user.name", o.adminUser)}
	if generated {
		admin = append(admin, slog.String("graft.password", o.adminPassword))
	}
	log.Info("django: admin", admin...)
	for tok, user := range o.tokens {
		log.Info("django: API token", slog.String("user.name", user),
			slog.String("graft.try", fmt.Sprintf("curl -H 'Authorization: Bearer %s' %s%s/api/whoami/", tok, base, o.mount)))
	}
	return wsgi.Serve(context.Background(), ls, h, app, mg.ServeConfig(o.ServeConfig(reg, log)))
}

// listenerBase is the URL of the first listener, for the links logged at
// start: http(s)://HOST:PORT, or http://localhost behind a Unix socket.
func listenerBase(ls *wsgi.Listeners) string {
	addr := ls.Main[0].Addr()
	switch {
	case addr.Network() == "unix":
		return "http://localhost"
	case ls.TLS != nil:
		return "https://" + addr.String()
	}
	return "http://" + addr.String()
}

// newHandler builds the router: under o.mount, the admin's static files,
// the bearer-authenticated API area with its Go route, and Django for the
// rest; a Go landing page at / when Django has a prefix. With reg, request
// metrics go there.
func newHandler(app http.Handler, o options, staticDir string, log *slog.Logger, reg *prometheus.Registry) http.Handler {
	r := o.NewRouter(log, reg)
	django := &fallback.Handler{App: app, Prefix: o.mount, Sendfile: o.Files.Sendfile(log)}
	if err := o.Files.Mount(r, files.AppAt(django, o.mount), log); err != nil {
		panic(err) // the directories were checked by parseFlags
	}

	site := func(s *router.Router) {
		// STATIC_URL is "static/", which Django prefixes with SCRIPT_NAME.
		// A file Go does not have gets Django's 404 page, as before the
		// move (docs/migration.md).
		static := staticFiles(staticDir, o.mount+"/static/", django, o.Files, log)
		s.Get("/static/*", static.ServeHTTP).Name("static")
		s.Head("/static/*", static.ServeHTTP)

		// The API area: every request, Go's or Django's, passes bearerAuth,
		// even with no Go route under /api (-go=false).
		s.Route("/api", func(api *router.Router) {
			api.Use(bearerAuth(o.tokens))
			if o.goRoutes {
				api.Get("/whoami/", djangoHeaders(func(w http.ResponseWriter, req *http.Request) {
					notes := o.mount + "/api/notes/" // reverse("api_notes"), still Django
					writeJSON(w, http.StatusOK, whoami{
						Username: middleware.RemoteUser(req.Context()),
						AuthType: "Bearer", NotesURL: notes,
					})
				})).Name("api_whoami")
				if o.migrate.Stages != "" {
					migratingRoutes(api)
				}
			}
			api.Fallback(django)
		})
		registerCSRF(s, o.mount) // csrf.go: a Go form that posts to Django
		identityRoutes(s, app)
		s.Fallback(django)
	}
	if o.mount == "" {
		site(r)
		return r
	}
	r.Route(o.mount, site)
	r.Get("/", func(w http.ResponseWriter, req *http.Request) {
		landing.Execute(w, map[string]any{
			"Mount": o.mount, "Go": o.goRoutes,
			"RequestID": middleware.RequestIDFromContext(req.Context()),
		})
	}).Name("home")
	return r
}

// whoami is the JSON of GET api/whoami/, as the Django view
// notes.views.whoami builds it.
type whoami struct {
	Username string `json:"username"`
	AuthType string `json:"auth_type"`
	NotesURL string `json:"notes_url"`
}

// bearerAuth lets through requests with "Authorization: Bearer TOKEN" for
// a known token, passing its user to Django as REMOTE_USER (AUTH_TYPE
// Bearer); others get a 401 from Go and never reach Django.
func bearerAuth(tokens map[string]string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			user := ""
			// The scheme is case-insensitive (RFC 9110 §11.1): "bearer" too.
			if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
				for t, u := range tokens {
					if subtle.ConstantTimeCompare([]byte(t), []byte(tok)) == 1 {
						user = u
					}
				}
			}
			if user == "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="notes"`)
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or invalid bearer token"})
				return
			}
			next.ServeHTTP(w, r.WithContext(middleware.WithRemoteUser(r.Context(), user, "Bearer")))
		})
	}
}

// staticFiles serves the files under dir at prefix with fallback.Static:
// ETags, Range, no directory listings, no escapes from dir; its CORS
// header and max-age are those of -static-no-cors and -static-max-age;
// notFound answers what it does not have.
func staticFiles(dir, prefix string, notFound http.Handler, f files.Flags, log *slog.Logger) http.Handler {
	s, err := fallback.NewStaticDir(dir)
	if err != nil {
		panic(err) // prepare checked that dir exists
	}
	f.Configure(s, prefix, log)
	s.NotFound = notFound
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Served-By", "go")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

var landing = template.Must(template.New("landing").Parse(`<!doctype html>
<title>graft Django example</title>
<h1>graft Django example</h1>
<p>This page is Go. The Django project is mounted at <a href="{{.Mount}}/">{{.Mount}}/</a>.</p>
<ul>
<li><a href="{{.Mount}}/">{{.Mount}}/</a>: Django's notes, with reverse()-built links under the prefix</li>
<li><a href="{{.Mount}}/admin/">{{.Mount}}/admin/</a>: the Django admin (password login); its static files come from Go</li>
<li>{{.Mount}}/api/whoami/ (needs a bearer token, see the log): {{if .Go}}served by Go{{else}}rolled back to Django (-go=false){{end}};
{{.Mount}}/api/notes/: Django, logged in as the token's user through REMOTE_USER</li>
</ul>
<p>Request id <code>{{.RequestID}}</code>.</p>
`))
