// Command wsgiserve serves any WSGI application on graft, with flags named
// like gunicorn's:
//
//	wsgiserve [-bind 127.0.0.1:8000] [-workers N] [-threads N] [-python PATH]
//	          [-chdir DIR] [-timeout 30s] [production flags] module:callable
//
// Production flags: -preload (default on), -max-requests N,
// -max-requests-jitter N, -max-rss MIB, -max-lifetime DURATION,
// -slow-request DURATION, -reload (development), -graceful-timeout
// DURATION (default 30s), -metrics-bind ADDR (/metrics, /status, /healthz,
// /readyz on a separate listener).
//
// It logs to stderr, exits non-zero with the Python traceback when the app
// cannot load, shuts down gracefully on SIGINT and SIGTERM, and reloads the
// workers without dropping a request on SIGHUP.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/graft-dev/graft/examples/internal/ops"
	"github.com/graft-dev/graft/wsgi"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "wsgiserve:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("wsgiserve", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: wsgiserve [flags] module:callable\n\nflags:\n")
		fs.PrintDefaults()
	}
	bind := fs.String("bind", "127.0.0.1:8000", "address to listen on")
	workers := fs.Int("workers", 0, "number of worker processes (0: one per CPU)")
	threads := fs.Int("threads", 1, "threads per worker process")
	python := fs.String("python", "python3", "Python interpreter that runs the workers")
	chdir := fs.String("chdir", "", "directory to run the workers in, prepended to sys.path")
	timeout := fs.Duration("timeout", 30*time.Second, "per-request timeout (e.g. 30s; 0 disables)")
	var of ops.Flags
	of.Register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := of.Validate(); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want exactly one module:callable argument")
	}
	if *workers < 0 || *threads < 1 || *timeout < 0 {
		return errors.New("-workers must be >= 0, -threads >= 1 and -timeout >= 0")
	}
	if *timeout == 0 {
		*timeout = -1 // wsgi.Config: negative means no limit
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	cfg := wsgi.Config{
		App: fs.Arg(0), Python: *python, Dir: *chdir,
		Workers: *workers, Threads: *threads, Timeout: *timeout, Logger: log,
	}
	of.Apply(&cfg)
	c, err := wsgi.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *bind)
	if err != nil {
		c.Shutdown(context.Background())
		return err
	}
	log.Info("wsgiserve: listening", slog.String("url.full", "http://"+ln.Addr().String()+"/"), slog.String("graft.app", fs.Arg(0)))
	return of.Serve(c, ln, c, nil, log)
}
