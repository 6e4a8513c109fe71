package middleware

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/router"
)

// A handler that hijacks the connection (a WebSocket upgrade on a native
// route) is logged and counted as 101, the status its client got, with
// graft.hijacked on the line, in both access log modes and with Metrics alone: gorilla/websocket
// writes its 101 on the hijacked connection, coder/websocket sends it with
// WriteHeader before hijacking. A panic after the hijack writes no 500 on
// a connection net/http no longer has. Before, the line and the counter
// said 200 (the panic: 500), a status nobody sent.
func TestHijackedStatus(t *testing.T) {
	const upgrade = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n"
	hijack := func(w http.ResponseWriter) net.Conn {
		c, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		return c
	}
	for _, mode := range []string{"graft", "httplog", "metrics alone"} {
		t.Run(mode, func(t *testing.T) {
			var logs, serverLog bytes.Buffer
			lo := DefaultLogOptions()
			if mode == "httplog" {
				lo.LogRequestBody = func(*http.Request) bool { return true }
			}
			reg := prometheus.NewRegistry()
			r := router.New()
			if mode != "metrics alone" {
				r.Use(Stack(Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Log: lo}))
			} else {
				r.Use(recoverer) // the panic would end the connection before the counting
			}
			r.Use(Metrics(reg))
			r.Get("/raw", func(w http.ResponseWriter, _ *http.Request) {
				c := hijack(w)
				io.WriteString(c, upgrade)
				c.Close()
			})
			r.Get("/sent", func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Upgrade", "test")
				w.Header().Set("Connection", "Upgrade")
				w.WriteHeader(http.StatusSwitchingProtocols)
				hijack(w).Close()
			})
			r.Get("/panics", func(w http.ResponseWriter, _ *http.Request) {
				c := hijack(w)
				io.WriteString(c, upgrade)
				c.Close()
				panic("after the hijack")
			})
			r.Get("/plain", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
			served := make(chan struct{}, 1)
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				defer func() { served <- struct{}{} }()
				r.ServeHTTP(w, req)
			}))
			srv.Config.ErrorLog = log.New(&serverLog, "", 0)
			srv.Start()
			defer srv.Close()

			for _, path := range []string{"/raw", "/sent", "/panics", "/plain"} {
				c, err := net.Dial("tcp", srv.Listener.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				resp.Body.Close()
				c.Close()
				<-served // the line is written and the request counted
			}

			var got []string
			for _, l := range logLines(t, &logs) {
				got = append(got, fmt.Sprintf("%v %v %v", l["url.path"], l["http.response.status_code"], l[AttrHijacked]))
			}
			want := []string{"/raw 101 true", "/sent 101 true", "/panics 101 true", "/plain 200 <nil>"}
			if mode == "metrics alone" {
				want = nil
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("access lines (path status hijacked):\n got %q\nwant %q", got, want)
			}
			counts := requestCounts(t, reg)
			wantCounts := map[string]float64{
				"route=/raw,status=101,target=go":    1,
				"route=/sent,status=101,target=go":   1,
				"route=/panics,status=101,target=go": 1,
				"route=/plain,status=200,target=go":  1,
			}
			if !reflect.DeepEqual(counts, wantCounts) {
				t.Errorf("graft_http_requests_total: got %v, want %v", counts, wantCounts)
			}
			if strings.Contains(serverLog.String(), "hijacked connection") {
				t.Errorf("a status was written on the hijacked connection: %s", serverLog.String())
			}
		})
	}
}

// recoverer swallows a panic, as Stack does.
func recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { recover() }()
		next.ServeHTTP(w, r)
	})
}
