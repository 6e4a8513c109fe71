// Command wsgiserve serves any WSGI application on graft, with flags named
// like gunicorn's:
//
//	wsgiserve [-bind 127.0.0.1:8000] [-workers N] [-threads N] [-python PATH]
//	          [-chdir DIR] [-timeout 30s] module:callable
//
// It logs to stderr, exits non-zero with the Python traceback when the app
// cannot load, and shuts down gracefully on SIGINT and SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

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
	if err := fs.Parse(args); err != nil {
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

	c, err := wsgi.New(wsgi.Config{
		App: fs.Arg(0), Python: *python, Dir: *chdir,
		Workers: *workers, Threads: *threads, Timeout: *timeout, Logger: log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *bind)
	if err != nil {
		c.Shutdown(context.Background())
		return err
	}
	srv := &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second}
	log.Info("wsgiserve: listening", slog.String("addr", ln.Addr().String()), slog.String("app", fs.Arg(0)))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		c.Shutdown(context.Background())
		return err
	case <-ctx.Done():
	}
	log.Info("wsgiserve: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	if cerr := c.Shutdown(sctx); err == nil {
		err = cerr
	}
	return err
}
