"""The Flask side of migrate/session's tests: mints session cookies with
Flask's own session interface (through a real request to a Flask app) and
opens cookies that Go wrote, with the same interface.

Reads one JSON request on stdin, writes one JSON list of results:

  {"op": "mint", "key": K, "fallbacks": [..], "max_age": S,
   "cases": [{"expr": PYTHON_EXPR, "at": UNIX_TIME_OR_NULL}]}
      -> [{"cookie": VALUE, "vary": VARY_HEADER}]
  {"op": "open", "key": K, "fallbacks": [..], "max_age": S,
   "cases": [{"cookie": VALUE, "expr": PYTHON_EXPR}]}
      -> [{"equal": BOOL, "repr": STR, "error": EXCEPTION_NAME_OR_NULL}]
  {"op": "open", ..., "cases": [{"header": COOKIE_HEADER, "expr": PYTHON_EXPR}]}
      -> [{"equal": BOOL, "repr": STR, "error": null}]
  {"op": "clear", "key": K, "cases": [{"cookie": VALUE}]}
      -> [{"set_cookie": [SET_COOKIE_HEADER, ...], "vary": VARY_HEADER}]
  {"op": "cookie", "key": K, "cases": [{"header": COOKIE_HEADER, "name": N}]}
      -> [{"found": BOOL, "value": V}]

header is a raw Cookie header: open opens the session Flask finds in it,
cookie answers the value request.cookies.get(name) returns.

With fallbacks, the app verifies with them too and signs with key, as
Flask 3.1's SECRET_KEY_FALLBACKS does (the installed Flask may be older).
"""
import datetime
import json
import sys
import time
import uuid
from unittest import mock

from flask import Flask, request, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from markupsafe import Markup

from canon import canon

NS = {"uuid": uuid, "datetime": datetime, "timezone": datetime.timezone, "Markup": Markup}


def make_app(key, fallbacks, max_age):
    class Interface(SecureCookieSessionInterface):
        def get_signing_serializer(self, app):
            if not fallbacks:
                return super().get_signing_serializer(app)
            # Flask 3.1: itsdangerous signs with the last key and verifies
            # with all of them.
            return URLSafeTimedSerializer(
                [*fallbacks, app.secret_key], salt=self.salt, serializer=self.serializer,
                signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method})

    app = Flask("graft_session_test")
    app.secret_key = key
    app.permanent_session_lifetime = datetime.timedelta(seconds=max_age)
    app.session_interface = Interface()

    @app.post("/set")
    def set_session():
        session.update(eval(request.get_data(as_text=True), NS))
        return ""

    @app.post("/clear")
    def clear_session():
        session.clear()
        return ""

    return app


def clear(app, case):
    """The Set-Cookie header of a request that empties the session of
    case["cookie"]."""
    with app.test_client() as client:
        client.set_cookie("localhost", app.config["SESSION_COOKIE_NAME"], case["cookie"])
        resp = client.post("/clear")
    return {"set_cookie": resp.headers.getlist("Set-Cookie"), "vary": resp.headers.get("Vary")}


def mint(app, case):
    with app.test_client() as client:
        if case.get("at"):
            with mock.patch("time.time", return_value=float(case["at"])):
                resp = client.post("/set", data=case["expr"])
        else:
            resp = client.post("/set", data=case["expr"])
    for header in resp.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        if name == app.config["SESSION_COOKIE_NAME"]:
            return {"cookie": rest.split(";")[0], "vary": resp.headers.get("Vary")}
    raise SystemExit("no session cookie set: %r" % resp.headers)


def wsgi_str(header):
    """The header (Go's bytes, UTF-8) as a WSGI environ holds it: latin-1."""
    return header.encode("utf-8").decode("latin-1")


def open_(app, case, max_age):
    cookie = case.get("cookie", "")
    header = wsgi_str(case.get("header") or "session=" + cookie)
    with app.test_request_context("/", headers={"Cookie": header}):
        s = dict(app.session_interface.open_session(app, request))
        error = None
        try:
            if not case.get("header"):
                app.session_interface.get_signing_serializer(app).loads(cookie, max_age=max_age)
        except Exception as e:  # noqa: BLE001 - the test wants the class
            error = type(e).__name__
    want = eval(case["expr"], NS)
    return {"equal": canon(s) == canon(want), "repr": repr(s), "error": error}


def main():
    req = json.load(sys.stdin)
    app = make_app(req["key"], req.get("fallbacks") or [], req.get("max_age", 31 * 86400))
    if req["op"] == "mint":
        out = [mint(app, c) for c in req["cases"]]
    elif req["op"] == "open":
        out = [open_(app, c, req.get("max_age", 31 * 86400)) for c in req["cases"]]
    elif req["op"] == "clear":
        out = [clear(app, c) for c in req["cases"]]
    elif req["op"] == "cookie":
        out = []
        for c in req["cases"]:
            with app.test_request_context("/", headers={"Cookie": wsgi_str(c["header"])}):
                out.append({"found": c["name"] in request.cookies, "value": request.cookies.get(c["name"], "")})
    else:
        raise SystemExit("unknown op %r" % req["op"])
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    sys.path.insert(0, "")
    main()
