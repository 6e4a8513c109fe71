"""A Flask app with protected downloads through X-Sendfile (send_file with
use_x_sendfile), for fallback/sendfile_test.go. GRAFT_DL_DIR is where the
files are; GRAFT_DL_LOG is where the streaming view records how far it got."""
import os

from flask import Flask, Response, abort, request, send_file

FILES = os.environ["GRAFT_DL_DIR"]

app = Flask(__name__)
app.use_x_sendfile = True


@app.route("/files/<name>")
def download(name):
    if request.args.get("token") != "ok":
        abort(403)
    return send_file(os.path.join(FILES, name), as_attachment=True, download_name=name)


@app.route("/path")
def any_path():
    # The app trusts a path it should not: Go's roots are the safety net.
    return send_file(request.args["p"], mimetype="application/octet-stream")


@app.route("/streamed/<name>")
def streamed(name):
    # A body as well as the header: Go must stop it, not drain it.
    def body():
        n = 0
        try:
            for n in range(1, 1001):
                yield b"x" * 65536
        finally:
            with open(os.environ["GRAFT_DL_LOG"], "w") as f:
                f.write(str(n))

    return Response(body(), headers={"X-Sendfile": os.path.join(FILES, name)}, mimetype="text/plain")


@app.route("/denied")
def denied():
    return Response("no", status=403, headers={"X-Sendfile": os.path.join(FILES, "a.txt")})


@app.route("/untyped/<name>")
def untyped(name):
    # No Content-Type at all: Go takes the file's.
    response = Response(headers={"X-Sendfile": os.path.join(FILES, name)})
    del response.headers["Content-Type"]
    return response


@app.route("/cached/<name>")
def cached(name):
    # Caching headers for the file, which its error answers must not carry.
    return Response(headers={
        "X-Sendfile": os.path.join(FILES, name),
        "Cache-Control": "public, max-age=31536000",
        "Expires": "Thu, 01 Jan 2037 00:00:00 GMT",
        "Content-Disposition": "attachment",
    }, mimetype="text/plain")


@app.route("/ping")
def ping():
    return "pong"
