// Command wsgiserve serves any WSGI application on graft, with flags named
// like gunicorn's:
//
//	wsgiserve [flags] module:callable [flags]
//
// Flags may come before or after module:callable. Durations take plain
// seconds (-timeout 30) or Go's form (-timeout 30s). The main ones:
//
//	-bind ADDR              HOST:PORT or unix:/path/to.sock, repeatable (default 127.0.0.1:8000)
//	-workers N -threads N   worker processes (default one per CPU) and threads in each
//	-python PATH -chdir DIR the interpreter (default $GRAFT_PYTHON, else /usr/bin/python3) and the app's directory
//	-timeout D              per request (default 30s); -start-timeout D, for a worker to import the app (60s)
//	-certfile F -keyfile F  HTTPS, with HTTP/2, on every -bind
//	-metrics-bind ADDR      /metrics, /status, /healthz, /readyz on a separate listener
//	-graceful-timeout D     on SIGTERM/SIGINT (default 30s)
//	-keep-alive-drain D     on SIGTERM/SIGINT, idle keep-alive connections stay open first,
//	                        answered with Connection: close (default 1s; 0: none)
//
// -script-name /PREFIX serves the app under a path prefix behind a proxy
// (SCRIPT_NAME=/PREFIX, PATH_INFO the rest of the path); its default is
// $SCRIPT_NAME, as gunicorn takes it.
//
// -static /PREFIX/=DIR (repeatable) serves the files of DIR under /PREFIX/
// from Go; -sendfile-root DIR (repeatable) lets the app answer
// "X-Sendfile: /path" for files under DIR, which Go then sends.
//
// and the production flags -preload (default on), -prefetch N, -max-requests N,
// -max-requests-jitter N, -max-rss MIB, -max-lifetime D, -slow-request D,
// -reload (development), -limit-request-line N, -limit-request-fields N,
// -limit-request-field-size N, -limit-request-head N, -access-log=false, -access-log-verbose. Run
// wsgiserve -h for all of them.
//
// Every listener is bound before Python starts, so a port in use fails at
// once. Under systemd socket activation (LISTEN_FDS), the sockets systemd
// passes replace -bind; one named "ops" is the operations listener. Each
// request gets an X-Request-ID and an access-log line on stderr (off with
// -access-log=false). wsgiserve exits non-zero with the Python traceback
// when the app cannot load, shuts down gracefully on SIGINT and SIGTERM,
// and reloads the workers without failing a request on SIGHUP.
package main

import (
	"context"
	"flag"
	"log/slog"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/examples/internal/cli"
	"github.com/graft-dev/graft/fallback"
	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/wsgi"
)

const synopsis = "usage: wsgiserve [flags] module:callable [flags]\n\nServes the WSGI application module:callable (gunicorn's form) on graft."

func main() { cli.Main("wsgiserve", run) }

// options are wsgiserve's command line: the server flags, the one
// module:callable and -script-name.
type options struct {
	cli.Flags
	app        string
	scriptName string // the app's mount prefix: -script-name, else $SCRIPT_NAME
}

// parseFlags parses the command line.
func parseFlags(args []string) (options, error) {
	var o options
	fs := cli.NewFlagSet("wsgiserve")
	o.Register(fs, cli.Defaults{})
	// gunicorn takes the prefix from $SCRIPT_NAME (its docs' way to serve
	// an app under a path behind a proxy); without it here, the variable
	// reached the workers' os.environ but the app saw SCRIPT_NAME "".
	env := os.Getenv("SCRIPT_NAME")
	fs.StringVar(&o.scriptName, "script-name", env, "the path `PREFIX` the app is served under, behind a proxy that passes the whole path (/app: /app/x reaches the app as SCRIPT_NAME=/app, PATH_INFO=/x; other paths with SCRIPT_NAME empty); the default is $SCRIPT_NAME, as gunicorn takes it")
	pos, err := cli.Parse(fs, synopsis, args)
	if err != nil {
		return o, err
	}
	if len(pos) != 1 {
		return o, cli.Usagef("want one module:callable argument, got %d", len(pos))
	}
	if err := cli.CheckApp(pos[0]); err != nil {
		return o, err
	}
	o.app = pos[0]
	name, given := "-script-name", false
	fs.Visit(func(fl *flag.Flag) { given = given || fl.Name == "script-name" })
	if !given && env != "" {
		name += " (from $SCRIPT_NAME)"
	}
	if err := cli.CheckPrefix(name, o.scriptName); err != nil {
		return o, err
	}
	return o, o.Check()
}

func run(args []string) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	f := &o.Flags
	// Logs are batched (one write per 200 ms or 64 KiB, not per request);
	// Close writes the rest once the server and the workers have stopped.
	lw := middleware.NewLogWriter(os.Stderr, 0)
	defer lw.Close()
	log := f.Logger(lw)

	ls, err := f.Listen()
	if err != nil {
		return err
	}
	defer ls.Close()
	cfg := f.Config(o.app, f.Chdir, log)
	cfg.ScriptName = o.scriptName
	c, err := wsgi.New(cfg)
	if err != nil {
		return err
	}
	reg := cli.Registry(ls)
	h, err := newHandler(f, c, log, reg)
	if err != nil {
		c.Shutdown(context.Background())
		return err
	}
	return wsgi.Serve(context.Background(), ls, h, c, f.ServeConfig(reg, log))
}

// newHandler puts the container behind the access log and request ids
// (unless -access-log=false) and, with reg, request metrics; -static
// mounts are served from Go in front of it, and -sendfile-root lets the
// app answer X-Sendfile.
func newHandler(f *cli.Flags, c *wsgi.Container, log *slog.Logger, reg *prometheus.Registry) (http.Handler, error) {
	r := f.NewRouter(log, reg)
	fb := &fallback.Handler{App: c, Sendfile: f.Files.Sendfile(log)}
	if err := f.Files.Mount(r, fb, log); err != nil { // the app answers what a mount does not have
		return nil, err
	}
	r.Fallback(fb)
	return r, nil
}
