// Package opstest holds the test helpers of graft's example servers: the
// interpreter the tests run, the embedded app unpacked for a test, and a
// test server over a container's workers.
package opstest

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graft-dev/graft/examples/internal/ops"
	"github.com/graft-dev/graft/wsgi"
)

// Python is $GRAFT_PYTHON or Debian's interpreter; missing Python fails
// the test.
func Python(t testing.TB) string {
	t.Helper()
	py := os.Getenv("GRAFT_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	if _, err := exec.LookPath(py); err != nil {
		t.Fatalf("python %s not found (set GRAFT_PYTHON): %v", py, err)
	}
	return py
}

// Unpack writes the files of fsys under root into a temporary directory,
// as the commands do at start, removed when the test ends.
func Unpack(t testing.TB, fsys fs.FS, root string) string {
	t.Helper()
	dir, cleanup, err := ops.Unpack(fsys, root, "graft-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	return dir
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
