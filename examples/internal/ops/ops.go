// Package ops holds what graft's example servers share: the production
// flags of the worker pool (named like gunicorn's), a serve loop with
// graceful shutdown, SIGHUP reloads and an operations listener for
// metrics, status and probes, and the default interpreter of the examples
// that need Debian's Python packages.
package ops

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// DefaultPython is Debian's interpreter, /usr/bin/python3, which the
// python3-flask and python3-django packages install into, when it exists;
// the python3 on PATH otherwise.
func DefaultPython() string {
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return "python3"
}

// Unpack copies the files of fsys under root (an embedded Python app) into
// a new temporary directory named after pattern, as os.MkdirTemp does. The
// caller runs cleanup, which removes the directory, when done with it.
func Unpack(fsys fs.FS, root, pattern string) (dir string, cleanup func(), err error) {
	sub, err := fs.Sub(fsys, root)
	if err != nil {
		return "", nil, err
	}
	dir, err = os.MkdirTemp("", pattern)
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	if err := os.CopyFS(dir, sub); err != nil {
		cleanup()
		return "", nil, err
	}
	return dir, cleanup, nil
}

// CheckPool checks the -workers, -threads and -mount flags of an example:
// at least one worker and thread, and a mount that is empty or starts but
// does not end with /.
func CheckPool(workers, threads int, mount string) error {
	if workers < 1 || threads < 1 {
		return errors.New("-workers and -threads must be at least 1")
	}
	if mount != "" && (!strings.HasPrefix(mount, "/") || strings.HasSuffix(mount, "/")) {
		return fmt.Errorf("-mount %q must start with / and not end with /", mount)
	}
	return nil
}

// NewRouter returns a router with the examples' middleware: request ids
// and access logs to log and, with reg, request metrics there.
func NewRouter(log *slog.Logger, reg *prometheus.Registry) *router.Router {
	r := router.New()
	r.Use(middleware.Stack(middleware.Options{Logger: log}))
	if reg != nil {
		r.Use(middleware.Metrics(reg))
	}
	return r
}

// Flags are the worker-pool flags shared by the examples.
type Flags struct {
	Preload           bool
	MaxRequests       int
	MaxRequestsJitter int
	MaxRSSMiB         int64
	MaxLifetime       time.Duration
	SlowRequest       time.Duration
	Reload            bool
	GracefulTimeout   time.Duration
	MetricsBind       string
}

// Register defines the flags on fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.BoolVar(&f.Preload, "preload", true, "import the app once and fork the workers from it (copy-on-write); -preload=false starts each worker fresh")
	fs.IntVar(&f.MaxRequests, "max-requests", 0, "recycle a worker after this many requests (0: never)")
	fs.IntVar(&f.MaxRequestsJitter, "max-requests-jitter", 0, "add a random 0..N to -max-requests per worker")
	fs.Int64Var(&f.MaxRSSMiB, "max-rss", 0, "recycle a worker whose resident memory exceeds this many MiB after a request (0: never)")
	fs.DurationVar(&f.MaxLifetime, "max-lifetime", 0, "recycle workers older than this, e.g. 1h (0: never)")
	fs.DurationVar(&f.SlowRequest, "slow-request", 0, "log the Python stacks of a request running longer than this (0: never)")
	fs.BoolVar(&f.Reload, "reload", false, "development: reload the workers when a .py file changes")
	fs.DurationVar(&f.GracefulTimeout, "graceful-timeout", 30*time.Second, "on SIGTERM/SIGINT, how long in-flight requests may take to finish")
	fs.StringVar(&f.MetricsBind, "metrics-bind", "", "serve /metrics, /status, /healthz and /readyz on this separate address (e.g. 127.0.0.1:9100)")
}

// Validate checks the flag values.
func (f *Flags) Validate() error {
	if f.MaxRequests < 0 || f.MaxRequestsJitter < 0 || f.MaxRSSMiB < 0 || f.MaxLifetime < 0 ||
		f.SlowRequest < 0 || f.GracefulTimeout < 0 {
		return errors.New("-max-requests, -max-requests-jitter, -max-rss, -max-lifetime, -slow-request and -graceful-timeout must not be negative")
	}
	return nil
}

// Registry returns a new registry for the metrics served on MetricsBind,
// or nil when there is no -metrics-bind.
func (f *Flags) Registry() *prometheus.Registry {
	if f.MetricsBind == "" {
		return nil
	}
	return prometheus.NewRegistry()
}

// Apply copies the flags into cfg.
func (f *Flags) Apply(cfg *wsgi.Config) {
	cfg.NoPreload = !f.Preload
	cfg.MaxRequests = f.MaxRequests
	cfg.MaxRequestsJitter = f.MaxRequestsJitter
	cfg.MaxRSS = f.MaxRSSMiB << 20
	cfg.MaxLifetime = f.MaxLifetime
	cfg.SlowRequest = f.SlowRequest
	cfg.AutoReload = f.Reload
}

// Serve serves h on ln with app behind it until SIGINT or SIGTERM, then
// shuts down gracefully: the listener closes, in-flight requests get
// GracefulTimeout to finish, then the workers stop. SIGHUP reloads the
// workers without failing a request. reg, if not nil, gets the container's
// metrics and is served on MetricsBind.
func (f *Flags) Serve(h http.Handler, ln net.Listener, app *wsgi.Container, reg *prometheus.Registry, log *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	var opsSrv *http.Server
	if f.MetricsBind != "" {
		if reg == nil {
			reg = prometheus.NewRegistry()
		}
		opsLn, err := net.Listen("tcp", f.MetricsBind)
		if err != nil {
			return fmt.Errorf("-metrics-bind: %w", err)
		}
		opsSrv = &http.Server{Handler: app.OpsHandler(reg), ReadHeaderTimeout: 10 * time.Second}
		go opsSrv.Serve(opsLn)
		log.Info("operations listener", slog.String("url.full", "http://"+opsLn.Addr().String()+"/status"))
	}

	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sig)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	for {
		select {
		case err := <-errc:
			app.Shutdown(context.Background())
			return err
		case s := <-sig:
			if s == syscall.SIGHUP {
				log.Info("SIGHUP: reloading the workers")
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
					defer cancel()
					if err := app.Reload(ctx); err != nil {
						log.Error("reload failed; the old workers keep serving", slog.String("error", err.Error()))
					}
				}()
				continue
			}
			log.Info("shutting down", slog.String("graft.signal", s.String()), slog.Duration("graft.graceful_timeout", f.GracefulTimeout))
			ctx, cancel := context.WithTimeout(context.Background(), f.GracefulTimeout)
			defer cancel()
			err := srv.Shutdown(ctx)
			if cerr := app.Shutdown(ctx); err == nil {
				err = cerr
			}
			if opsSrv != nil {
				opsSrv.Close()
			}
			return err
		}
	}
}
