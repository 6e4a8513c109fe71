// Command stackserver serves GET /api/health the way examples/hybrid
// serves its native routes, without Python, for measuring and profiling
// the Go side of a native route. -mode picks what stands in front of the
// handler:
//
//	bare          the handler alone, on net/http
//	router        graft's Router, no middleware
//	stack-json    Router + middleware.Stack, JSON access lines through
//	              middleware.NewLogHandler (the default)
//	stack-brief   Router + middleware.Stack with Options.Brief, text lines
//	              through wsgi.NewTextHandler (the examples' access log)
//
// Access lines go through middleware.LogWriter to stderr. -json makes the
// handler encode its body with encoding/json as examples/hybrid does; by
// default it writes the same bytes as a constant, like the suite's bare
// handler, so that modes differ only by what wraps the handler.
// -cpuprofile writes a CPU profile until SIGTERM or SIGINT:
//
//	go run ./bench/suite/stackserver -mode stack-brief -cpuprofile cpu.prof 2>/dev/null &
//	wrk -t2 -c64 -d10s http://127.0.0.1:8000/api/health; kill %1
//	go tool pprof -top -cum cpu.prof
//
// The Go CPU per request of a mode is the process's utime+stime (from
// /proc/PID/stat) over a wrk run divided by the requests served.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

func main() {
	bind := flag.String("bind", "127.0.0.1:8000", "address to listen on")
	mode := flag.String("mode", "stack-json", "bare, router, stack-json or stack-brief")
	useJSON := flag.Bool("json", false, "encode the body with encoding/json instead of writing a constant")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file until SIGTERM or SIGINT")
	flag.Parse()
	lw := middleware.NewLogWriter(os.Stderr, 0)
	health := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if *useJSON {
			json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
			return
		}
		w.Write([]byte("{\"status\":\"ok\"}\n"))
	}
	var h http.Handler
	switch *mode {
	case "bare":
		h = http.HandlerFunc(health)
	case "router", "stack-json", "stack-brief":
		r := router.New()
		switch *mode {
		case "stack-json":
			r.Use(middleware.Stack(middleware.Options{Logger: slog.New(middleware.NewLogHandler(lw, nil))}))
		case "stack-brief":
			r.Use(middleware.Stack(middleware.Options{Logger: slog.New(wsgi.NewTextHandler(lw, nil)), Brief: true}))
		}
		r.Get("/api/health", health)
		r.Fallback(http.NotFoundHandler())
		h = r
	default:
		log.Fatalf("stackserver: unknown -mode %q: want bare, router, stack-json or stack-brief", *mode)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
	}
	srv := &http.Server{Addr: *bind, Handler: h}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		srv.Close()
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
	pprof.StopCPUProfile()
	lw.Close()
}
