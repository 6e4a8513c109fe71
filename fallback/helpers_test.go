package fallback

import (
	"bytes"
	"os"
	"os/exec"
	"sync"
	"testing"
)

// testPython returns $GRAFT_PYTHON, else Debian's /usr/bin/python3, and
// fails the test (it never skips) unless the interpreter exists and can
// import mods, saying which Debian package to install.
func testPython(t testing.TB, mods ...string) string {
	t.Helper()
	py := os.Getenv("GRAFT_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	if _, err := exec.LookPath(py); err != nil {
		t.Fatalf("python interpreter %s not found (apt-get install python3, or set GRAFT_PYTHON): %v", py, err)
	}
	for _, m := range mods {
		pkg := "python3-" + m
		if m == "gunicorn" {
			pkg = "gunicorn"
		}
		if out, err := exec.Command(py, "-c", "import "+m).CombinedOutput(); err != nil {
			t.Fatalf("python module %s is not importable by %s (apt-get install %s): %v\n%s", m, py, pkg, err, out)
		}
	}
	return py
}

// syncBuffer collects log or process output safely across goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
