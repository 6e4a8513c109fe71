"""A Flask app that logs while it serves requests (TestRequestIDLog).

GET /log?tag=T logs "view-marker T" with app.logger and "module-marker T"
with logging.getLogger(__name__), in the thread that serves the request,
then has a thread of its own log "thread-marker T" (and waits for it).
With ?meet=N, the view first waits (up to 10 s) until N requests are in
their views at once, so that they are served concurrently by a worker's
threads. The import logs "import-marker", outside of any request.

GET /print?tag=T prints (TestRequestIDStdio), in the thread that serves
the request: "print-marker T" with print, "stderr-marker T" to
sys.stderr, "partial-marker T" in two writes, the traceback of a
ValueError("tb-marker T") with traceback.print_exc; then a thread of its
own prints "thread-print-marker T". The import prints
"import-print-marker".

identity is an identity hook (TestRequestIDIdentityHook): it prints
"identity-print-marker T" and logs "identity-log-marker T", T the
request's X-Tag header, and answers None.
"""

import logging
import sys
import threading
import traceback

from flask import Flask, request

logging.getLogger(__name__).warning("import-marker")
print("import-print-marker")

app = Flask(__name__)

_barriers = {}
_lock = threading.Lock()


def meet(n):
    """Wait until n requests call meet(n) at once."""
    with _lock:
        barrier = _barriers.get(n)
        if barrier is None:
            barrier = _barriers[n] = threading.Barrier(n)
    barrier.wait(timeout=10)


@app.get("/log")
def log():
    tag = request.args["tag"]
    meet_n = int(request.args.get("meet", "1"))
    if meet_n > 1:
        meet(meet_n)
    app.logger.warning("view-marker %s", tag)
    logging.getLogger(__name__).warning("module-marker %s", tag)
    t = threading.Thread(target=lambda: logging.getLogger(__name__).warning("thread-marker %s", tag))
    t.start()
    t.join()
    return "logged " + tag


@app.get("/print")
def print_view():
    tag = request.args["tag"]
    meet_n = int(request.args.get("meet", "1"))
    if meet_n > 1:
        meet(meet_n)
    print("print-marker %s" % tag)
    sys.stderr.write("stderr-marker %s\n" % tag)
    sys.stdout.write("partial-marker ")
    sys.stdout.write(tag + "\n")
    try:
        raise ValueError("tb-marker %s" % tag)
    except ValueError:
        traceback.print_exc()
    t = threading.Thread(target=lambda: print("thread-print-marker %s" % tag))
    t.start()
    t.join()
    return "printed " + tag


def identity(environ):
    tag = environ.get("HTTP_X_TAG", "")
    print("identity-print-marker %s" % tag)
    logging.getLogger(__name__).warning("identity-log-marker %s", tag)
    return None
