"""An app that opens a per-process resource at import (as a database pool
does) and re-opens it in each forked worker with os.register_at_fork, the
equivalent of gunicorn's post_fork hook: it answers "ok" when the resource
belongs to the process serving the request, "stale" when it was inherited."""

import os


def _open():
    return {"pid": os.getpid()}


RESOURCE = _open()


def _reopen():
    global RESOURCE
    RESOURCE = _open()


os.register_at_fork(after_in_child=_reopen)


def app(environ, start_response):
    body = b"ok" if RESOURCE["pid"] == os.getpid() else b"stale"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
