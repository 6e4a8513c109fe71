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

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/migrate"
	"github.com/graft-dev/graft/router"
)

// migrateFlags are the flags of the route-by-route migration.
type migrateFlags struct {
	stages    string // -stages FILE
	adminBind string // -admin-bind ADDR
}

func (f *migrateFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.stages, "stages", "", "JSON stages file: the migration stage of each Go route (python, shadow, canary, go); reloaded when it changes and on SIGHUP, rewritten by the admin API and console")
	fs.StringVar(&f.adminBind, "admin-bind", "", "serve the migration admin API and console on this separate address (e.g. 127.0.0.1:9091); it has no authentication of its own")
}

// migration is the running migration: the Migrator of the Go routes and
// the admin listener.
type migration struct {
	m         *migrate.Migrator
	admin     *http.Server
	adminAddr string // the admin listener's address, "" without one
	sighup    chan os.Signal
}

// startMigration puts the staged Go routes of h (newHandler's router)
// under a Migrator when -stages or -admin-bind is given (nil otherwise),
// serves the admin API and console on -admin-bind, and reloads the stages
// file on SIGHUP. Its metrics go to reg, or nowhere when reg is nil.
func startMigration(h http.Handler, f migrateFlags, log *slog.Logger, reg *prometheus.Registry) (*migration, error) {
	if f.stages == "" && f.adminBind == "" {
		return nil, nil
	}
	r, ok := h.(*router.Router)
	if !ok {
		return nil, errors.New("migration: the handler is not a *router.Router")
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := migrate.New(r, migrate.Options{StagesFile: f.stages, Logger: log, Registerer: reg})
	if err != nil {
		return nil, err
	}
	mg := &migration{m: m}
	if f.adminBind != "" {
		ln, err := net.Listen("tcp", f.adminBind)
		if err != nil {
			m.Shutdown(context.Background())
			return nil, fmt.Errorf("-admin-bind: %w", err)
		}
		mg.adminAddr = ln.Addr().String()
		mg.admin = &http.Server{Handler: adminHandler(m), ReadHeaderTimeout: 10 * time.Second}
		go mg.admin.Serve(ln)
		log.Info("migration console", slog.String("url", "http://"+mg.adminAddr+"/"))
		if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
			log.Warn("the migration admin listener is not on a loopback address and has no authentication: put it behind your own",
				slog.String("addr", mg.adminAddr))
		}
	}
	if f.stages != "" {
		mg.sighup = make(chan os.Signal, 1)
		signal.Notify(mg.sighup, syscall.SIGHUP)
		go func() {
			for range mg.sighup {
				if m.Reload() == nil {
					log.Info("SIGHUP: stages file reloaded", slog.String("file", f.stages))
				}
			}
		}()
	}
	return mg, nil
}

// adminHandler is the admin JSON API with the console at /.
func adminHandler(m *migrate.Migrator) http.Handler {
	return m.Handler(migrate.AdminOptions{Console: m.Console(migrate.ConsoleOptions{})})
}

// stop closes the admin listener, stops watching the stages file and
// waits for the shadow runs in flight.
func (mg *migration) stop() {
	if mg == nil {
		return
	}
	if mg.sighup != nil {
		signal.Stop(mg.sighup)
		close(mg.sighup)
	}
	if mg.admin != nil {
		mg.admin.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mg.m.Shutdown(ctx)
}
