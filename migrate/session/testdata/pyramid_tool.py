"""The Pyramid side of migrate/session's tests: mints session cookies with
Pyramid's own SignedCookieSessionFactory (through a real request to a
Pyramid app) and opens cookies that Go wrote, with the same factory.

Reads one JSON request on stdin, writes one JSON list of results:

  {"op": "mint", "factory": {SignedCookieSessionFactory kwargs, "pickle": bool},
   "cases": [{"expr": PYTHON_EXPR, "at": UNIX_TIME}]}
      -> [{"cookie": VALUE, "set_cookie": SET_COOKIE_HEADER}]
  {"op": "open", "factory": {...}, "at": UNIX_TIME,
   "cases": [{"cookie": VALUE} or {"header": COOKIE_HEADER}
             or {"cookie": VALUE, "direct": true}]}
      -> [{"new": BOOL, "session": DICT, "accessed": T, "created": T}]

accessed is the cookie's (session.renewed: reading the session sets
session.accessed to now). A COOKIE_HEADER is its bytes as latin-1 text, as
in a WSGI environ; with direct, the factory gets VALUE as the session
cookie's value, with no Cookie header parsed.
  {"op": "cookie", "cases": [{"header": COOKIE_HEADER, "name": N}]}
      -> [{"found": BOOL, "value": V} or {"error": EXCEPTION_NAME}]

A cookie that Pyramid rejects (bad signature, not JSON) is a new session
("new": true, an empty dict); one past its timeout is an old session
("new": false) that Pyramid emptied.
"""
import json
import sys
from unittest import mock

from pyramid.config import Configurator
from pyramid.interfaces import ISessionFactory
from pyramid.request import Request
from pyramid.session import PickleSerializer, SignedCookieSessionFactory


def make_app(factory):
    kw = dict(factory)
    if kw.pop("pickle", False):
        kw["serializer"] = PickleSerializer()
    secret = kw.pop("secret")

    def set_view(request):
        request.session.update(eval(request.body.decode("utf-8")))
        return request.response

    def get_view(request):
        s = request.session
        request.response.json_body = {"new": s.new, "session": dict(s), "accessed": s.renewed,
                                      "created": s.created}
        return request.response

    with Configurator() as config:
        config.set_session_factory(SignedCookieSessionFactory(secret, **kw))
        config.add_route("set", "/set")
        config.add_view(set_view, route_name="set")
        config.add_route("get", "/get")
        config.add_view(get_view, route_name="get")
        return config.make_wsgi_app()


def mint(app, case):
    req = Request.blank("/set", method="POST", body=case["expr"].encode("utf-8"))
    with mock.patch("time.time", return_value=case["at"]):
        resp = req.get_response(app)
    sc = resp.headers["Set-Cookie"]
    value = sc.split(";", 1)[0].split("=", 1)[1]
    return {"cookie": value, "set_cookie": sc}


class CookieRequest:
    """What the session factory reads of a request: its cookies."""

    def __init__(self, cookies):
        self.cookies = cookies

    def add_response_callback(self, callback):
        pass  # reading the session reissues its cookie: no response here


def open_(app, at, case):
    if case.get("direct"):
        # The value as request.cookies has it, whatever webob's parsing
        # of a Cookie header would make of it.
        factory = app.registry.queryUtility(ISessionFactory)
        with mock.patch("time.time", return_value=at):
            s = factory(CookieRequest({"session": case["cookie"]}))
        return {"new": s.new, "session": dict.copy(s), "accessed": s.renewed, "created": s.created}
    header = case.get("header")
    if header is None:
        header = "session=" + case["cookie"]
    req = Request.blank("/get", headers={"Cookie": header})
    with mock.patch("time.time", return_value=at):
        resp = req.get_response(app)
    return resp.json_body


def main():
    req = json.load(sys.stdin)
    op = req["op"]
    out = []
    if op == "cookie":
        for c in req["cases"]:
            cookies = Request.blank("/", headers={"Cookie": c.get("header", "")}).cookies
            try:
                v = cookies.get(c["name"])
            except UnicodeDecodeError as exc:
                out.append({"error": type(exc).__name__})
                continue
            out.append({"found": v is not None, "value": v or ""})
    else:
        app = make_app(req["factory"])
        for c in req["cases"]:
            out.append(mint(app, c) if op == "mint" else open_(app, req["at"], c))
    json.dump(out, sys.stdout)


main()
