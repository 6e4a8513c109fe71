// Package opstest holds the test helpers of graft's example servers: the
// embedded app unpacked for a test, the examples' default flags, a test
// server over a container's workers, the single-binary run, the busy-port
// check, the usage-error check, page checks and the migration's stages
// file, admin API and route status. The interpreter comes from internal/pythontest, certificates
// from internal/testcert.
package opstest

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/examples/internal/cli"
	"github.com/graft-dev/graft/internal/pythontest"
	"github.com/graft-dev/graft/wsgi"
)

// Unpack writes the files of fsys under root into a temporary directory,
// as the commands do at start, removed when the test ends.
func Unpack(t testing.TB, fsys fs.FS, root string) string {
	t.Helper()
	dir, cleanup, err := cli.Unpack(fsys, root, "graft-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	return dir
}

// Flags are the examples' server flags with their defaults, 2 workers
// and the test interpreter.
func Flags(t testing.TB) cli.Flags {
	t.Helper()
	var f cli.Flags
	f.Register(cli.NewFlagSet("test"), cli.Defaults{Workers: 2})
	f.Python = pythontest.Python(t)
	return f
}

// Logger discards what it is given.
func Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Serve serves h on a test server; when the test ends, the server closes,
// then app's workers stop.
func Serve(t testing.TB, app *wsgi.Container, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		app.Shutdown(context.Background())
	})
	return srv
}

// RequestCounts gathers graft_http_requests_total from reg, by
// "target route status".
func RequestCounts(t testing.TB, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "graft_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			got[l["target"]+" "+l["route"]+" "+l["status"]] += m.GetCounter().GetValue()
		}
	}
	return got
}

// WaitFor polls cond for up to 20 seconds and fails the test if it never
// holds.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
