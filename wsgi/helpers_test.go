package wsgi

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/graft-dev/graft/internal/pythontest"
)

// testdataDir is the absolute path of testdata/.
func testdataDir(t testing.TB) string {
	t.Helper()
	d, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// newContainer starts a container for app (a module:callable found in
// testdata/ unless cfg.Dir or cfg.AppFS says otherwise) and stops it when
// the test ends. The returned buffer holds everything the container
// logged.
func newContainer(t testing.TB, cfg Config) (*Container, *pythontest.Buffer) {
	t.Helper()
	logs := &pythontest.Buffer{}
	if cfg.Python == "" {
		cfg.Python = pythontest.Python(t)
	}
	if cfg.Dir == "" && cfg.AppFS == nil {
		cfg.Dir = testdataDir(t)
	}
	if cfg.Workers == 0 {
		cfg.Workers = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", cfg.App, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if t.Failed() {
			t.Logf("container log:\n%s", logs.String())
		}
	})
	return c, logs
}

// newServer serves c on a real loopback listener (raw-socket tests,
// disconnects, chunked uploads).
func newServer(t testing.TB, c *Container) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return srv
}
