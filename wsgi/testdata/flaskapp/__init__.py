"""A small Flask app for graft's end-to-end tests (flask_test.go).

Served as "flaskapp:app". Every view answers something the test can check
exactly: JSON echoes, checksums of uploaded files, the environ keys that
matter (REMOTE_USER, SCRIPT_NAME), and URLs built with url_for.
"""

import hashlib
import hmac
import os
import secrets
import tempfile
import threading
import time

from flask import (
    Flask,
    Response,
    abort,
    jsonify,
    redirect,
    request,
    send_file,
    send_from_directory,
    session,
    url_for,
)

app = Flask(__name__)
app.config.update(
    SECRET_KEY="graft-flask-test-secret",
    # Let exceptions reach the WSGI server (graft answers 500 and logs the
    # traceback) instead of Flask's own error page.
    PROPAGATE_EXCEPTIONS=True,
)


@app.get("/")
def index():
    return "flask index"


@app.get("/hello/<name>")
def hello(name):
    return "hello " + name


@app.get("/items/<int:item_id>")
def item(item_id):
    return jsonify(id=item_id, q=request.args.get("q"))


@app.get("/p/<name>")
def param(name):
    # name is decoded from PATH_INFO by Werkzeug (latin-1 bytes -> UTF-8).
    return jsonify(name=name, path=request.path, codepoints=[ord(c) for c in name])


@app.post("/json")
def json_echo():
    data = request.get_json()
    return jsonify(got=data, sum=sum(data.get("numbers", [])), content_type=request.content_type), 201


@app.post("/form")
def form():
    return jsonify(fields={k: request.form.getlist(k) for k in request.form})


@app.post("/upload")
def upload():
    files = []
    for field in request.files:
        for f in request.files.getlist(field):
            data = f.read()
            files.append(
                {"field": field, "filename": f.filename, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            )
    return jsonify(
        files=files,
        fields={k: request.form.getlist(k) for k in request.form},
        content_length=request.environ.get("CONTENT_LENGTH"),
    )


@app.get("/session/set")
def session_set():
    for k, v in request.args.items():
        session[k] = v
    return jsonify(ok=True)


@app.get("/session/get")
def session_get():
    return jsonify(session=dict(session))


@app.get("/cookie/set")
def cookie_set():
    resp = jsonify(ok=True)
    resp.set_cookie("flavour", request.args.get("v", "plain"), httponly=True)
    resp.set_cookie("size", "large", path="/")
    return resp


@app.get("/cookie/get")
def cookie_get():
    return jsonify(flavour=request.cookies.get("flavour"))


# A tiny session-based CSRF protection: the form page puts a random token in
# the session and in the page; a protected POST must send it back, in the
# form (csrf_token) or in the X-CSRF-Token header.
@app.get("/csrf/form")
def csrf_form():
    if "csrf" not in session:
        session["csrf"] = secrets.token_hex(16)
    token = session["csrf"]
    return (
        '<form method="post" action="%s"><input type="hidden" name="csrf_token" value="%s">'
        '<input name="msg"></form>' % (url_for("csrf_submit"), token)
    )


@app.post("/csrf/submit")
def csrf_submit():
    expected = session.get("csrf")
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token")
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        abort(403)
    return jsonify(ok=True, msg=request.form.get("msg"))


@app.get("/redirect")
def go_redirect():
    return redirect(url_for("hello", name="world"))


@app.get("/urls")
def urls():
    return jsonify(
        url_for=url_for("hello", name="x"),
        external=url_for("hello", name="x", _external=True),
        script_root=request.script_root,
        path=request.path,
        url=request.url,
    )


@app.get("/boom")
def boom():
    raise RuntimeError("flaskapp boom")


@app.get("/whoami")
def whoami():
    env = request.environ
    return jsonify(
        remote_user=env.get("REMOTE_USER"),
        http_remote_user=env.get("HTTP_REMOTE_USER"),
        keys=sorted(k for k in env if "REMOTE_USER" in k.upper()),
    )


@app.get("/pid")
def pid():
    time.sleep(float(request.args.get("sleep", "0")))
    return jsonify(
        pid=os.getpid(),
        thread=threading.get_ident(),
        n=request.args.get("n"),
        multithread=request.environ["wsgi.multithread"],
        multiprocess=request.environ["wsgi.multiprocess"],
    )


def pattern(n):
    """n bytes of the pattern download tests check: b"graft" + bytes 0..255, repeated."""
    unit = b"graft" + bytes(range(256))
    return (unit * (n // len(unit) + 1))[:n]


@app.get("/files/<name>")
def files(name):
    # A file the test wrote into $GRAFT_FILES_DIR: send_file knows its size
    # (Content-Length, Range, ETag) and hands it to wsgi.file_wrapper, which
    # graft turns into sendfile from Go.
    return send_from_directory(os.environ["GRAFT_FILES_DIR"], name, mimetype="application/octet-stream")


@app.get("/download")
def download():
    # A real but unlinked file of unknown name: no Content-Length; still
    # passed through wsgi.file_wrapper.
    f = tempfile.TemporaryFile()
    f.write(pattern(int(request.args["n"])))
    f.seek(0)
    return send_file(f, mimetype="application/octet-stream", download_name="data.bin")


@app.get("/stream")
def stream():
    n = int(request.args.get("n", "5"))

    def gen():
        for i in range(n):
            yield "chunk %d\n" % i

    return Response(gen(), mimetype="text/plain")
