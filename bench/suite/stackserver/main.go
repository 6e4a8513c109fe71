// Command stackserver serves GET /api/health the way examples/hybrid
// serves its native routes, without Python: a graft Router behind
// middleware.Stack, JSON access log lines through middleware.NewLogHandler
// and middleware.LogWriter to stderr. It is for profiling the Go side of
// a native route; -cpuprofile writes a CPU profile until SIGTERM or SIGINT:
//
//	go run ./bench/suite/stackserver -cpuprofile cpu.prof 2>/dev/null &
//	wrk -t2 -c64 -d10s http://127.0.0.1:8000/api/health; kill %1
//	go tool pprof -top -cum cpu.prof
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
)

func main() {
	bind := flag.String("bind", "127.0.0.1:8000", "address to listen on")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file until SIGTERM or SIGINT")
	flag.Parse()
	lw := middleware.NewLogWriter(os.Stderr, 0)
	r := router.New()
	r.Use(middleware.Stack(middleware.Options{Logger: slog.New(middleware.NewLogHandler(lw, nil))}))
	r.Get("/api/health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
	})
	r.Fallback(http.NotFoundHandler())
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
	}
	srv := &http.Server{Addr: *bind, Handler: r}
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
