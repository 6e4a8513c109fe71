package session

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// testPython returns $GRAFT_PYTHON, else Debian's /usr/bin/python3, and
// fails the test (never skips) unless it can import mods.
func testPython(t testing.TB, mods ...string) string {
	t.Helper()
	py := os.Getenv("GRAFT_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	if _, err := exec.LookPath(py); err != nil {
		t.Fatalf("python interpreter %s not found (set GRAFT_PYTHON; on Debian, apt-get install python3 python3-flask python3-django): %v", py, err)
	}
	for _, m := range mods {
		if out, err := exec.Command(py, "-c", "import "+m).CombinedOutput(); err != nil {
			t.Fatalf("python module %s is not importable by %s (on Debian, apt-get install python3-%s): %v\n%s", m, py, m, err, out)
		}
	}
	return py
}

var pyMu sync.Mutex // one Python at a time: the machine is small

// runPy runs testdata/script with req as JSON on stdin and decodes its
// JSON output into out.
func runPy(t testing.TB, script, module string, req, out any) {
	t.Helper()
	py := testPython(t, module)
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	pyMu.Lock()
	defer pyMu.Unlock()
	cmd := exec.Command(py, script)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", py, script, err, stderr.Bytes())
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s output: %v\n%s", script, err, b)
	}
}
