package fallback

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/httplog/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
)

// A client that leaves while a real Flask view runs is logged as gone:
// status 499 and error.type ClientAborted, as for a client that leaves a
// Go route, and counted 499 by the metrics. The container takes the
// connection from net/http to close it without another byte, and the
// access line took that for a protocol switch: "GET /slow => HTTP 101"
// with graft.hijacked, at INFO (seen at the end of every wrk run against
// wsgiserve).
func TestAccessLogClientGoneFromApp(t *testing.T) {
	py := pythontest.Python(t, "flask")
	td, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		opts    middleware.Options
		aborted bool // error.type ClientAborted (graft's own line; httplog's has its own)
	}{
		{name: "graft's line", opts: middleware.Options{}, aborted: true},
		{name: "httplog's line", opts: middleware.Options{Log: httplogBodies()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clientGone(t, py, td, tc.opts, tc.aborted)
		})
	}
}

func clientGone(t *testing.T, py, td string, opts middleware.Options, aborted bool) {
	logs := &pythontest.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	c, err := wsgi.New(wsgi.Config{App: "goneapp:app", Python: py, Dir: td, Workers: 1, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown(context.Background()) })
	reg := prometheus.NewRegistry()
	r := router.New()
	opts.Logger = logger
	r.Use(middleware.Stack(opts), middleware.Metrics(reg))
	r.Fallback(&Handler{App: c})
	srv := httptest.NewServer(r)
	defer srv.Close()

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	running := func() bool {
		for _, w := range c.Status().Workers {
			if len(w.Requests) > 0 {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(time.Minute); !running(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the request never reached the worker; logs:\n%s", logs)
		}
	}
	conn.Close()

	var line map[string]any
	for deadline := time.Now().Add(time.Minute); line == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no access line; logs:\n%s", logs)
		}
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, `"GET /slow => HTTP`) {
				if err := json.Unmarshal([]byte(l), &line); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if line["http.response.status_code"] != 499.0 || line["level"] != "WARN" || aborted && line["error.type"] != "ClientAborted" {
		t.Errorf("access line %v; want a WARN line with status 499 (and error.type ClientAborted: %v)", line, aborted)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, mf := range mfs {
		if mf.GetName() != "graft_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "status" {
					statuses = append(statuses, fmt.Sprintf("%s=%v", l.GetValue(), m.GetCounter().GetValue()))
				}
			}
		}
	}
	if fmt.Sprint(statuses) != "[499=1]" {
		t.Errorf("graft_http_requests_total by status: %v, want [499=1]", statuses)
	}
}

// httplogBodies are the access log's default options with request bodies
// logged, which takes httplog's own logger.
func httplogBodies() *httplog.Options {
	lo := middleware.DefaultLogOptions()
	lo.LogRequestBody = func(*http.Request) bool { return true }
	return lo
}
