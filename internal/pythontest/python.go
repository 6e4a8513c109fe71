package pythontest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// DefaultPython is the interpreter Python uses when $GRAFT_PYTHON is
// unset: Debian's, where python3-flask, python3-django and the others
// install.
const DefaultPython = "/usr/bin/python3"

// debianPackages maps the top-level modules whose Debian package is not
// python3-<module> to that package.
var debianPackages = map[string]string{
	"gunicorn": "gunicorn", // the server and its command; depends on python3-gunicorn
	"yaml":     "python3-yaml",
	"PIL":      "python3-pil",
	"MySQLdb":  "python3-mysqldb",
}

// DebianPackage is the Debian package that installs module mod (dotted
// names count by their top-level package) for /usr/bin/python3:
// "python3-flask" for "flask", "python3-flask-login" for "flask_login"
// (Debian's names have no "_"), "gunicorn" for "gunicorn".
func DebianPackage(mod string) string {
	top, _, _ := strings.Cut(mod, ".")
	if pkg, ok := debianPackages[top]; ok {
		return pkg
	}
	return "python3-" + strings.ReplaceAll(strings.ToLower(top), "_", "-")
}

// Python returns the interpreter the tests run: $GRAFT_PYTHON, else
// DefaultPython. It fails the test (it never skips) unless the interpreter
// exists and imports each of mods, with a message saying what to install.
func Python(t testing.TB, mods ...string) string {
	t.Helper()
	py := os.Getenv("GRAFT_PYTHON")
	if py == "" {
		py = DefaultPython
	}
	if _, err := exec.LookPath(py); err != nil {
		t.Fatalf("python interpreter %s not found (apt-get install python3, or set GRAFT_PYTHON to one): %v", py, err)
	}
	for _, m := range mods {
		if out, err := exec.Command(py, "-c", "import "+m).CombinedOutput(); err != nil {
			t.Fatalf("python module %s is not importable by %s (apt-get install %s, or set GRAFT_PYTHON to an interpreter that has it): %v\n%s",
				m, py, DebianPackage(m), err, out)
		}
	}
	return py
}
