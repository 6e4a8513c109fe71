"""The "legacy" Python app of the hybrid example: plain WSGI, standard library only.

It stands for the Python app a team is moving to Go. Go already serves
/api/health and /api/users/{id}; this app still serves everything else,
including the old implementation of GET /api/users/{id} and
/api/hello/{name}, which answer when the migration stages (-stages) send
those routes to Python or compare them with Go.
"""

import html
import json
import time
from urllib.parse import parse_qs, quote


def _page(start_response, status, body, ctype="text/html; charset=utf-8"):
    data = body.encode("utf-8")
    start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(data)))])
    return [data]


def index(environ, start_response):
    root = environ.get("SCRIPT_NAME", "")
    rid = environ.get("graft.request_id", "")
    body = f"""<!doctype html>
<title>graft hybrid example</title>
<h1>Served by Python</h1>
<p>This page comes from the WSGI app (worker pid {environ.get("graft.worker_pid")}),
request id <code>{html.escape(rid)}</code>.</p>
<ul>
<li><a href="/api/health">/api/health</a> (Go)</li>
<li><a href="/api/users/42">/api/users/42</a> (Go)</li>
<li><a href="{root}/hello?name=world">{root}/hello?name=world</a> (Python)</li>
<li><a href="{root}/environ">{root}/environ</a> (Python: the WSGI environ as JSON)</li>
</ul>
<form method="post" action="{root}/echo"><input name="msg" value="héllo"><button>POST to Python</button></form>
"""
    return _page(start_response, "200 OK", body)


def hello(environ, start_response):
    q = parse_qs(environ.get("QUERY_STRING", ""))
    name = q.get("name", ["world"])[0]
    return _page(start_response, "200 OK", f"<p>Hello, {html.escape(name)}, from Python.</p>\n")


def echo(environ, start_response):
    if environ["REQUEST_METHOD"] != "POST":
        start_response("405 Method Not Allowed", [("Allow", "POST"), ("Content-Type", "text/plain")])
        return [b"POST only\n"]
    n = int(environ.get("CONTENT_LENGTH") or 0)
    form = parse_qs(environ["wsgi.input"].read(n).decode("utf-8"))
    return _page(start_response, "200 OK", json.dumps(form, ensure_ascii=False) + "\n", "application/json")


def show_environ(environ, start_response):
    keys = {k: v for k, v in environ.items() if isinstance(v, (str, int, bool))}
    return _page(start_response, "200 OK", json.dumps(keys, indent=1, sort_keys=True) + "\n", "application/json")


def users(environ, start_response):
    method = environ["REQUEST_METHOD"]
    user_id = environ["PATH_INFO"][len("/api/users/"):]
    if method == "GET" and "/" not in user_id:
        return show_user(environ, start_response, user_id)
    # Go serves GET /api/users/{id}; the other methods still land here.
    return _page(start_response, "200 OK",
                 json.dumps({"served_by": "python", "method": method, "path": environ["PATH_INFO"]}) + "\n",
                 "application/json")


def show_user(environ, start_response, user_id):
    # The old implementation of GET /api/users/{id}, which Go's replaces.
    # Two differences with Go's answer show up when the route is in the
    # shadow stage: the id is a number here and a string in Go (a real
    # difference to fix), and generated_at changes on every call (noise,
    # which the comparison learns by calling Python twice).
    if not user_id.isdigit():
        return _page(start_response, "404 Not Found", json.dumps({"error": "no such user"}) + "\n", "application/json")
    body = {
        "id": int(user_id),
        "served_by": "python",
        "request_id": environ.get("graft.request_id", ""),
        "generated_at": time.time(),
    }
    return _page(start_response, "200 OK", json.dumps(body) + "\n", "application/json")


def hello_api(environ, start_response):
    # The old implementation of GET /api/hello/{name}: the same answer as
    # Go's, so that a canary with reverse shadow matches. X-Served-By says
    # which side answered (Go does not set it).
    # PEP 3333: PATH_INFO holds the path's bytes decoded as latin-1.
    name = environ["PATH_INFO"][len("/api/hello/"):].encode("latin-1").decode("utf-8", "replace")
    body = json.dumps({"hello": name, "self": "/api/hello/" + quote(name, safe="")}) + "\n"
    data = body.encode("utf-8")
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                              ("X-Served-By", "python")])
    return [data]


ROUTES = {"/": index, "/hello": hello, "/echo": echo, "/environ": show_environ}


def app(environ, start_response):
    path = environ.get("PATH_INFO") or "/"
    view = ROUTES.get(path)
    if view is None and path.startswith("/api/users/"):
        view = users
    if view is None and path.startswith("/api/hello/") and "/" not in path[len("/api/hello/"):]:
        view = hello_api
    if view is None:
        return _page(start_response, "404 Not Found", "<p>Not found (said Python).</p>\n")
    return view(environ, start_response)
