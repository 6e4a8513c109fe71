"""The Flask app of TestFlaskDifferential (examples/wsgiserve/diffflask_test.go).

It is served under wsgiserve, gunicorn and waitress, behind ProxyFix as a
Flask app behind a proxy usually is, and its views answer what Flask computed
of the request (JSON, keys sorted), so that the test compares what the app
saw as well as what the client got. One worker of one thread per server:
TEARDOWNS is what the teardown callbacks recorded since the last /teardowns
(method, path and exception of each request).
"""

import hashlib
import io
import json
import os

from flask import (Flask, Response, abort, flash, g, get_flashed_messages, redirect, request,
                   send_file, session, stream_with_context, url_for)
from werkzeug.middleware.proxy_fix import ProxyFix

HERE = os.path.dirname(os.path.abspath(__file__))
FILE = os.path.join(HERE, "diffflask_file.txt")

app = Flask(__name__)
app.secret_key = "diffflask-not-secret"
app.config["MAX_CONTENT_LENGTH"] = 512 * 1024
app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1)

TEARDOWNS = []


def answer(d, status=200):
    return Response(json.dumps(d, sort_keys=True), status, mimetype="application/json")


def computed():
    """What Flask computed of the request the server passed on."""
    return {
        "method": request.method,
        "path_info": request.path,
        "script_root": request.script_root,
        "full_path": request.full_path,
        "url": request.url,
        "url_root": request.url_root,
        "host": request.host,
        "scheme": request.scheme,
        "is_secure": request.is_secure,
        "remote_addr": request.remote_addr,
        "args": request.args.to_dict(flat=False),
        "query_string": request.query_string.decode("latin-1"),
        "cookies": request.cookies.to_dict(flat=False),
        "headers": {k: v for k, v in request.headers.items()
                    if k.startswith("X-") and not k.startswith("X-Forwarded") and k != "X-Request-Id"},
        "content_length": request.content_length,
        "mimetype": request.mimetype,
        "url_for": url_for("info", p="caf\u00e9/a b", q="\u20ac&x", _external=True),
        "url_for_static": url_for("static", filename="x y.css"),
        "before": g.get("before"),
    }


@app.before_request
def before():
    g.before = request.endpoint
    if request.path == "/before/stop":
        return "stopped by before_request\n", 403


@app.after_request
def after(resp):
    resp.headers["X-After"] = request.endpoint or "-"
    return resp


@app.teardown_request
def teardown(exc):
    if request.path != "/teardowns":
        TEARDOWNS.append([request.method, request.path, type(exc).__name__ if exc else None])


@app.route("/teardowns")
def teardowns():
    d = "|".join(" ".join(x for x in t if x) for t in TEARDOWNS)
    del TEARDOWNS[:]
    return d


@app.route("/i/", methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"])
@app.route("/i/<path:p>", methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"])
def info(p=""):
    return answer(computed())


@app.route("/session")
def session_count():
    session["n"] = session.get("n", 0) + 1
    return answer({"session": dict(session), "permanent": session.permanent})


@app.route("/session/permanent")
def session_permanent():
    session.permanent = True
    session["name"] = "caf\u00e9 \u2713"
    return answer({"session": dict(session), "permanent": session.permanent})


@app.route("/session/clear")
def session_clear():
    session.clear()
    return answer({"session": dict(session)})


@app.route("/cookies/set")
def cookies_set():
    resp = answer({"set": True})
    resp.set_cookie("plain", "v1")
    resp.set_cookie("odd", "a b;c\"d\\e,f", max_age=60, samesite="Lax")
    resp.set_cookie("utf8", "caf\u00e9 \u2713", path="/i/", secure=True, httponly=True)
    resp.set_cookie("dated", "x", expires=0)
    resp.delete_cookie("gone")
    return resp


@app.route("/flash", methods=["POST"])
def flash_message():
    flash(request.form.get("msg", "saved"), request.form.get("cat", "message"))
    return redirect(url_for("flashes"))


@app.route("/flashes")
def flashes():
    return answer({"flashes": get_flashed_messages(with_categories=True)})


@app.route("/redirect")
def redirect_relative():
    return redirect(url_for("info", p="caf\u00e9", q="\u20ac"))


@app.route("/redirect/external")
def redirect_external():
    return redirect(url_for("info", p="x", _external=True), 301)


@app.route("/redirect/307", methods=["GET", "POST"])
def redirect_307():
    return redirect(url_for("info", p="posted"), 307)


@app.route("/redirect/other")
def redirect_other():
    return redirect("http://other.example/caf\u00e9?q=1")


def files():
    out = {}
    for name, f in request.files.items(multi=True):
        data = f.read()
        out.setdefault(name, []).append({
            "filename": f.filename, "content_type": f.content_type, "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest()})
    return out


@app.route("/form", methods=["POST", "PUT"])
def form():
    return answer({"form": request.form.to_dict(flat=False), "files": files(),
                   "mimetype": request.mimetype, "content_length": request.content_length})


@app.route("/json", methods=["POST"])
def json_body():
    return answer({"json": request.get_json(), "is_json": request.is_json})


@app.route("/json/silent", methods=["POST"])
def json_silent():
    return answer({"json": request.get_json(silent=True)})


@app.route("/data", methods=["POST", "PUT"])
def data():
    b = request.get_data()
    return answer({"len": len(b), "sha256": hashlib.sha256(b).hexdigest(), "start": b[:40].decode("latin-1"),
                   "content_length": request.content_length})


@app.route("/stream-read", methods=["POST"])
def stream_read():
    n, reads, h = 0, 0, hashlib.sha256()
    while True:
        chunk = request.stream.read(1000)
        if not chunk:
            break
        n, reads = n + len(chunk), reads + 1
        h.update(chunk)
    return answer({"len": n, "reads": reads, "sha256": h.hexdigest()})


@app.route("/file")
def file():
    return send_file(FILE, mimetype="text/plain")


@app.route("/file/big")
def file_big():
    # $DIFFFLASK_BIG: a file of a few MiB the test wrote, the same for every server.
    return send_file(os.environ["DIFFFLASK_BIG"], mimetype="application/octet-stream")


@app.route("/file/open")
def file_open():
    # A file object the app opened, as send_file(open(...)) apps do.
    return send_file(open(os.environ["DIFFFLASK_BIG"], "rb"), mimetype="application/octet-stream",
                     download_name="big.bin", etag="big-v1", last_modified=0)


@app.route("/file/download")
def file_download():
    return send_file(FILE, as_attachment=True, download_name="r\u00e9sum\u00e9 \"1\".txt")


@app.route("/file/bytesio")
def file_bytesio():
    return send_file(io.BytesIO(b"0123456789" * 50), mimetype="application/octet-stream",
                     download_name="digits.bin", etag="digits-v1", last_modified=0)


@app.route("/gen")
def gen():
    @stream_with_context
    def chunks():
        yield "start %s\n" % request.args.get("who", "nobody")
        for i in range(3):
            yield "chunk %d %s\n" % (i, g.before)
        yield "end\n"
    return Response(chunks(), mimetype="text/plain")


@app.route("/gen/echo", methods=["POST"])
def gen_echo():
    @stream_with_context
    def chunks():
        yield "reading\n"
        while True:
            chunk = request.stream.read(700)
            if not chunk:
                break
            yield "%d %s\n" % (len(chunk), hashlib.sha256(chunk).hexdigest()[:12])
        yield "done\n"
    return Response(chunks(), mimetype="text/plain")


@app.route("/gen/big")
def gen_big():
    n = int(request.args.get("n", "500"))

    def chunks():
        for i in range(n):
            yield ("%06d " % i).encode() + b"z" * 8185 + b"\n"
    return Response(chunks(), mimetype="application/octet-stream")


@app.route("/status/<int:code>")
def status(code):
    return "body the server must drop\n", code


@app.route("/hdr/latin1")
def hdr_latin1():
    return "latin-1\n", 200, {"X-Latin": "caf\u00e9", "Content-Disposition": "inline; filename=\"caf\u00e9.txt\""}


@app.route("/hdr/utf8")
def hdr_utf8():
    return "utf-8\n", 200, {"X-Check": "\u2713"}


@app.route("/gen/empty")
def gen_empty():
    return Response((x for x in []), mimetype="text/plain")


@app.route("/abort/<int:code>")
def abort_with(code):
    abort(code)


@app.route("/boom")
def boom():
    raise RuntimeError("diffflask boom")


@app.errorhandler(404)
def not_found(e):
    return answer({"error": "not found", "path": request.path}, 404)


@app.errorhandler(500)
def server_error(e):
    return "custom 500: %s\n" % type(getattr(e, "original_exception", e)).__name__, 500


@app.route("/before/stop", methods=["GET", "POST"])
def before_stop():
    return "not reached\n"
