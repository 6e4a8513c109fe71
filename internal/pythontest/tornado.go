package pythontest

import (
	"os"
	"os/exec"
	"testing"
)

// tornadoScript serves argv[1] (module:callable, imported from the
// current directory) with Tornado's WSGIContainer and HTTPServer on fd 3
// (TCP or Unix). Its options: --certfile and --keyfile serve TLS,
// --xheaders takes the client's address and scheme from X-Real-Ip,
// X-Forwarded-For, X-Scheme and X-Forwarded-Proto (HTTPServer's xheaders).
const tornadoScript = `import argparse, importlib, socket, ssl, sys
sys.path.insert(0, ".")
import tornado.httpserver, tornado.ioloop, tornado.wsgi
p = argparse.ArgumentParser()
p.add_argument("app")
p.add_argument("--certfile")
p.add_argument("--keyfile")
p.add_argument("--xheaders", action="store_true")
a = p.parse_args()
mod, _, name = a.app.partition(":")
app = getattr(importlib.import_module(mod), name)
sock = socket.socket(fileno=3)
sock.setblocking(False)
tls = None
if a.certfile:
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(a.certfile, a.keyfile)
tornado.httpserver.HTTPServer(tornado.wsgi.WSGIContainer(app), ssl_options=tls,
                              xheaders=a.xheaders).add_sockets([sock])
try:
    tornado.ioloop.IOLoop.current().start()
except KeyboardInterrupt:
    pass
`

// TornadoOn runs a real Tornado WSGIContainer (the server graft rebuilds
// in Go, as a further opinion where graft and gunicorn differ) serving app
// (module:callable) from dir on the listening socket f (TCP or Unix,
// closed here once Tornado has it) handed over as fd 3, as [GunicornOn]
// does. The app runs on Tornado's IOLoop thread, one request at a time.
// args are options of its HTTPServer: "--certfile", path and "--keyfile",
// path to serve TLS, "--xheaders" to trust every client's
// X-Forwarded-For and X-Forwarded-Proto (Tornado has no list of trusted
// proxies). It returns Tornado's log. The test fails, with the apt-get
// line to run, if tornado is not importable.
func TornadoOn(t testing.TB, f *os.File, dir, app string, args ...string) (logs *Buffer) {
	t.Helper()
	py := Python(t, "tornado")
	cmd := exec.Command(py, append([]string{"-c", tornadoScript, app}, args...)...)
	cmd.Dir = dir
	return startOn(t, "tornado", cmd, f)
}
