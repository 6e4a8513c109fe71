package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"github.com/graft-dev/graft/wsgi"
)

// soBusyPoll is Linux's SO_BUSY_POLL socket option.
const soBusyPoll = 46

// serveBare is the "serve-bare" subcommand: a bare net/http server whose
// handler writes "Hello world!\n", the baseline of the Go CPU measurement.
// -nodelay=false turns TCP_NODELAY off on accepted connections (Go turns
// it on); -busy-poll N sets SO_BUSY_POLL to N microseconds (Linux);
// -min-heap N is the heap floor in MiB, as for the examples (the same
// default, so that both sides of the comparison collect alike).
// -cpuprofile writes a CPU profile until SIGTERM or SIGINT
// (bench/suite/stackserver is the same for a native route behind graft's
// middleware stack).
func serveBare(args []string) {
	fs := flag.NewFlagSet("serve-bare", flag.ExitOnError)
	bind := fs.String("bind", "127.0.0.1:8000", "address to listen on")
	nodelay := fs.Bool("nodelay", true, "TCP_NODELAY on accepted connections")
	busyPoll := fs.Int("busy-poll", 0, "SO_BUSY_POLL in microseconds on accepted connections (Linux; 0: off)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file until SIGTERM or SIGINT")
	minHeap := fs.Int64("min-heap", wsgi.DefaultMinHeap>>20, "heap floor in MiB (wsgi.StartHeapFloor; 0: Go's default)")
	fs.Parse(args)
	if _, err := wsgi.StartHeapFloor(*minHeap << 20); err != nil { // for the life of the process
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *bind)
	if err != nil {
		log.Fatal(err)
	}
	body := []byte("Hello world!\n")
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		go func() {
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
			<-sig
			pprof.StopCPUProfile()
			os.Exit(0)
		}()
	}
	log.Fatal(http.Serve(&tunedListener{ln.(*net.TCPListener), *nodelay, *busyPoll}, h))
}

// tunedListener sets socket options on the connections it accepts.
type tunedListener struct {
	*net.TCPListener
	nodelay  bool
	busyPoll int
}

func (l *tunedListener) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	c.SetNoDelay(l.nodelay)
	if l.busyPoll > 0 && runtime.GOOS == "linux" {
		if rc, err := c.SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) {
				if err := syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soBusyPoll, l.busyPoll); err != nil {
					log.Printf("SO_BUSY_POLL: %v", err)
				}
			})
		}
	}
	return c, nil
}
