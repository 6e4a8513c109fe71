package pythontest

import (
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestDebianPackage(t *testing.T) {
	tests := []struct{ mod, want string }{
		{"flask", "python3-flask"},
		{"django", "python3-django"},
		{"django.contrib.auth", "python3-django"},
		{"whitenoise", "python3-whitenoise"},
		{"werkzeug", "python3-werkzeug"},
		{"flask_login", "python3-flask-login"},
		{"gunicorn", "gunicorn"},
		{"yaml", "python3-yaml"},
		{"PIL", "python3-pil"},
		{"bottle", "python3-bottle"},
		{"falcon", "python3-falcon"},
		{"falcon.inspect", "python3-falcon"},
		{"pyramid", "python3-pyramid"},
	}
	for _, tc := range tests {
		t.Run(tc.mod, func(t *testing.T) {
			if got := DebianPackage(tc.mod); got != tc.want {
				t.Errorf("DebianPackage(%q) = %q, want %q", tc.mod, got, tc.want)
			}
		})
	}
}

func TestPython(t *testing.T) {
	py := Python(t, "json")
	if py == "" {
		t.Fatal("no interpreter")
	}
	t.Setenv("GRAFT_PYTHON", py)
	if got := Python(t); got != py {
		t.Errorf("with GRAFT_PYTHON=%s: %s", py, got)
	}
}

func TestBufferConcurrent(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				fmt.Fprintf(&b, "%d\n", i)
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 800 {
		t.Errorf("%d lines, want 800", n)
	}
}

// fatalTB records Fatalf's message and ends the goroutine, as testing's
// FailNow does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fatalOf runs Python(mods...) on a fatalTB and returns the message it
// failed with ("" when it did not).
func fatalOf(t *testing.T, mods ...string) string {
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Python(f, mods...)
	}()
	<-done
	return f.msg
}

// A missing interpreter or module fails with the apt-get line to run.
func TestPythonMissing(t *testing.T) {
	Python(t) // the real interpreter, for the module case
	if msg := fatalOf(t, "graft_no_such_module"); !strings.Contains(msg, "apt-get install python3-graft-no-such-module") {
		t.Errorf("missing module: %q", msg)
	}
	t.Setenv("GRAFT_PYTHON", "/nonexistent/python3")
	if msg := fatalOf(t); !strings.Contains(msg, "/nonexistent/python3 not found") || !strings.Contains(msg, "apt-get install python3") {
		t.Errorf("missing interpreter: %q", msg)
	}
}

// TestUWSGIMissingPlugin checks the check UWSGI makes: a plugin uwsgi
// cannot load is an error (plain --plugin only warns), so that a machine
// with uwsgi but without uwsgi-plugin-python3 fails with the apt-get line.
func TestUWSGIMissingPlugin(t *testing.T) {
	bin, err := exec.LookPath("uwsgi")
	if err != nil {
		t.Fatalf("uwsgi not found (%s): %v", UWSGIPackages, err)
	}
	if err := exec.Command(bin, "--need-plugin", "graft_no_such_plugin", "--version").Run(); err == nil {
		t.Error("uwsgi --need-plugin with a missing plugin succeeded")
	}
	if out, err := exec.Command(bin, "--need-plugin", "python3", "--version").CombinedOutput(); err != nil {
		t.Errorf("uwsgi --need-plugin python3: %v\n%s (%s)", err, out, UWSGIPackages)
	}
}
