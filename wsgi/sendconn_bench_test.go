package wsgi

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/testcert"
)

// BenchmarkSendConnWrite measures what SendTimeout's socket deadline (see
// sendconn.go) adds to a write of a small response (one write per
// response, as net/http flushes a hello) on a loopback TCP connection,
// against the bare socket.
func BenchmarkSendConnWrite(b *testing.B) {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n" +
		"Date: Mon, 30 Nov 2026 23:00:00 GMT\r\n\r\nHello, World!")
	for _, watched := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "sendtimeout"}[watched], func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			if watched {
				ln = SendTimeout(ln, time.Minute, nil)
			}
			client, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer client.Close()
			go io.Copy(io.Discard, client)
			conn, err := ln.Accept()
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			b.SetBytes(int64(len(resp)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := conn.Write(resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// nopWriteConn is a socket whose writes do nothing, so that what a
// benchmark measures is the deadline's cost alone.
type nopWriteConn struct{ *net.TCPConn }

func (nopWriteConn) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkSendConnDeadline measures the deadline's cost alone on a
// write (the write itself does nothing), while the listener's clock does
// not tick (the deadline is kept, as for all but one write in a tick).
func BenchmarkSendConnDeadline(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	conn, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	nop := nopWriteConn{conn.(*net.TCPConn)}
	p := make([]byte, 100)
	for _, bc := range []struct {
		name string
		c    net.Conn
	}{
		{"none", nop},
		{"sendtimeout", &sendConn{Conn: nop, timeout: time.Minute, clock: new(atomic.Uint64)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.c.Write(p)
			}
		})
	}
}

// BenchmarkServeSendTimeout measures a native hello through Serve, over
// plain HTTP/1.1, and HTTP/1.1 and HTTP/2 over TLS, with SendTimeout (the socket's deadline, and
// HTTP/2's stream watch) and without (-1), from a client of 8 parallel
// requests. cpu-ns/op is the process's CPU time per request, client
// included, steadier than ns/op on a loaded machine.
func BenchmarkServeSendTimeout(b *testing.B) {
	certFile, keyFile, pool := testcert.Write(b, b.TempDir(), 1)
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "Hello, World!")
	})
	for _, proto := range []string{"plain", "http1", "h2"} {
		for _, send := range []time.Duration{-1, time.Minute} {
			name := proto + map[bool]string{false: "/off", true: "/on"}[send > 0]
			b.Run(name, func(b *testing.B) {
				lc := ListenConfig{Binds: []string{"127.0.0.1:0"}, CertFile: certFile, KeyFile: keyFile}
				if proto == "plain" {
					lc.CertFile, lc.KeyFile = "", ""
				}
				ls, err := Listen(lc)
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() {
					done <- Serve(ctx, ls, hello, nil, ServeConfig{NoSignals: true, SendTimeout: send,
						Logger: slog.New(slog.DiscardHandler)})
				}()
				defer func() { cancel(); <-done }()
				tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"},
					MaxIdleConnsPerHost: 16, ForceAttemptHTTP2: proto == "h2"}
				if proto == "http1" {
					tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
					tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
				}
				defer tr.CloseIdleConnections()
				client := &http.Client{Transport: tr}
				url := "https://" + ls.Main[0].Addr().String() + "/"
				if proto == "plain" {
					url = "http://" + ls.Main[0].Addr().String() + "/"
				}
				get := func() error {
					resp, err := client.Get(url)
					if err != nil {
						return err
					}
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					return err
				}
				for i := 0; ; i++ { // Serve is up
					if get() == nil {
						break
					}
					if i == 200 {
						b.Fatal("Serve did not start")
					}
					time.Sleep(10 * time.Millisecond)
				}
				b.SetParallelism(4) // 8 goroutines on 2 CPUs
				cpu := cpuTime()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := get(); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// cpuTime returns the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
