"""The Pyramid app of the frameworks differential (diffframeworks_test.go):
the views answer what Pyramid computed of the request, as JSON."""

import os

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPFound, exception_response
from pyramid.response import FileResponse, Response

HERE = os.path.dirname(os.path.abspath(__file__))


def info(request, **extra):
    out = {
        "method": request.method,
        "path": request.path,
        "path_info": request.path_info,
        "script_name": request.script_name,
        "url": request.url,
        "query": {k: request.GET.getall(k) for k in sorted(request.GET.keys())},
        "cookies": {k: request.cookies[k] for k in sorted(request.cookies.keys())},
        "content_length": request.content_length,
        "content_type": request.content_type,
        "host": request.host,
        "remote_addr": request.remote_addr,
        "route": request.matched_route.pattern if request.matched_route else None,
        "matchdict": {k: "/".join(v) if isinstance(v, tuple) else v for k, v in (request.matchdict or {}).items()},
    }
    out.update(extra)
    return out


def echo(request):
    return info(request)


def form(request):
    files = {}
    fields = {}
    for k, v in request.POST.items():
        if hasattr(v, "file"):
            files.setdefault(k, []).append([v.filename, len(v.file.read())])
        else:
            fields.setdefault(k, []).append(v)
    return info(request, form=fields, files=files)


def post_json(request):
    return info(request, json=request.json_body)


def data(request):
    body = request.body_file.read()
    return info(request, length=len(body), head=body[:40].decode("latin-1"))


def stream(request):
    n = int(request.GET.get("n", "3"))
    r = Response(content_type="text/plain")
    r.app_iter = (("chunk %d\n" % i).encode() for i in range(n))
    return r


def set_cookies(request):
    r = request.response
    r.set_cookie("a", "1", path="/")
    r.set_cookie("b", "two words", max_age=60, httponly=True)
    return info(request)


def abort(request):
    code = int(request.matchdict["code"])
    raise exception_response(code, detail="aborted with %d" % code)


def boom(request):
    raise RuntimeError("boom")


def redirect(request):
    raise HTTPFound(location="/i/target")


def status(request):
    code = int(request.matchdict["code"])
    return Response("body of %d" % code, status=code)


def file(request):
    # wsgi.file_wrapper, and Range and conditional requests (webob)
    r = FileResponse(os.path.join(HERE, "diffflask_file.txt"), request=request, content_type="text/plain")
    r.conditional_response = True
    return r


def stream_error(request):
    def gen():
        yield b"first\n"
        raise RuntimeError("mid-stream")

    r = Response(content_type="text/plain")
    r.app_iter = gen()
    return r


def make():
    with Configurator() as config:
        views = [
            ("echo", "/i/*rest", echo, {"renderer": "json"}),
            ("item", "/items/{n:[0-9]+}", echo, {"renderer": "json", "request_method": "GET"}),
            ("regex", "/re/{code:[a-z]{2}}/{f}", echo, {"renderer": "json"}),
            ("form", "/form", form, {"renderer": "json", "request_method": "POST"}),
            ("json", "/json", post_json, {"renderer": "json", "request_method": "POST"}),
            ("data", "/data", data, {"renderer": "json", "request_method": "POST"}),
            ("stream", "/stream", stream, {}),
            ("cookies", "/cookies/set", set_cookies, {"renderer": "json"}),
            ("abort", "/abort/{code:[0-9]+}", abort, {}),
            ("boom", "/boom", boom, {}),
            ("redirect", "/redirect", redirect, {}),
            ("status", "/status/{code:[0-9]+}", status, {}),
            ("file", "/file", file, {}),
            ("stream_error", "/stream/error", stream_error, {}),
        ]
        for name, pattern, view, kw in views:
            config.add_route(name, pattern)
            config.add_view(view, route_name=name, **kw)
        return config.make_wsgi_app()


app = make()
