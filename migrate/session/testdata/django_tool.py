"""The Django side of migrate/session's tests: signs values and sessions
with django.core.signing and the session backends, verifies what Go
wrote with them, and posts Go's CSRF tokens through CsrfViewMiddleware.

Reads one JSON request on stdin, writes one JSON list of results:

  {"op": "dumps", "key": K, "cases": [{"expr", "salt", "compress",
   "algorithm", "at", "key", "untimed"}]}        -> [{"value": V}]
  {"op": "loads", "key": K, "cases": [{"value", "salt", "max_age", "expr",
   "key", "untimed"}]}                        -> [{"equal", "repr", "error"}]
  {"op": "session_mint" | "stored_mint", "key": K, "cases": [{"expr", "at"}]}
                                                 -> [{"value": V}]
  {"op": "session_open" | "stored_open", "key": K, "cases": [{"value",
   "expr"}]}                       -> [{"equal", "repr"}]
  {"op": "csrf", "key": K, "cases": [{"cookie", "header", "token"}]}
                                   -> [{"status": CODE, "body": TEXT}]
  {"op": "csrf_check", "key": K, "cases": [{"method", "secure", "host",
   "referer", "cookie", "content_type", "body", "headers"}]}
                                   -> [{"status": CODE, "body": REASON}]
                                      (500 when Django fails the request)
  {"op": "csrf_get", "key": K, "cases": [{"header"}]}
                                   -> [{"value": SET_COOKIE_HEADERS,
                                        "vary": VARY, "body": TOKEN}]
  {"op": "session_header", "key": K, "cases": [{"header", "expr"}]}
                                   -> [{"equal", "repr"}]
  {"op": "cookie", "key": K, "cases": [{"header", "name"}]}
                                   -> [{"found": BOOL, "value": V}]

"settings" (optional) adds Django settings, e.g.
{"DEFAULT_HASHING_ALGORITHM": "sha1"}, or replaces the defaults (the
signed-cookies SESSION_ENGINE). "rows" (optional), {session_key:
session_data}, sets up an in-memory SQLite database whose django_session
table holds them, for SESSION_ENGINE "django.contrib.sessions.backends.db".

header is a raw Cookie header: csrf sends it instead of the cookie,
session_header opens the session SessionMiddleware finds in it, cookie
answers the value request.COOKIES holds for name.

untimed uses signing.Signer (no timestamp) instead of TimestampSigner;
session_* use the signed_cookies backend (SESSION_COOKIE_AGE max_age
applies), stored_* the database backend's encode/decode.
"""
import datetime
import json
import sys
import uuid
from unittest import mock

import django
from django.conf import settings

from canon import canon

NS = {"uuid": uuid, "datetime": datetime}


def csrf_failure(request, reason=""):
    from django.http import HttpResponseForbidden
    return HttpResponseForbidden(reason)


def token_view(request):
    from django.http import HttpResponse
    from django.middleware.csrf import get_token
    return HttpResponse(get_token(request))


def form_view(request):
    from django.http import HttpResponse
    return HttpResponse("ok: " + request.POST.get("msg", ""))


urlpatterns = []


def setup(key, extra, rows):
    conf = dict(
        SECRET_KEY=key,
        DEBUG=False,
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions"],
        DATABASES={},
        SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
        ],
        ROOT_URLCONF=__name__,
        CSRF_FAILURE_VIEW=__name__ + ".csrf_failure",
        USE_TZ=True,
    )
    conf.update(extra)
    if rows is not None:
        conf["DATABASES"] = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
    settings.configure(**conf)
    django.setup()
    from django.urls import path
    urlpatterns.append(path("form/", form_view))
    urlpatterns.append(path("token/", token_view))
    if rows is not None:
        # The database backend's table, holding the session_data Go wrote
        # under each key, unexpired.
        from django.contrib.sessions.models import Session
        from django.db import connection
        from django.utils import timezone
        with connection.schema_editor() as editor:
            editor.create_model(Session)
        for k, data in rows.items():
            Session.objects.create(session_key=k, session_data=data,
                                   expire_date=timezone.now() + datetime.timedelta(days=1))


def wsgi_str(header):
    """The header (Go's bytes, UTF-8) as a WSGI environ holds it: latin-1."""
    return header.encode("utf-8").decode("latin-1")


def at(case):
    if case.get("at"):
        return mock.patch("time.time", return_value=float(case["at"]))
    return mock.patch.dict({})  # no-op context


def run(op, case):
    from django.core import signing
    from django.contrib.sessions.backends import db, signed_cookies
    if op == "dumps":
        cls = signing.Signer if case.get("untimed") else signing.TimestampSigner
        signer = cls(case.get("key"), salt=case["salt"], algorithm=case.get("algorithm"))
        with at(case):
            return {"value": signer.sign_object(eval(case["expr"], NS), compress=case.get("compress", False))}
    if op == "loads":
        want = eval(case["expr"], NS)
        try:
            if case.get("untimed"):
                got = signing.Signer(case.get("key"), salt=case["salt"]).unsign_object(case["value"])
            else:
                got = signing.loads(case["value"], key=case.get("key"), salt=case["salt"], max_age=case.get("max_age"))
        except Exception as e:  # noqa: BLE001 - the test wants the class
            return {"equal": False, "repr": "", "error": type(e).__name__}
        return {"equal": canon(got) == canon(want), "repr": repr(got), "error": None}
    if op == "session_mint":
        s = signed_cookies.SessionStore()
        s.update(eval(case["expr"], NS))
        with at(case):
            s.save()
        return {"value": s.session_key}
    if op == "stored_mint":
        return {"value": db.SessionStore().encode(eval(case["expr"], NS))}
    if op in ("session_open", "stored_open"):
        if op == "session_open":
            got = signed_cookies.SessionStore(session_key=case["value"]).load()
        else:
            got = db.SessionStore().decode(case["value"])
        want = eval(case["expr"], NS)
        return {"equal": canon(got) == canon(want), "repr": repr(got)}
    if op == "csrf":
        from django.test import Client
        client = Client(enforce_csrf_checks=True)
        if case.get("cookie"):
            client.cookies["csrftoken"] = case["cookie"]
        extra = {"HTTP_COOKIE": wsgi_str(case["header"])} if case.get("header") else {}
        data = {"msg": "hello"}
        if case.get("token") is not None:
            data["csrfmiddlewaretoken"] = case["token"]
        resp = client.post("/form/", data, **extra)
        return {"status": resp.status_code, "body": resp.content.decode()[:200]}
    if op == "csrf_get":
        # A page that renders {% csrf_token %} (get_token), requested with
        # the raw Cookie header: the Set-Cookie lines of the answer.
        from django.test import Client
        extra = {"HTTP_COOKIE": wsgi_str(case["header"])} if case.get("header") else {}
        resp = Client().get("/token/", **extra)
        return {"value": "\n".join(c.output(header="").strip() for c in resp.cookies.values()),
                "vary": resp.get("Vary", ""), "body": resp.content.decode()}
    if op == "csrf_check":
        # One request as Go's test builds it, through CsrfViewMiddleware:
        # 200 "ok: ..." when accepted, 403 with Django's reason otherwise.
        from django.test import Client
        extra = {"HTTP_" + k.upper().replace("-", "_"): wsgi_str(v) for k, v in (case.get("headers") or {}).items()}
        if case.get("cookie"):
            extra["HTTP_COOKIE"] = wsgi_str(case["cookie"])
        if case.get("referer") is not None:
            extra["HTTP_REFERER"] = wsgi_str(case["referer"])
        host = case.get("host") or "testserver"
        if ":" in host:  # graft's SERVER_PORT is the Host's port
            extra["SERVER_PORT"] = host.rsplit(":", 1)[1]
        try:
            resp = Client(enforce_csrf_checks=True, HTTP_HOST=host).generic(
                case["method"], "/form/", (case.get("body") or "").encode("utf-8"),
                content_type=case.get("content_type") or "application/octet-stream",
                secure=bool(case.get("secure")), **extra)
        except Exception as e:  # noqa: BLE001 - Django fails the request: a server error
            return {"status": 500, "body": type(e).__name__}
        return {"status": resp.status_code, "body": resp.content.decode()[:200]}
    if op == "session_header":
        from django.contrib.sessions.middleware import SessionMiddleware
        from django.test import RequestFactory
        request = RequestFactory().get("/", HTTP_COOKIE=wsgi_str(case["header"]))
        SessionMiddleware(lambda r: None).process_request(request)
        got = dict(request.session.items())
        return {"equal": canon(got) == canon(eval(case["expr"], NS)), "repr": repr(got)}
    if op == "cookie":
        from django.test import RequestFactory
        cookies = RequestFactory().get("/", HTTP_COOKIE=wsgi_str(case["header"])).COOKIES
        return {"found": case["name"] in cookies, "value": cookies.get(case["name"], "")}
    raise SystemExit("unknown op %r" % op)


def main():
    req = json.load(sys.stdin)
    setup(req["key"], req.get("settings") or {}, req.get("rows"))
    json.dump([run(req["op"], c) for c in req["cases"]], sys.stdout)


if __name__ == "__main__":
    main()
