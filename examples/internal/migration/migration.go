// Package migration wires graft's migrate package into the example
// servers: the -stages and -admin-bind flags, a Migrator over the staged Go
// routes of the example's router, the admin API and migration console on
// their own listener, and a reload of the stages file on SIGHUP.
package migration

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
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/examples/internal/cli"
	"github.com/graft-dev/graft/migrate"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// Flags are the migration flags of an example.
type Flags struct {
	// Stages is -stages FILE.
	Stages string
	// AdminBind is -admin-bind ADDR.
	AdminBind string
	// PythonRoutes, not a flag, is the Python app's route map for the
	// admin API's GET /inventory and the console's inventory page
	// (migrate.AdminOptions.PythonRoutes; inventory.Routes gives it); the
	// example sets it before Start. nil: no inventory.
	PythonRoutes func(context.Context) (*wsgi.AppRouteMap, error)

	// ln is the admin listener Bind opened, which Start serves.
	ln net.Listener
}

// Bind opens the -admin-bind listener and reads the -stages file (its
// syntax, keys and values: the routes it names are checked by Start, once
// they exist), so that a busy port or a broken file fails at once, before
// the example starts Python, as a busy -bind does. Start serves the
// listener; Close closes it when Start is not reached.
func (f *Flags) Bind() error {
	if f.AdminBind != "" && f.ln == nil {
		ln, err := net.Listen("tcp", f.AdminBind)
		if err != nil {
			return fmt.Errorf("-admin-bind: %w", err)
		}
		f.ln = ln
	}
	if f.Stages != "" {
		if _, err := migrate.ReadFile(f.Stages); err != nil {
			f.Close()
			return err
		}
	}
	return nil
}

// Close closes the listener Bind opened, if Start did not take it over.
// It does nothing otherwise.
func (f *Flags) Close() {
	if f.ln != nil {
		f.ln.Close()
	}
}

// Register defines the flags on fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Stages, "stages", "", "JSON stages file: the migration stage of each Go route (python, shadow, canary, go); reloaded when it changes and on SIGHUP, rewritten by the admin API and console")
	cli.AddrVar(fs, &f.AdminBind, "admin-bind", "", true, "serve the migration admin API and console on this separate `ADDR` (HOST:PORT, e.g. 127.0.0.1:9091); it has no authentication of its own, and answers only URLs with an IP address or localhost")
}

// Migration is a running migration: the Migrator of the Go routes and the
// admin listener.
type Migration struct {
	m         *migrate.Migrator
	admin     *http.Server
	adminAddr string
	sighup    chan os.Signal
	stopped   sync.Once
}

// Start puts the staged Go routes of h (the example's *router.Router,
// with its routes and fallbacks registered) under a Migrator when -stages
// or -admin-bind is given, and returns nil, nil otherwise. It serves the
// admin API with the console on -admin-bind (on the listener of Bind, if
// it was called), and reloads the stages file on SIGHUP. The Migrator's metrics go to reg, or nowhere when reg is nil.
func Start(h http.Handler, f Flags, log *slog.Logger, reg *prometheus.Registry) (*Migration, error) {
	if f.Stages == "" && f.AdminBind == "" {
		return nil, nil
	}
	r, ok := h.(*router.Router)
	if !ok {
		f.Close()
		return nil, errors.New("migration: the handler is not a *router.Router")
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := migrate.New(r, migrate.Options{StagesFile: f.Stages, Logger: log, Registerer: reg})
	if err != nil {
		f.Close()
		return nil, err
	}
	mg := &Migration{m: m}
	if f.AdminBind != "" {
		ln := f.ln
		if ln == nil {
			ln, err = net.Listen("tcp", f.AdminBind)
			if err != nil {
				m.Shutdown(context.Background())
				return nil, fmt.Errorf("-admin-bind: %w", err)
			}
		}
		mg.adminAddr = ln.Addr().String()
		mg.admin = &http.Server{Handler: AdminHandler(m, f.PythonRoutes), ReadHeaderTimeout: 10 * time.Second}
		go mg.admin.Serve(ln)
		log.Info("migration console", slog.String("url.full", "http://"+mg.adminAddr+"/"))
		if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
			log.Warn("the migration admin listener is not on a loopback address and has no authentication: put it behind your own",
				slog.String("graft.addr", mg.adminAddr))
		}
	}
	if f.Stages != "" {
		mg.sighup = make(chan os.Signal, 1)
		signal.Notify(mg.sighup, syscall.SIGHUP)
		go func() {
			for range mg.sighup {
				if m.Reload() == nil {
					log.Info("SIGHUP: stages file reloaded", slog.String("graft.file", f.Stages))
				}
			}
		}()
	}
	return mg, nil
}

// AdminHandler is the admin JSON API of m with the console at /, for
// requests to an IP address or localhost (no AdminOptions.Hosts), with
// the migration inventory (GET /inventory, and the console's page) when
// routes, the Python app's route map, is not nil.
func AdminHandler(m *migrate.Migrator, routes func(context.Context) (*wsgi.AppRouteMap, error)) http.Handler {
	return m.Handler(migrate.AdminOptions{Console: m.Console(migrate.ConsoleOptions{}), PythonRoutes: routes})
}

// AdminAddr returns the address of the admin listener, "" without one.
func (mg *Migration) AdminAddr() string { return mg.adminAddr }

// Migrator returns the Migrator.
func (mg *Migration) Migrator() *migrate.Migrator { return mg.m }

// Stop closes the admin listener, stops watching the stages file and
// waits for the shadow runs in flight, until ctx is done. It does nothing
// on nil, or after the first call. The examples call it from
// wsgi.ServeConfig.Drained, before the container stops (the shadow runs
// still need it), and again when run returns, for the paths that never
// reach a shutdown.
func (mg *Migration) Stop(ctx context.Context) {
	if mg == nil {
		return
	}
	mg.stopped.Do(func() {
		if mg.sighup != nil {
			signal.Stop(mg.sighup)
			close(mg.sighup)
		}
		if mg.admin != nil {
			mg.admin.Close()
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		mg.m.Shutdown(ctx)
	})
}

// ServeConfig returns cfg with its Drained calling Stop (and cfg's own
// Drained, if any, before it), so that the Migrator stops before the
// container does.
func (mg *Migration) ServeConfig(cfg wsgi.ServeConfig) wsgi.ServeConfig {
	if mg == nil {
		return cfg
	}
	before := cfg.Drained
	cfg.Drained = func(ctx context.Context) {
		if before != nil {
			before(ctx)
		}
		mg.Stop(ctx)
	}
	return cfg
}
