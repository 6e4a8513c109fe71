package pythontest

import (
	"os/exec"
	"testing"
)

// tornadoScript serves argv[1] (module:callable, imported from the
// current directory) with Tornado's WSGIContainer and HTTPServer on fd 3.
const tornadoScript = `import importlib, socket, sys
sys.path.insert(0, ".")
import tornado.httpserver, tornado.ioloop, tornado.wsgi
mod, _, name = sys.argv[1].partition(":")
app = getattr(importlib.import_module(mod), name)
sock = socket.socket(fileno=3)
sock.setblocking(False)
tornado.httpserver.HTTPServer(tornado.wsgi.WSGIContainer(app)).add_sockets([sock])
try:
    tornado.ioloop.IOLoop.current().start()
except KeyboardInterrupt:
    pass
`

// Tornado runs a real Tornado WSGIContainer (the server graft rebuilds in
// Go, as a further opinion where graft and gunicorn differ) serving app
// (module:callable) from dir on a listener on 127.0.0.1 handed over as
// fd 3, as [Gunicorn] does. The app runs on Tornado's IOLoop thread, one
// request at a time. It returns the listener's address and Tornado's log.
// The test fails, with the apt-get line to run, if tornado is not
// importable.
func Tornado(t testing.TB, dir, app string) (addr string, logs *Buffer) {
	t.Helper()
	py := Python(t, "tornado")
	addr, f := listen(t)
	cmd := exec.Command(py, "-c", tornadoScript, app)
	cmd.Dir = dir
	return addr, startOn(t, "tornado", cmd, f)
}
