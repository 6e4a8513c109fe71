package pythontest

import (
	"os/exec"
	"testing"
)

// waitressScript serves argv[1] (module:callable, imported from the
// current directory) with waitress on fd 3, with the waitress
// adjustments name=value of argv[2:].
const waitressScript = `import importlib, socket, sys
sys.path.insert(0, ".")
from waitress import serve
mod, _, name = sys.argv[1].partition(":")
app = getattr(importlib.import_module(mod), name)
serve(app, sockets=[socket.socket(fileno=3)], **dict(a.split("=", 1) for a in sys.argv[2:]))
`

// Waitress runs a real waitress (Python's, a strict PEP 3333 server, as
// a third opinion where graft and gunicorn differ) serving app
// (module:callable) from dir on a listener on 127.0.0.1 handed over as fd
// 3, as [Gunicorn] does. adj are waitress adjustments as name=value
// ("threads=1", "url_prefix=/app"); graft's defaults, which adj
// override, are one thread and no Server header (ident=). It returns the
// listener's address and waitress's log. The test fails, with the
// apt-get line to run, if waitress is not importable.
func Waitress(t testing.TB, dir, app string, adj ...string) (addr string, logs *Buffer) {
	t.Helper()
	py := Python(t, "waitress")
	addr, f := listen(t)
	cmd := exec.Command(py, append([]string{"-c", waitressScript, app, "threads=1", "ident="}, adj...)...)
	cmd.Dir = dir
	return addr, startOn(t, "waitress", cmd, f)
}
