"""A Flask app for the route-map and identity tests: blueprints,
converters of every kind, and the same app behind common WSGI wrappers."""

import json

from flask import Blueprint, Flask, jsonify, request, session
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import BaseConverter


class ColorConverter(BaseConverter):
    regex = "(?:red|green)"


app = Flask(__name__)
app.secret_key = "graft-routemap-test-secret"
app.url_map.converters["color"] = ColorConverter


@app.route("/")
def index():
    return "index"


@app.route("/items/<int:item_id>")
def item(item_id):
    return jsonify(item=item_id)


@app.route("/items/<int:item_id>", methods=["PUT", "DELETE"])
def item_write(item_id):
    return jsonify(item=item_id, method=request.method)


@app.route("/users/<name>/")
def user(name):
    return name


@app.route("/files/<path:p>")
def files(p):
    return p


@app.route("/u/<uuid:u>")
def by_uuid(u):
    return str(u)


@app.route("/price/<float:f>")
def price(f):
    return str(f)


@app.route("/delta/<int(signed=True):d>")
def delta(d):
    return str(d)


@app.route("/page/<int(min=1):n>")
def page(n):
    return str(n)


@app.route("/lang/<any(en, fr):lang>/home")
def lang(lang):
    return lang


@app.route("/code/<string(length=2):code>")
def code(code):
    return code


@app.route("/paint/<color:c>")
def paint(c):
    return c


@app.route("/tree/<path:p>/leaf")
def leaf(p):
    return p


# A parameter followed by text it may hold: werkzeug backtracks
# (/dot/a.b.json is name "a.b"), chi would end the value at the first
# "." (or "-"), so these are untranslatable; /v/<int:n>.json is exact.
@app.route("/dot/<name>.json")
def dot(name):
    return name


@app.route("/pair/<x>.<y>")
def pair(x, y):
    return x + "|" + y


@app.route("/post/<slug>-<int:n>")
def post(slug, n):
    return slug


@app.route("/v/<int:n>.json")
def version_json(n):
    return str(n)


# strict_slashes=False: each also serves the other slash form, with no
# redirect (Alternate).
@app.route("/loose/", strict_slashes=False)
def loose():
    return "loose"


@app.route("/loose/<int:n>", strict_slashes=False)
def loose_n(n):
    return str(n)


# build_only: url_for("cdn", p=...) builds its URL, Flask never serves it
# (a 404): not a route of the app.
app.add_url_rule("/cdn/<path:p>", endpoint="cdn", build_only=True)


@app.route("/login", methods=["POST"])
def login():
    session["user"] = request.form["user"]
    session["_user_id"] = request.form.get("id", "1")  # where flask-login keeps it
    if "num" in request.form:  # a number in the session, as Python's json writes it
        session["num"] = json.loads(request.form["num"])
    return "ok"


@app.route("/logout", methods=["POST"])
def logout():
    session.clear()
    return "ok"


shop = Blueprint("shop", __name__, url_prefix="/shop")


@shop.route("/")
def shop_index():
    return "shop"


@shop.route("/cart/<int:line>", methods=["GET", "POST"])
def cart_line(line):
    return str(line)


app.register_blueprint(shop)

api = Flask("api")


@api.route("/v1/ping")
def ping():
    return "pong"


def plain(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"not a framework"]


# The same app behind wrappers, as deployments have it.
proxied = ProxyFix(app, x_for=1)
dispatched = DispatcherMiddleware(app, {"/api": api})


def _closure_wrapper(inner):
    def wsgi(environ, start_response):
        return inner(environ, start_response)

    return wsgi


closure = _closure_wrapper(proxied)
wsgi_app_chain = app.wsgi_app  # a bound method of the Flask app


def _whitenoise():
    try:
        from whitenoise import WhiteNoise
    except ImportError:
        return None
    return WhiteNoise(app)


whitenoised = _whitenoise()


def broken_hook(environ):
    raise RuntimeError("the hook is broken on purpose")


def bad_value_hook(environ):
    return {"when": object()}


class Unprintable(Exception):
    """An exception whose __str__ and __repr__ raise."""

    def __str__(self):
        raise RuntimeError("str-raises-marker")

    __repr__ = __str__


def unprintable_hook(environ):
    raise Unprintable()


class _BadRepr:
    def __repr__(self):
        raise RuntimeError("repr-raises-marker")


def unprintable_value_hook(environ):
    """A value that is not JSON, whose __repr__ raises."""
    return {"when": _BadRepr()}


class AttrRaising(Exception):
    """An exception whose __getattr__ raises (see apps.AttrRaisingError)."""

    def __getattr__(self, name):
        raise RuntimeError("getattr-raises-marker")


def getattr_hook(environ):
    raise AttrRaising("attr-raising-message")


def list_hook(environ):
    return ["not", "a", "dict"]


def session_hook(environ):
    """An identity hook of the app's own: the session's user, as its views
    read it (None without one)."""
    with app.request_context(environ) as ctx:
        if "user" not in ctx.session:
            return None
        return {"user_id": ctx.session.get("_user_id"), "user": ctx.session["user"]}


def echo_hook(environ):
    return {"cookie": environ.get("HTTP_COOKIE", ""), "path": environ.get("PATH_INFO", "")}


def exit_hook(environ):
    import os

    os._exit(1)


PEP3333_KEYS = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME", "SERVER_PORT",
                "SERVER_PROTOCOL", "wsgi.version", "wsgi.url_scheme", "wsgi.input", "wsgi.errors",
                "wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once")


def pep3333_hook(environ):
    """The keys PEP 3333 requires that the environ lacks; writes a line to
    its wsgi.errors."""
    environ["wsgi.errors"].write("the hook writes to wsgi.errors\n")
    return {"missing": [k for k in PEP3333_KEYS if k not in environ]}


def sysexit_hook(environ):
    raise SystemExit(3)


def slow_hook(environ):
    import time

    time.sleep(30)
