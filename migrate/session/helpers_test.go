package session

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/graft-dev/graft/internal/pythontest"
)

var pyMu sync.Mutex // one Python at a time: the machine is small

// runPy runs testdata/script with req as JSON on stdin and decodes its
// JSON output into out.
func runPy(t testing.TB, script, module string, req, out any) {
	t.Helper()
	py := pythontest.Python(t, module)
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
