"""The Bottle app of the frameworks differential (diffframeworks_test.go):
the views answer what Bottle computed of the request, as JSON."""

import json
import os

import bottle

app = bottle.Bottle()


def info(**extra):
    r = bottle.request
    out = {
        "method": r.method,
        "path": r.path,
        "script_name": r.script_name,
        "url": r.url,
        "query": {k: r.query.getall(k) for k in sorted(r.query.keys())},
        "cookies": {k: r.cookies.getunicode(k) for k in sorted(r.cookies.keys())},
        "content_length": r.content_length,
        "content_type": r.content_type,
        "host": r.get_header("Host"),
        "remote_route": r.remote_route,
    }
    out.update(extra)
    bottle.response.content_type = "application/json"
    return json.dumps(out, sort_keys=True)


@app.route("/i/<rest:path>", method=["GET", "HEAD", "POST", "DELETE"])
def echo(rest):
    return info(rest=rest)


@app.get("/items/<n:int>")
def item(n):
    return info(n=n)


@app.get("/re/<code:re:[a-z]{2}>/<f:float>")
def regex(code, f):
    return info(code=code, f=f)


@app.post("/form")
def form():
    f = bottle.request.forms
    files = {k: [u.raw_filename, len(u.file.read())] for k, u in bottle.request.files.allitems()}
    return info(form={k: f.getall(k) for k in sorted(f.keys())}, files=files)


@app.post("/json")
def post_json():
    return info(json=bottle.request.json)


@app.post("/data")
def data():
    body = bottle.request.body.read()
    return info(length=len(body), head=body[:40].decode("latin-1"))


@app.get("/stream")
def stream():
    bottle.response.content_type = "text/plain"
    n = int(bottle.request.query.get("n", "3"))

    def gen():
        for i in range(n):
            yield ("chunk %d\n" % i).encode()

    return gen()


@app.get("/cookies/set")
def set_cookies():
    bottle.response.set_cookie("a", "1", path="/")
    bottle.response.set_cookie("b", "two words", max_age=60, httponly=True)
    return info()


@app.get("/abort/<code:int>")
def abort(code):
    bottle.abort(code, "aborted with %d" % code)


@app.get("/boom")
def boom():
    raise RuntimeError("boom")


@app.get("/redirect")
def redirect():
    bottle.redirect("/i/target")


@app.get("/status/<code:int>")
def status(code):
    bottle.response.status = code
    return "body of %d" % code


HERE = os.path.dirname(os.path.abspath(__file__))


@app.get("/file")
def file():
    # Range, If-Modified-Since and HEAD as Bottle answers them
    return bottle.static_file("diffflask_file.txt", root=HERE, mimetype="text/plain")


@app.get("/stream/error")
def stream_error():
    def gen():
        yield b"first\n"
        raise RuntimeError("mid-stream")

    return gen()
