package wsgi

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testPython returns the interpreter the tests use: $GRAFT_PYTHON, else
// Debian's /usr/bin/python3 (where python3-flask and python3-django
// install). A missing interpreter fails the test: it never skips.
func testPython(t testing.TB) string {
	t.Helper()
	py := os.Getenv("GRAFT_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	if _, err := exec.LookPath(py); err != nil {
		t.Fatalf("python interpreter %s not found (set GRAFT_PYTHON): %v", py, err)
	}
	return py
}

// requirePython fails the test unless `import mod` works in testPython.
func requirePython(t testing.TB, mods ...string) {
	t.Helper()
	for _, m := range mods {
		out, err := exec.Command(testPython(t), "-c", "import "+m).CombinedOutput()
		if err != nil {
			t.Fatalf("python module %s is not importable by %s (apt-get install python3-%s): %v\n%s", m, testPython(t), m, err, out)
		}
	}
}

// testdataDir is the absolute path of testdata/.
func testdataDir(t testing.TB) string {
	t.Helper()
	d, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// logBuffer collects log records for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// newContainer starts a container for app (a module:callable found in
// testdata/ unless cfg.Dir says otherwise) and stops it when the test ends.
// The returned logBuffer holds everything the container logged.
func newContainer(t testing.TB, cfg Config) (*Container, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	if cfg.Python == "" {
		cfg.Python = testPython(t)
	}
	if cfg.Dir == "" {
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
